"""Driving the page in Chromium for the browser tests and benchmarks: launch options, drawing
with the mouse or with touch (through the Chrome DevTools Protocol, since Playwright has no API
for a moving finger), and waiting for the page's states."""

import json
import math
import re
from pathlib import Path

from playwright.sync_api import expect

from harness.strokes import to_canvas

PHONE = {"width": 390, "height": 844}


PERCENT = re.compile(r"^>?\d{1,3}(\.\d)?%$")


PERCENT_CONFIDENT = re.compile(r"^>?\d{1,3}(\.\d)?% confident$")


# Chromium acknowledges a pointer move only at its next frame, so every move costs ~17 ms.
# Moves this far apart still trace a curve to within a pixel, under a pen ~25 px wide,
# and are as far apart as a quick hand's moves at 60 frames a second.
MOVE_SPACING_PX = 14


def spaced(stroke, spacing=MOVE_SPACING_PX):
    """The stroke's points at least `spacing` pixels apart, keeping both ends."""
    kept = [stroke[0]]
    for x, y in stroke[1:-1]:
        if math.dist((x, y), kept[-1]) >= spacing:
            kept.append((x, y))
    if len(stroke) > 1:
        kept.append(stroke[-1])
    return kept


def page_strokes(page, strokes, scale=1.0, offset=(0.0, 0.0)):
    box = page.get_by_test_id("canvas").bounding_box()
    return [spaced(stroke) for stroke in to_canvas(strokes, box, scale, offset)]


def draw_with_mouse(page, strokes, scale=1.0, offset=(0.0, 0.0)):
    for stroke in page_strokes(page, strokes, scale, offset):
        page.mouse.move(*stroke[0])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(x, y)
        page.mouse.up()


def draw_with_touch(page, strokes):
    touch(page, page_strokes(page, strokes))


def touch(page, strokes_in_pixels):
    """Strokes drawn with a finger (touch events through CDP), each from touch start to end."""
    session = page.context.new_cdp_session(page)
    for stroke in strokes_in_pixels:
        events = ["touchStart"] + ["touchMove"] * (len(stroke) - 1)
        for event_type, (x, y) in zip(events, stroke):
            session.send(
                "Input.dispatchTouchEvent", {"type": event_type, "touchPoints": [{"x": x, "y": y}]}
            )
        session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    session.detach()


# A prediction takes milliseconds, but the first ones in a session warm the model up, and the
# test machine may be busy.
ANSWER_TIMEOUT_MS = 15_000


def expect_state(page, state):
    expect(page.locator("body")).to_have_attribute("data-state", state, timeout=ANSWER_TIMEOUT_MS)


def expect_prediction(page, text):
    expect(page.get_by_test_id("prediction")).to_have_text(text)


def ink_pixels(page):
    """How many canvas pixels are not opaque white."""
    return page.get_by_test_id("canvas").evaluate(
        """canvas => {
            const pixels = canvas.getContext("2d")
                .getImageData(0, 0, canvas.width, canvas.height).data;
            let count = 0;
            for (let i = 0; i < pixels.length; i += 4) {
                if (pixels[i] !== 255 || pixels[i + 1] !== 255 || pixels[i + 2] !== 255
                    || pixels[i + 3] !== 255) {
                    count += 1;
                }
            }
            return count;
        }"""
    )


def start_over(page):
    page.get_by_test_id("clear").click()
    expect_state(page, "idle")


def fake_answer(probabilities, unsure=False):
    """A /predict/ answer body naming the most probable digit."""
    digit = max(range(10), key=lambda index: probabilities[index])
    return json.dumps(
        {
            "digit": digit,
            "confidence": probabilities[digit],
            "probabilities": probabilities,
            "unsure": unsure,
            "model_version": "test",
            "input_image": None,
        }
    )


def certain_answer(digit):
    return fake_answer([1.0 if index == digit else 0.0 for index in range(10)])


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


def expect_corrections_offered(page):
    expect(page.get_by_test_id("corrections")).to_be_visible()
    expect(page.get_by_test_id("right")).to_be_enabled()
    for digit in range(10):
        expect(digit_button(page, digit)).to_be_enabled()


def expect_corrections_disabled(page):
    expect(page.get_by_test_id("right")).to_be_disabled()
    for digit in range(10):
        expect(digit_button(page, digit)).to_be_disabled()


DEBIAN_CHROMIUM = Path("/usr/bin/chromium")


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


DESKTOP = {"width": 1100, "height": 800}


def chromium_launch_options():
    """Debian's Chromium with the flags it needs here where it is installed; else Playwright's."""
    if DEBIAN_CHROMIUM.exists():
        return {"executable_path": str(DEBIAN_CHROMIUM), "args": CHROMIUM_FLAGS}
    return {}


CORRECTIONS = "**/api/corrections"


PREDICT = "**/predict/"


DIGIT_TEXT = re.compile(r"^\d$")


def sent_to_predict(page):
    """The /predict/ requests the page sends from now on, in order."""
    sent = []
    page.on("request", lambda request: request.url.endswith("/predict/") and sent.append(request))
    return sent


def image_of(request):
    return request.post_data_json["image"]


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
