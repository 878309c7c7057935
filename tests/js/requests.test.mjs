import assert from "node:assert/strict";
import { test } from "node:test";

import { DIGIT_MODE, NUMBER_MODE, modesFor } from "../../static/js/modes.js";
import {
  correctionOptions, createPredictionRequests, errorMessage, fetchModelInfo, forgetWriter, postCorrection,
  predictionOptions, readJson, settledWithin, understood,
} from "../../static/js/requests.js";

const MODES = modesFor(3);
const drawing = (overrides = {}) => ({
  image: "data:image/png;base64,AAAA", copy: null, file: null, live: false, mode: DIGIT_MODE,
  ...overrides,
});
const json = (body, init = {}) => new Response(JSON.stringify(body), {
  status: 200, headers: { "Content-Type": "application/json" }, ...init,
});

test("a drawing is posted as JSON holding its data URL", () => {
  const options = predictionOptions(drawing());
  assert.deepEqual(options.headers, { "Content-Type": "application/json" });
  assert.equal(options.body, '{"image":"data:image/png;base64,AAAA"}');
});

test("a drawing's strokes go with its image; without strokes the body is the image alone", () => {
  const strokes = [[[10, 20, 0], [12.5, 22, 8.3]]];
  assert.deepEqual(JSON.parse(predictionOptions(drawing({ strokes })).body),
    { image: "data:image/png;base64,AAAA", strokes });
  assert.equal(predictionOptions(drawing({ strokes: null })).body, '{"image":"data:image/png;base64,AAAA"}');
});

test("an upload is posted as a form with the file alone", () => {
  const file = new Blob(["png bytes"], { type: "image/png" });
  const options = predictionOptions(drawing({ image: null, file }));
  assert.equal(options.headers, undefined);
  assert.deepEqual([...options.body.keys()], ["file"]);
});

test("a correction posts the image the answer was for, with the label and kind", () => {
  const options = correctionOptions({ image: "data:x", file: null }, { label: 7, kind: "right" });
  assert.deepEqual(JSON.parse(options.body), { image: "data:x", label: 7, kind: "right" });
  const file = new Blob(["png bytes"]);
  const form = correctionOptions({ image: null, file }, { label: 1, kind: "wrong" }).body;
  assert.deepEqual([...form.keys()], ["file", "label", "kind"]);
  assert.equal(form.get("label"), "1");
  assert.equal(form.get("kind"), "wrong");
});

test("a drawn digit's correction posts its strokes; an upload's form has none", () => {
  const strokes = [[[10, 20, 0]]];
  const options = correctionOptions({ image: "data:x", file: null, strokes }, { label: 7, kind: "right" });
  assert.deepEqual(JSON.parse(options.body), { image: "data:x", label: 7, kind: "right", strokes });
  const form = correctionOptions({ image: null, file: new Blob(["png"]), strokes: null }, { label: 1, kind: "wrong" });
  assert.deepEqual([...form.body.keys()], ["file", "label", "kind"]);
});

test("a body that is not JSON reads as null; an abort still throws", async () => {
  assert.deepEqual(await readJson(json({ digit: 3 })), { digit: 3 });
  assert.equal(await readJson(new Response("<html>")), null);
  const aborted = { json: () => Promise.reject(new DOMException("gone", "AbortError")) };
  await assert.rejects(readJson(aborted), { name: "AbortError" });
});

test("a failure shows the server's message, or else its HTTP status", () => {
  const response = { status: 429, statusText: "Too Many Requests" };
  assert.equal(errorMessage(response, { error: { message: "Slow down." } }, "Failed"), "Slow down.");
  assert.equal(errorMessage(response, null, "Failed"), "Failed (HTTP 429 Too Many Requests).");
  assert.equal(errorMessage({ status: 502, statusText: "" }, {}, "Failed"), "Failed (HTTP 502).");
});

test("an answer is understood when it has what its mode shows", () => {
  assert.equal(understood({ digit: null }, DIGIT_MODE), true);
  assert.equal(understood({ digits: [] }, DIGIT_MODE), false);
  assert.equal(understood(null, DIGIT_MODE), false);
  assert.equal(understood({ digits: [{ box: [1, 2, 3, 4] }] }, NUMBER_MODE), true);
  assert.equal(understood({ digits: [] }, NUMBER_MODE), true);
  assert.equal(understood({ digits: [{ box: [1, 2, 3] }] }, NUMBER_MODE), false);
  assert.equal(understood({ digit: 3 }, NUMBER_MODE), false);
});

test("settledWithin tells a promise that settles in time from one that does not", async () => {
  assert.equal(await settledWithin(Promise.resolve(), 50), true);
  assert.equal(await settledWithin(new Promise(() => {}), 10), false);
});

// A fetch whose answers the test gives, one request at a time, in any order.
function manualFetch() {
  const calls = [];
  const send = (url, options) => new Promise((resolve, reject) => {
    const call = { url, options, answer: resolve };
    options.signal.addEventListener("abort", () => {
      call.aborted = true;
      reject(new DOMException("aborted", "AbortError"));
    });
    calls.push(call);
  });
  return { calls, send };
}

function recorder(send, options = {}) {
  const events = [];
  const requests = createPredictionRequests({
    modes: MODES,
    asked: (asked) => events.push(["asked", asked.live]),
    answered: (answer, answeredDrawing) => events.push(["answered", answer, answeredDrawing.live]),
    failed: (failedDrawing, message) => events.push(["failed", message]),
    settled: (settledDrawing) => events.push(["settled", settledDrawing.live]),
    send,
    ...options,
  });
  return { requests, events };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

test("a request posts to its mode's URL and passes the answer on", async () => {
  const { calls, send } = manualFetch();
  const { requests, events } = recorder(send);
  const done = requests.request(drawing());
  await tick();
  assert.equal(calls[0].url, "/predict/");
  assert.equal(calls[0].options.method, "POST");
  assert.equal(requests.isBusy(), true);
  calls[0].answer(json({ digit: 3 }));
  await done;
  assert.deepEqual(events, [["asked", false], ["answered", { digit: 3 }, false], ["settled", false]]);
  assert.equal(requests.isBusy(), false);
});

test("a newer request aborts the older one, whose answer is never shown", async () => {
  const { calls, send } = manualFetch();
  const { requests, events } = recorder(send);
  const first = requests.request(drawing());
  await tick();
  const second = requests.request(drawing({ mode: NUMBER_MODE }));
  await tick();
  assert.equal(calls[0].aborted, true);
  assert.equal(calls[1].url, "/predict/number");
  calls[1].answer(json({ digits: [] }));
  await Promise.all([first, second]);
  assert.deepEqual(events.filter(([kind]) => kind !== "settled"),
    [["asked", false], ["asked", false], ["answered", { digits: [] }, false]]);
});

test("cancel drops the answer on its way, and says nothing of the abort", async () => {
  const { calls, send } = manualFetch();
  const { requests, events } = recorder(send);
  const done = requests.request(drawing());
  await tick();
  requests.cancel();
  await done;
  assert.equal(calls[0].aborted, true);
  assert.deepEqual(events, [["asked", false], ["settled", false]]);
});

test("the final request waits for a live one on its way instead of aborting it", async () => {
  const { calls, send } = manualFetch();
  const { requests, events } = recorder(send);
  const live = requests.request(drawing({ live: true }));
  await tick();
  const final = requests.request(drawing());
  await tick();
  assert.equal(calls.length, 1, "the final request waits");
  assert.equal(calls[0].aborted, undefined);
  calls[0].answer(json({ digit: 1 }));
  await live;
  await tick();
  assert.equal(calls.length, 2, "then goes");
  calls[1].answer(json({ digit: 7 }));
  await final;
  // The live answer came after the final request was made: it is dropped.
  assert.deepEqual(events, [
    ["asked", false], ["settled", true], ["answered", { digit: 7 }, false], ["settled", false],
  ]);
});

test("a live request stuck past the wait limit is aborted and the final one goes", async () => {
  const { calls, send } = manualFetch();
  const { requests, events } = recorder(send, { waitLimitMs: 20 });
  const live = requests.request(drawing({ live: true }));
  await tick();
  const final = requests.request(drawing());
  await new Promise((resolve) => setTimeout(resolve, 40));
  assert.equal(calls[0].aborted, true);
  assert.equal(calls.length, 2);
  calls[1].answer(json({ digit: 7 }));
  await Promise.all([live, final]);
  assert.deepEqual(events.filter(([kind]) => kind === "answered"), [["answered", { digit: 7 }, false]]);
});

test("failures say what went wrong: the server's error, an odd answer, no server", async () => {
  const said = async (fetchAnswer) => {
    const { requests, events } = recorder(fetchAnswer);
    await requests.request(drawing());
    return events.filter(([kind]) => kind === "failed").map(([, message]) => message);
  };
  assert.deepEqual(await said(async () => json({ error: { message: "Busy." } }, { status: 503 })),
    ["Busy."]);
  assert.deepEqual(await said(async () => new Response("oops", { status: 500, statusText: "Oops" })),
    ["The server could not read the digit (HTTP 500 Oops)."]);
  assert.deepEqual(await said(async () => json({ nothing: true })),
    ["The server sent an answer this page does not understand."]);
  assert.deepEqual(await said(async () => { throw new TypeError("offline"); }),
    ["Cannot reach the server. Check your connection and try again."]);
});

test("an answer that takes time to show is awaited, and may ask whether it is current", async () => {
  const { calls, send } = manualFetch();
  let isCurrentLater = null;
  let finishShowing;
  const requests = createPredictionRequests({
    modes: MODES,
    asked() {},
    answered: (answer, answeredDrawing, isCurrent) => new Promise((resolve) => {
      finishShowing = () => { isCurrentLater = isCurrent(); resolve(); };
    }),
    failed() {},
    settled() {},
    send,
  });
  const done = requests.request(drawing({ mode: NUMBER_MODE }));
  await tick();
  calls[0].answer(json({ digits: [] }));
  await tick();
  assert.equal(requests.isBusy(), true, "busy until the answer is shown");
  requests.cancel();
  finishShowing();
  await done;
  assert.equal(isCurrentLater, false);
});

test("a correction saved, refused, misunderstood or unsent", async () => {
  const answer = { image: "data:x", file: null };
  const choice = { label: 7, kind: "right" };
  const saved = await postCorrection(answer, choice, async (url, options) => {
    assert.equal(url, "/api/corrections");
    assert.equal(options.method, "POST");
    return json({ label: 7, stored: "created" });
  });
  assert.deepEqual(saved, { problem: null, reply: { label: 7, stored: "created" } });
  const refused = await postCorrection(answer, choice,
    async () => json({ error: { message: "No." } }, { status: 400 }));
  assert.equal(refused.problem, "No.");
  const odd = await postCorrection(answer, choice, async () => json({ ok: true }));
  assert.match(odd.problem, /does not understand; the correction may not have been saved/);
  const unsent = await postCorrection(answer, choice, async () => { throw new TypeError(); });
  assert.match(unsent.problem, /^Cannot reach the server, so the correction was not saved/);
});

test("the model's info is read from /api/model, or null when it cannot be had", async () => {
  assert.deepEqual(await fetchModelInfo(async (url) => {
    assert.equal(url, "/api/model");
    return json({ version: "v2" });
  }), { version: "v2" });
  assert.equal(await fetchModelInfo(async () => json({}, { status: 503 })), null);
  assert.equal(await fetchModelInfo(async () => { throw new TypeError(); }), null);
  assert.equal(await fetchModelInfo(async () => new Response("not json")), null);
});

test("forget my handwriting sends DELETE /api/writer and says what was deleted, or why not", async () => {
  const done = await forgetWriter(async (url, options) => {
    assert.equal(url, "/api/writer");
    assert.equal(options.method, "DELETE");
    return json({ forgotten: true, corrections_deleted: 3 });
  });
  assert.deepEqual(done, { problem: null, reply: { forgotten: true, corrections_deleted: 3 } });
  const refused = await forgetWriter(async () => json({ error: { message: "Refused: another site." } }, { status: 403 }));
  assert.equal(refused.problem, "Refused: another site.");
  const down = await forgetWriter(async () => new Response("", { status: 503, statusText: "Service Unavailable" }));
  assert.equal(down.problem, "Your handwriting was not forgotten (HTTP 503 Service Unavailable).");
  const unsent = await forgetWriter(async () => { throw new TypeError(); });
  assert.match(unsent.problem, /^Cannot reach the server, so nothing was forgotten/);
});
