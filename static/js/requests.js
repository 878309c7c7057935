// Asking the server: the prediction requests (only the newest one's answer is shown), the
// correction posts and /api/model, with what each failure says. No DOM here, so node's tests
// import it; the page's `fetch` is looked up at each call, so one replaced later is used.

import { DIGIT_MODE } from "./modes.js";

export const CORRECTIONS_URL = "/api/corrections";
export const MODEL_INFO_URL = "/api/model";
export const WRITER_URL = "/api/writer";
// How long the final request waits for a live one still on its way: a live answer takes
// milliseconds, or a round trip on a slow phone network; one that has not come in a second is
// stuck, and is aborted so that the final request can go.
export const LIVE_ANSWER_WAIT_LIMIT_MS = 1000;

const UNREACHABLE = "Cannot reach the server. Check your connection and try again.";
const NOT_UNDERSTOOD = "The server sent an answer this page does not understand.";

const fetchNow = (url, options) => fetch(url, options);

// A drawing or an upload to ask about: { image, copy, strokes, file, live, mode } (image: the
// drawing's data URL, copy: the canvas it was made from, strokes: those it was drawn with, in the
// image's pixels (strokes.js; null or absent where there are none to send), file: the uploaded
// file, live: asked while the pen is still down, mode: the mode it was asked in).
export function predictionOptions(drawing) {
  if (drawing.file !== null) {
    const form = new FormData();
    form.append("file", drawing.file);
    return { body: form };
  }
  return {
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(withStrokes({ image: drawing.image }, drawing.strokes)),
  };
}

// The body with its strokes where there are some: without, it is the image alone, as it always was.
function withStrokes(body, strokes) {
  return Array.isArray(strokes) ? { ...body, strokes } : body;
}

// The image posted is the very one the shown answer was given for (the data URL the final
// /predict/ request sent, or the uploaded file), never a new rendering of the canvas: the
// server knows a drawing again by its bytes. A drawing's strokes go with it; an upload has none.
export function correctionOptions(answer, choice) {
  if (answer.file !== null) {
    const form = new FormData();
    form.append("file", answer.file);
    form.append("label", String(choice.label));
    form.append("kind", choice.kind);
    return { body: form };
  }
  return {
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(withStrokes(
      { image: answer.image, label: choice.label, kind: choice.kind }, answer.strokes,
    )),
  };
}

// The body's JSON, or null where it is not JSON; an aborted request still throws.
export async function readJson(response) {
  try {
    return await response.json();
  } catch (error) {
    if (error.name === "AbortError") {
      throw error;
    }
    return null;
  }
}

// The server's own message for a failed request where it sent one, else its HTTP status.
export function errorMessage(response, answer, failure) {
  const message = answer && answer.error && answer.error.message;
  if (message) {
    return message;
  }
  const status = `${response.status} ${response.statusText}`.trim();
  return `${failure} (HTTP ${status}).`;
}

// Whether an answer has what the page needs to show it in the mode it was asked in.
export function understood(answer, askedMode) {
  if (answer === null) {
    return false;
  }
  if (askedMode === DIGIT_MODE) {
    return "digit" in answer;
  }
  return Array.isArray(answer.digits) && answer.digits.every(
    (reading) => Array.isArray(reading.box) && reading.box.length === 4,
  );
}

// Whether the promise settles within `milliseconds`.
export function settledWithin(promise, milliseconds) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), milliseconds);
    promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

// The page's prediction requests. Only the answer to the newest request is shown: older
// requests are aborted, and an answer that still arrives for one of them is recognised by its
// number and dropped. `modes`: modes.js's modesFor(); the callbacks:
//   asked(drawing): a final (not live) request is starting;
//   answered(answer, drawing, isCurrent): an understood answer to the newest request (it may
//     return a promise; isCurrent() says whether it is still the newest once that is awaited);
//   failed(drawing, message): the newest request failed;
//   settled(drawing): a request is over, answered or not.
export function createPredictionRequests(options) {
  const requests = new PredictionRequests(options);
  return {
    request: (drawing) => requests.request(drawing),
    cancel: () => requests.cancel(),
    // Whether a request is on its way.
    isBusy: () => requests.inFlight !== null,
  };
}

class PredictionRequests {
  constructor({
    modes, asked, answered, failed, settled,
    waitLimitMs = LIVE_ANSWER_WAIT_LIMIT_MS, send = fetchNow,
  }) {
    Object.assign(this, { modes, asked, answered, failed, settled, waitLimitMs, send });
    this.latestNumber = 0;
    // The request on its way, if any: { controller, live, settled }, where `settled` is a
    // promise that resolves once its answer, or its failure, is in.
    this.inFlight = null;
  }

  cancel() {
    this.latestNumber += 1;
    this.abort();
  }

  abort() {
    if (this.inFlight !== null) {
      this.inFlight.controller.abort();
      this.inFlight = null;
    }
  }

  async request(drawing) {
    const liveOnItsWay = !drawing.live && this.inFlight !== null && this.inFlight.live
      ? this.inFlight.settled
      : null;
    if (liveOnItsWay === null) {
      this.cancel();
    } else {
      this.latestNumber += 1;
    }
    const requestNumber = this.latestNumber;
    if (!drawing.live) {
      this.asked(drawing);
    }
    if (liveOnItsWay !== null) {
      // The final request waits for a live one still on its way rather than aborting it: that
      // one was sent moments ago and is nearly answered, the server never has two requests
      // from this page at once, and an aborted request takes its HTTP/1.1 connection down with
      // it, which the final request would then have to open again. The live answer is dropped
      // by its number, so it can never replace the final one.
      const answeredInTime = await settledWithin(liveOnItsWay, this.waitLimitMs);
      if (requestNumber !== this.latestNumber) {
        return;
      }
      if (!answeredInTime) {
        // Its answer is already out of date by its number; only the request itself is left.
        this.abort();
      }
    }
    await this.post(drawing, requestNumber);
  }

  // Sends the request, kept as the one in flight until it is over.
  async post(drawing, requestNumber) {
    let settle;
    const current = {
      controller: new AbortController(),
      live: drawing.live,
      settled: new Promise((resolve) => { settle = resolve; }),
    };
    this.inFlight = current;
    try {
      await this.fetchAnswer(drawing, requestNumber, current.controller.signal);
    } finally {
      if (this.inFlight === current) {
        this.inFlight = null;
      }
      settle();
      this.settled(drawing);
    }
  }

  async fetchAnswer(drawing, requestNumber, signal) {
    const mode = this.modes[drawing.mode];
    const isCurrent = () => requestNumber === this.latestNumber;
    let response;
    let answer;
    try {
      response = await this.send(mode.url, { method: "POST", signal, ...predictionOptions(drawing) });
      answer = await readJson(response);
    } catch {
      // An aborted request has already been replaced by a newer one or by a cleared pad.
      if (isCurrent()) {
        this.failed(drawing, UNREACHABLE);
      }
      return;
    }
    if (!isCurrent()) {
      return;
    }
    if (!response.ok) {
      this.failed(drawing, errorMessage(response, answer, mode.failure));
    } else if (!understood(answer, drawing.mode)) {
      this.failed(drawing, NOT_UNDERSTOOD);
    } else {
      const shown = this.answered(answer, drawing, isCurrent);
      if (shown instanceof Promise) {
        await shown;
      }
    }
  }
}

// Posts a correction: { problem: null, reply } once the server kept it, or { problem: what to
// say, reply } where it did not.
export async function postCorrection(answer, choice, send = fetchNow) {
  let reply = null;
  try {
    const response = await send(CORRECTIONS_URL, {
      method: "POST", ...correctionOptions(answer, choice),
    });
    reply = await readJson(response);
    if (!response.ok) {
      return { problem: errorMessage(response, reply, "The correction was not saved"), reply };
    }
    if (reply === null || typeof reply.label !== "number") {
      return {
        problem: "The server sent an answer this page does not understand; "
          + "the correction may not have been saved.",
        reply,
      };
    }
    return { problem: null, reply };
  } catch {
    return {
      problem: "Cannot reach the server, so the correction was not saved. "
        + "Check your connection and try again.",
      reply,
    };
  }
}

// The served model's version and measured accuracy, or null where /api/model cannot say.
export async function fetchModelInfo(send = fetchNow) {
  try {
    const response = await send(MODEL_INFO_URL);
    if (!response.ok) {
      return null;
    }
    return await response.json();
  } catch {
    return null;
  }
}

// "Forget my handwriting": deletes this browser's corrections and its writer cookie.
// { problem: null, reply } once done, or { problem: what to say, reply } where it was not.
export async function forgetWriter(send = fetchNow) {
  let reply = null;
  try {
    const response = await send(WRITER_URL, { method: "DELETE" });
    reply = await readJson(response);
    if (!response.ok || reply === null || typeof reply.forgotten !== "boolean") {
      return { problem: errorMessage(response, reply, "Your handwriting was not forgotten"), reply };
    }
    return { problem: null, reply };
  } catch {
    return {
      problem: "Cannot reach the server, so nothing was forgotten. Check your connection and try again.",
      reply,
    };
  }
}
