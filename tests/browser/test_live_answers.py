"""End-to-end tests of the live answers while the pen is down, how many requests a drawing
costs, and the phone layout that keeps the answer in view."""

import json
import math
import statistics
import time

import pytest
from playwright.sync_api import expect

from harness.browser import (
    CORRECTIONS,
    DESKTOP,
    DIGIT_TEXT,
    PHONE,
    PREDICT,
    certain_answer,
    draw_with_mouse,
    draw_with_touch,
    expect_corrections_disabled,
    expect_corrections_offered,
    expect_prediction,
    expect_state,
    fake_correction,
    image_of,
    page_strokes,
    sent_to_predict,
    start_over,
    wait_until,
)
from harness.strokes import STROKE_DIGITS, strokes_named

pytestmark = pytest.mark.e2e


# app.js's LIVE_ANSWER_INTERVAL_MS and LIVE_ANSWER_WAIT_LIMIT_MS.
LIVE_ANSWER_INTERVAL_S = 0.25


LIVE_ANSWER_WAIT_LIMIT_S = 1.0


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
    final_body = final.request.post_data_json
    assert corrections == [{"image": final_body["image"], "label": 0, "kind": "wrong", "strokes": final_body["strokes"]}]


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
