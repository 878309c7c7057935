"""End-to-end tests of the page's correction buttons, its live answers and its phone layout.

The digits are drawn as in tests/test_e2e.py, with its helpers. /predict/ is the real app unless
a test needs an answer it controls; /api/corrections is the real one where a test checks what the
server kept, and a page.route stand-in where it checks what the page sends or shows on a failure.
"""

import base64
import json
import math
import re
import statistics
import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from tests import test_e2e
from tests.conftest import DESKTOP
from tests.strokes import STROKE_DIGITS, render, strokes_named
from tests.test_e2e import (
    PHONE,
    certain_answer,
    draw_with_mouse,
    draw_with_touch,
    expect_prediction,
    expect_state,
    page_strokes,
    start_over,
)
from web.database import Correction, db

pytestmark = pytest.mark.e2e

# test_e2e's fixtures: a new desktop page for each test, and one phone page for the module.
fresh_page = test_e2e.fresh_page
phone_pad = test_e2e.phone_pad

CORRECTIONS = "**/api/corrections"
PREDICT = "**/predict/"
# app.js's LIVE_ANSWER_INTERVAL_MS and LIVE_ANSWER_WAIT_LIMIT_MS.
LIVE_ANSWER_INTERVAL_S = 0.25
LIVE_ANSWER_WAIT_LIMIT_S = 1.0
DIGIT_TEXT = re.compile(r"^\d$")

# Counts the page's /predict/ fetches that are on their way: from the call until the response
# arrives or the request is aborted (its signal's "abort" event fires inside abort(), before the
# page can send anything else).
COUNT_PREDICT_FETCHES = """
window.predictFetches = { sent: 0, onTheirWay: 0, most: 0 };
const realFetch = window.fetch;
window.fetch = function (resource, options = {}) {
  if (!String(resource).endsWith("/predict/")) {
    return realFetch.call(this, resource, options);
  }
  const counts = window.predictFetches;
  let open = true;
  const close = () => {
    if (open) {
      open = false;
      counts.onTheirWay -= 1;
    }
  };
  counts.sent += 1;
  counts.onTheirWay += 1;
  counts.most = Math.max(counts.most, counts.onTheirWay);
  if (options.signal) {
    options.signal.addEventListener("abort", close);
  }
  const answer = realFetch.call(this, resource, options);
  answer.then(close, close);
  return answer;
};
"""


def sent_to_predict(page):
    """The /predict/ requests the page sends from now on, in order."""
    sent = []
    page.on("request", lambda request: request.url.endswith("/predict/") and sent.append(request))
    return sent


def image_of(request):
    return request.post_data_json["image"]


def digit_button(page, digit):
    return page.get_by_test_id(f"wrong-{digit}")


def pressed_buttons(page):
    """The test ids of the correction buttons shown as chosen."""
    return page.locator(".corrections [aria-pressed=true]").evaluate_all(
        "buttons => buttons.map(button => button.dataset.testid)"
    )


def wait_until(page, condition, seconds=2.0):
    """Waits, letting Playwright take in the browser's events, until `condition()` holds."""
    for _ in range(int(seconds / 0.02)):
        if condition():
            return True
        page.wait_for_timeout(20)
    return condition()


def fake_correction(route, stored="new"):
    """Answers the correction the page sent as the server does (a route handler, through
    `answer_correction`: Playwright would pass a two-argument function the request too)."""
    sent = route.request.post_data_json
    route.fulfill(
        status=201 if stored == "new" else 200,
        content_type="application/json",
        body=json.dumps(
            {
                "id": 17,
                "label": sent["label"],
                "kind": sent["kind"],
                "predicted": 5,
                "confidence": 0.83,
                "model_version": "test",
                "stored": stored,
            }
        ),
    )


def answer_correction(route):
    fake_correction(route)


def error_body(status, title, message):
    return json.dumps({"error": {"status": status, "title": title, "message": message}})


def expect_corrections_offered(page):
    expect(page.get_by_test_id("corrections")).to_be_visible()
    expect(page.get_by_test_id("right")).to_be_enabled()
    for digit in range(10):
        expect(digit_button(page, digit)).to_be_enabled()


def expect_corrections_disabled(page):
    expect(page.get_by_test_id("right")).to_be_disabled()
    for digit in range(10):
        expect(digit_button(page, digit)).to_be_disabled()


# ---------------------------------------------------------------------------------------------
# Corrections
# ---------------------------------------------------------------------------------------------


def test_correction_posts_the_answered_drawing_and_choosing_again_replaces_it(fresh_page, live_server):
    """Against the real server: the drawing the final answer was given for is kept, once."""
    page = fresh_page
    predicted = sent_to_predict(page)
    expect(page.get_by_test_id("corrections")).to_be_hidden()
    # Drawn small and off-centre so that no other test posts these very bytes.
    draw_with_mouse(page, strokes_named("3-round"), scale=0.7, offset=(0.08, -0.05))
    expect_state(page, "done")
    expect_prediction(page, "3")
    expect_corrections_offered(page)
    expect(page.get_by_test_id("corrections")).to_contain_text(
        "Correcting keeps your drawing to train the model."
    )
    assert pressed_buttons(page) == []
    final_image = image_of(predicted[-1])

    with page.expect_response(CORRECTIONS) as first:
        digit_button(page, 5).click()
    sent = first.value.request.post_data_json
    assert sent == {"image": final_image, "label": 5, "kind": "wrong"}
    assert first.value.status == 201
    stored = first.value.json()
    assert [stored[key] for key in ("label", "kind", "predicted", "stored")] == [
        5,
        "wrong",
        3,
        "new",
    ]
    expect(page.get_by_test_id("correction-status")).to_have_text("Saved: it was 5.")
    assert pressed_buttons(page) == ["wrong-5"]

    with page.expect_response(CORRECTIONS) as second:
        digit_button(page, 8).click()
    assert second.value.request.post_data_json == {
        "image": final_image,
        "label": 8,
        "kind": "wrong",
    }
    replaced = second.value.json()
    assert (replaced["id"], replaced["label"], replaced["stored"]) == (stored["id"], 8, "replaced")
    expect(page.get_by_test_id("correction-status")).to_have_text(
        "Saved: it was 8 (replaces your earlier choice)."
    )
    expect(page.locator("#announcer")).to_have_text(
        "Saved: it was 8 (replaces your earlier choice)."
    )
    assert pressed_buttons(page) == ["wrong-8"]

    with page.expect_response(CORRECTIONS) as third:
        page.get_by_test_id("right").click()
    assert third.value.request.post_data_json == {"image": final_image, "label": 3, "kind": "right"}
    assert third.value.json()["stored"] == "replaced"
    expect(page.get_by_test_id("correction-status")).to_contain_text("Saved: 3 is right")
    assert pressed_buttons(page) == ["right"]

    # The row in the server's database: one, with the last choice and the server's own reading.
    _, app = live_server
    with app.app_context():
        row = db.session.get(Correction, stored["id"])
        assert (row.label, row.kind, row.predicted, row.updated_at is not None) == (3, "right", 3, True)
        assert row.drawing == base64.b64decode(final_image.split(",", 1)[1])
        assert db.session.scalar(
            select(func.count(Correction.id)).where(Correction.drawing_sha256 == row.drawing_sha256)
        ) == 1


def test_digit_keys_choose_the_correction(fresh_page):
    page = fresh_page
    corrections = []

    def answer(route):
        corrections.append(route.request.post_data_json)
        fake_correction(route)

    page.route(CORRECTIONS, answer)
    page.keyboard.press("4")  # No answer on show: nothing to correct.
    draw_with_mouse(page, strokes_named("7-plain"))
    expect_state(page, "done")
    expect_prediction(page, "7")

    page.keyboard.press("1")
    expect(page.get_by_test_id("correction-status")).to_have_text("Saved: it was 1.")
    assert pressed_buttons(page) == ["wrong-1"]
    # The digit the model named is a "right".
    page.keyboard.press("7")
    expect(page.get_by_test_id("correction-status")).to_have_text("Saved: 7 is right.")
    assert pressed_buttons(page) == ["right"]
    assert [(sent["label"], sent["kind"]) for sent in corrections] == [(1, "wrong"), (7, "right")]
    assert corrections[0]["image"] == corrections[1]["image"]

    # A digit typed into a text field is text.
    page.evaluate(
        """() => {
            const field = document.createElement("input");
            field.type = "text";
            field.id = "typing";
            document.body.append(field);
            field.focus();
        }"""
    )
    page.keyboard.press("2")
    expect(page.locator("#typing")).to_have_value("2")
    assert pressed_buttons(page) == ["right"]
    assert len(corrections) == 2


def test_only_the_last_of_quick_choices_is_kept(fresh_page):
    """Choices made while one is being saved go one at a time, the newest last."""
    page = fresh_page
    held = []
    page.route(CORRECTIONS, lambda route: held.append(route))
    draw_with_mouse(page, strokes_named("0-oval"))
    expect_state(page, "done")
    for digit in (6, 8, 9):
        digit_button(page, digit).click()
    expect(page.get_by_test_id("correction-status")).to_have_text("Saving…")
    assert pressed_buttons(page) == ["wrong-9"]
    assert len(held) == 1, "a second correction was sent before the first was answered"

    fake_correction(held[0])
    wait_until(page, lambda: len(held) == 2)
    assert [route.request.post_data_json["label"] for route in held] == [6, 9]
    fake_correction(held[1], stored="replaced")
    expect(page.get_by_test_id("correction-status")).to_have_text(
        "Saved: it was 9 (replaces your earlier choice)."
    )


@pytest.mark.parametrize(
    ("fail", "shown"),
    [
        (
            lambda route: route.fulfill(
                status=503,
                content_type="application/json",
                body=error_body(503, "Service Unavailable", "The corrections database is down."),
            ),
            "The corrections database is down.",
        ),
        (
            lambda route: route.fulfill(
                status=429,
                content_type="application/json",
                body=error_body(429, "Too Many Requests", "Too many corrections; wait a minute."),
            ),
            "Too many corrections; wait a minute.",
        ),
        (lambda route: route.abort("connectionrefused"), "Cannot reach the server"),
    ],
    ids=["503", "429", "unreachable"],
)
def test_correction_error_is_shown(fresh_page, fail, shown):
    page = fresh_page
    page.route(CORRECTIONS, fail)
    draw_with_mouse(page, strokes_named("1-plain"))
    expect_state(page, "done")
    digit_button(page, 7).click()
    status = page.get_by_test_id("correction-status")
    expect(status).to_contain_text(shown)
    expect(status).to_have_attribute("data-tone", "error")
    expect(page.locator("#announcer")).to_contain_text(shown)
    # Nothing was kept, so nothing is shown as chosen, and the buttons still work.
    assert pressed_buttons(page) == []
    expect_corrections_offered(page)

    page.unroute(CORRECTIONS)
    page.route(CORRECTIONS, answer_correction)
    digit_button(page, 7).click()
    expect(status).to_have_text("Saved: it was 7.")
    assert pressed_buttons(page) == ["wrong-7"]


def test_corrections_only_for_a_final_answer(fresh_page, tmp_path):
    page = fresh_page
    corrections = page.get_by_test_id("corrections")
    posted = []

    def answer(route):
        posted.append(route.request.post_data_json)
        fake_correction(route)

    page.route(CORRECTIONS, answer)
    expect(corrections).to_be_hidden()

    draw_with_mouse(page, strokes_named("4-closed"))
    expect_state(page, "done")
    digit_button(page, 9).click()
    expect(page.get_by_test_id("correction-status")).to_have_text("Saved: it was 9.")

    # A new stroke starts a new drawing: nothing chosen, nothing to choose until it is answered.
    box = page.get_by_test_id("canvas").bounding_box()
    page.mouse.move(box["x"] + 10, box["y"] + 10)
    page.mouse.down()
    expect_state(page, "drawing")
    expect_corrections_disabled(page)
    assert pressed_buttons(page) == []
    expect(page.get_by_test_id("correction-status")).to_have_text("")
    page.keyboard.press("3")
    page.mouse.up()
    expect_state(page, "done")
    expect_corrections_offered(page)
    assert pressed_buttons(page) == []
    assert [sent["label"] for sent in posted] == [9], "a key pressed while drawing was sent"

    page.get_by_test_id("undo").click()
    expect_state(page, "done")
    expect_corrections_offered(page)
    page.get_by_test_id("clear").click()
    expect_state(page, "idle")
    expect(corrections).to_be_hidden()

    blank = tmp_path / "blank.png"
    render([]).save(blank)
    page.get_by_test_id("upload").set_input_files(blank)
    expect_state(page, "done")
    expect(corrections).to_be_hidden()
    expect_corrections_disabled(page)

    page.route(
        PREDICT,
        lambda route: route.fulfill(
            status=503,
            content_type="application/json",
            body=error_body(503, "Service Unavailable", "The model is loading."),
        ),
    )
    draw_with_mouse(page, strokes_named("1-plain"))
    expect_state(page, "error")
    expect(corrections).to_be_hidden()


def test_uploaded_image_is_corrected_with_its_own_bytes(fresh_page, tmp_path):
    """Against the real server: the upload is posted again as it was, with label and kind."""
    page = fresh_page
    image_path = tmp_path / "two.png"
    render(strokes_named("2-looped"), 140).convert("RGB").save(image_path)
    page.get_by_test_id("upload").set_input_files(image_path)
    expect_state(page, "done")
    expect_prediction(page, "2")
    expect_corrections_offered(page)

    # Chromium leaves a file's bytes out of the request Playwright sees, so the form is read
    # where the page hands it to fetch().
    page.evaluate(
        """() => {
            window.correctionForms = [];
            const realFetch = window.fetch;
            window.fetch = async function (resource, options = {}) {
                if (String(resource).endsWith("/api/corrections")
                    && options.body instanceof FormData) {
                    const fields = [];
                    for (const [name, value] of options.body.entries()) {
                        fields.push([name, value instanceof File
                            ? Array.from(new Uint8Array(await value.arrayBuffer()))
                            : value]);
                    }
                    window.correctionForms.push(fields);
                }
                return realFetch.call(this, resource, options);
            };
        }"""
    )
    with page.expect_response(CORRECTIONS) as posted:
        page.keyboard.press("2")
    request = posted.value.request
    assert request.headers["content-type"].startswith("multipart/form-data")
    [fields] = page.evaluate("window.correctionForms")
    assert [name for name, _ in fields] == ["file", "label", "kind"]
    assert bytes(fields[0][1]) == image_path.read_bytes()
    assert fields[1:] == [["label", "2"], ["kind", "right"]]
    assert posted.value.status == 201
    assert posted.value.json()["predicted"] == 2
    expect(page.get_by_test_id("correction-status")).to_have_text("Saved: 2 is right.")


# ---------------------------------------------------------------------------------------------
# Live answers
# ---------------------------------------------------------------------------------------------


def test_live_answer_arrives_while_the_pen_is_down(fresh_page):
    page = fresh_page
    answered = []
    page.on(
        "response",
        lambda response: response.url.endswith("/predict/") and answered.append(response),
    )
    stroke = page_strokes(page, strokes_named("9-curved-tail"))[0]
    most = len(stroke) * 3 // 4

    page.mouse.move(*stroke[0])
    page.mouse.down()
    for x, y in stroke[1:most]:
        page.mouse.move(x, y)
    expect(page.get_by_test_id("prediction")).to_have_text(DIGIT_TEXT)
    assert answered, "a digit is shown but no answer came"
    expect_state(page, "drawing")
    expect(page.get_by_test_id("confidence")).to_contain_text("confident")
    expect(page.locator(".probability.is-winner")).to_have_count(1)
    expect_corrections_disabled(page)
    live_answers = len(answered)

    for x, y in stroke[most:]:
        page.mouse.move(x, y)
    page.mouse.up()
    expect_state(page, "done")
    expect_prediction(page, "9")
    expect_corrections_offered(page)
    assert len(answered) > live_answers


def test_final_answer_wins_over_a_slow_live_answer(fresh_page):
    page = fresh_page
    held = []
    page.route(PREDICT, lambda route: held.append(route))
    corrections = []

    def record_correction(route):
        corrections.append(route.request.post_data_json)
        fake_correction(route)

    page.route(CORRECTIONS, record_correction)
    # Every text the prediction shows, with the page's state at the time.
    page.evaluate(
        """() => {
            window.shownPredictions = [];
            const prediction = document.getElementById("prediction");
            new MutationObserver(() => window.shownPredictions.push(
                [prediction.textContent, document.body.dataset.state]
            )).observe(prediction, { childList: true, characterData: true, subtree: true });
        }"""
    )
    stroke = page_strokes(page, strokes_named("6-curved"))[0]
    half = len(stroke) // 2

    page.mouse.move(*stroke[0])
    page.mouse.down()
    for x, y in stroke[1:half]:
        page.mouse.move(x, y)
    wait_until(page, lambda: held)
    assert len(held) == 1, "no live request while the pen was down"
    live = held[0]
    # While it is unanswered no other request goes, however long the stroke takes.
    for x, y in stroke[half:]:
        page.mouse.move(x, y)
    page.wait_for_timeout(LIVE_ANSWER_INTERVAL_S * 1000 * 2)
    assert len(held) == 1, "a second live request was sent while the first was on its way"
    page.mouse.up()
    expect_state(page, "pending")
    page.wait_for_timeout(100)
    assert len(held) == 1, "the final request did not wait for the live one"

    # The live answer comes late, after the pen lifted, and is for a digit the final one is not.
    live.fulfill(content_type="application/json", body=certain_answer(4))
    wait_until(page, lambda: len(held) == 2)
    assert len(held) == 2, "no final request after the live one was answered"
    final = held[1]
    assert image_of(final.request) != image_of(live.request)
    expect_state(page, "pending")
    expect_prediction(page, "")
    final.fulfill(content_type="application/json", body=certain_answer(6))
    expect_state(page, "done")
    expect_prediction(page, "6")
    assert ["4", "pending"] not in page.evaluate("window.shownPredictions")

    page.keyboard.press("0")
    expect(page.get_by_test_id("correction-status")).to_have_text("Saved: it was 0.")
    assert corrections == [{"image": image_of(final.request), "label": 0, "kind": "wrong"}]


def test_stuck_live_request_is_given_up(fresh_page):
    page = fresh_page
    held, final_sent_at, aborted = [], [], []

    def hold_the_first(route):
        if held:
            final_sent_at.append(time.monotonic())
            route.fulfill(content_type="application/json", body=certain_answer(2))
        else:
            held.append(route)

    page.route(PREDICT, hold_the_first)
    page.on("requestfailed", lambda request: aborted.append(request))
    stroke = page_strokes(page, strokes_named("2-plain"))[0]
    page.mouse.move(*stroke[0])
    page.mouse.down()
    for x, y in stroke[1:]:
        page.mouse.move(x, y)
    wait_until(page, lambda: held)
    assert held, "no live request while the pen was down"
    page.mouse.up()
    lifted_at = time.monotonic()
    expect_state(page, "done")
    expect_prediction(page, "2")
    assert final_sent_at[0] - lifted_at >= LIVE_ANSWER_WAIT_LIMIT_S * 0.8
    assert [request.post_data for request in aborted] == [held[0].request.post_data]


def test_requests_per_drawing(page, live_server_url, artifacts_dir):
    """How many /predict/ requests each example digit costs, drawn as test_e2e draws them, and
    that the page never has two on their way."""
    page.add_init_script(COUNT_PREDICT_FETCHES)
    page.set_viewport_size(DESKTOP)
    page.goto(live_server_url)
    sent = sent_to_predict(page)
    costs = {}
    for name, digit, strokes in STROKE_DIGITS:
        start_over(page)
        before = len(sent)
        started = time.monotonic()
        draw_with_mouse(page, strokes)
        drawing_seconds = time.monotonic() - started
        expect_state(page, "done")
        expect_prediction(page, str(digit))
        requests = len(sent) - before
        # One final request per stroke; live ones no sooner than one interval into a stroke.
        assert (
            len(strokes)
            <= requests
            <= len(strokes) + math.floor(drawing_seconds / LIVE_ANSWER_INTERVAL_S)
        ), (name, requests, drawing_seconds)
        costs[name] = {"requests": requests, "seconds": round(drawing_seconds, 3)}
    counts = page.evaluate("window.predictFetches")
    assert counts["most"] == 1
    assert counts["sent"] == len(sent)

    figures = [cost["requests"] for cost in costs.values()]
    summary = {
        "mean": round(statistics.mean(figures), 2),
        "max": max(figures),
        "min": min(figures),
        "mean_seconds_drawing": round(statistics.mean(c["seconds"] for c in costs.values()), 3),
        "digits": costs,
    }
    (artifacts_dir / "requests-per-drawing.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"/predict/ requests per drawing: mean {summary['mean']}, max {summary['max']}")
    assert max(figures) > min(len(strokes) for _, _, strokes in STROKE_DIGITS), "no live answers"


# ---------------------------------------------------------------------------------------------
# Phones
# ---------------------------------------------------------------------------------------------


def in_viewport(box):
    return (
        box is not None
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= PHONE["width"]
        and box["y"] + box["height"] <= PHONE["height"]
    )


def assert_answer_in_view(page):
    assert page.evaluate("[window.scrollX, window.scrollY]") == [0, 0]
    for test_id in ("canvas", "prediction", "confidence"):
        assert in_viewport(page.get_by_test_id(test_id).bounding_box()), test_id
    rows = page.locator(".probability")
    expect(rows).to_have_count(10)
    for index in range(10):
        for part in (rows.nth(index), rows.nth(index).locator(".probability-value")):
            expect(part).to_be_visible()
            assert in_viewport(part.bounding_box()), f"probability of {index}"


def test_phone_shows_the_answer_beside_the_pad_while_drawing(phone_pad, artifacts_dir):
    page = phone_pad
    start_over(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # Halfway through a stroke, the finger still down: the live answer is on screen.
    session = page.context.new_cdp_session(page)
    stroke = page_strokes(page, strokes_named("9-curved-tail"))[0]
    half = len(stroke) // 2

    def touch(kind, points):
        session.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", [{"x": stroke[0][0], "y": stroke[0][1]}])
    for x, y in stroke[1:half]:
        touch("touchMove", [{"x": x, "y": y}])
    expect(page.get_by_test_id("prediction")).to_have_text(DIGIT_TEXT)
    expect_state(page, "drawing")
    assert_answer_in_view(page)
    for x, y in stroke[half:]:
        touch("touchMove", [{"x": x, "y": y}])
    touch("touchEnd", [])
    session.detach()
    expect_state(page, "done")
    expect_prediction(page, "9")

    start_over(page)
    draw_with_touch(page, strokes_named("2-plain"))
    expect_state(page, "done")
    expect_prediction(page, "2")
    assert_answer_in_view(page)
    # The correction buttons fit too, below the answer.
    for test_id in ("right", "wrong-0", "wrong-9"):
        assert in_viewport(page.get_by_test_id(test_id).bounding_box()), test_id
    page.screenshot(path=artifacts_dir / "e2e-phone-answer.png", animations="disabled")
