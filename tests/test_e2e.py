"""End-to-end tests: draw digits on the page in Chromium and check what the real model names.

The digits come from tests/strokes.py and are drawn with the mouse, or with touch events sent
through the Chrome DevTools Protocol, since Playwright has no API for a moving finger.
"""

import json
import math
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import DESKTOP
from tests.strokes import STROKE_DIGITS, render, strokes_named, to_canvas

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
PERCENT = re.compile(r"^>?\d{1,3}(\.\d)?%$")
PERCENT_CONFIDENT = re.compile(r"^>?\d{1,3}(\.\d)?% confident$")


@pytest.fixture(scope="module")
def phone_pad(browser, live_server_url):
    """One page on a phone-sized touch screen with a high-DPI display."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.goto(live_server_url)
    yield page
    context.close()


@pytest.fixture
def fresh_page(page, live_server_url):
    page.set_viewport_size(DESKTOP)
    page.goto(live_server_url)
    return page


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


@pytest.mark.parametrize(
    ("digit", "strokes"),
    [(digit, strokes) for _, digit, strokes in STROKE_DIGITS],
    ids=[name for name, _, _ in STROKE_DIGITS],
)
def test_drawn_digit_is_recognised(pad, digit, strokes):
    start_over(pad)
    draw_with_mouse(pad, strokes)
    expect_state(pad, "done")
    expect_prediction(pad, str(digit))


@pytest.mark.parametrize(
    ("name", "scale", "offset"),
    [
        ("7-crossed", 0.45, (-0.22, -0.2)),
        ("3-round", 1.25, (0.0, 0.05)),
        ("4-closed", 0.6, (0.2, 0.18)),
    ],
    ids=["small-top-left", "large", "small-bottom-right"],
)
def test_digit_is_recognised_at_any_size_and_place(pad, name, scale, offset):
    digit = next(digit for example, digit, _ in STROKE_DIGITS if example == name)
    start_over(pad)
    draw_with_mouse(pad, strokes_named(name), scale, offset)
    expect_state(pad, "done")
    expect_prediction(pad, str(digit))


def test_result_shows_confidence_probabilities_and_model_input(pad, artifacts_dir):
    start_over(pad)
    draw_with_mouse(pad, strokes_named("7-crossed"))
    expect_state(pad, "done")
    expect_prediction(pad, "7")
    expect(pad.get_by_test_id("confidence")).to_have_text(PERCENT_CONFIDENT)
    expect(pad.locator(".probability.is-winner")).to_have_attribute("data-digit", "7")
    expect(pad.locator(".probability-value")).to_have_count(10)
    expect(pad.locator(".probability-value").nth(7)).to_have_text(PERCENT)
    model_input = pad.get_by_test_id("model-input")
    expect(model_input).to_be_visible()
    expect(model_input).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    assert model_input.evaluate("image => [image.naturalWidth, image.naturalHeight]") == [28, 28]
    expect(pad.locator("[aria-live=polite]")).to_have_text(
        re.compile(r"^Predicted 7, >?\d{1,3}(\.\d)?% confident")
    )
    expect(pad.locator("footer")).to_contain_text(re.compile(
        r"Model \S+ · \d+(\.\d)?% accurate on the MNIST test set · "
        r"\d+(\.\d)?% on pen digits by people it never saw"
    ))

    pad.screenshot(
        path=artifacts_dir / "e2e-page.png", full_page=True, animations="disabled"
    )


def test_clear_empties_prediction_and_canvas(pad):
    start_over(pad)
    draw_with_mouse(pad, strokes_named("4-closed"))
    expect_state(pad, "done")
    assert ink_pixels(pad) > 0

    pad.get_by_test_id("clear").click()
    expect_state(pad, "idle")
    expect_prediction(pad, "")
    expect(pad.get_by_test_id("confidence")).to_have_text("")
    expect(pad.get_by_test_id("model-input")).to_be_hidden()
    expect(pad.get_by_test_id("undo")).to_be_disabled()
    assert ink_pixels(pad) == 0


def test_escape_key_clears(pad):
    start_over(pad)
    draw_with_mouse(pad, strokes_named("1-plain"))
    expect_state(pad, "done")

    pad.keyboard.press("Escape")
    expect_state(pad, "idle")
    expect_prediction(pad, "")
    assert ink_pixels(pad) == 0


def test_undo_restores_previous_prediction(pad):
    start_over(pad)
    corner, stem = strokes_named("4-open")
    undo = pad.get_by_test_id("undo")
    expect(undo).to_be_disabled()

    draw_with_mouse(pad, [stem])
    expect_state(pad, "done")
    expect_prediction(pad, "1")
    ink_of_stem = ink_pixels(pad)

    draw_with_mouse(pad, [corner])
    expect_state(pad, "done")
    expect_prediction(pad, "4")

    undo.click()
    expect_state(pad, "done")
    expect_prediction(pad, "1")
    # Redrawing the stem as one path anti-aliases a few edge pixels differently.
    assert ink_pixels(pad) == pytest.approx(ink_of_stem, rel=0.01)

    pad.keyboard.press("Control+z")
    expect_state(pad, "idle")
    expect_prediction(pad, "")
    expect(undo).to_be_disabled()
    assert ink_pixels(pad) == 0


def test_clear_button_works_from_keyboard(pad):
    start_over(pad)
    draw_with_mouse(pad, strokes_named("0-oval"))
    expect_state(pad, "done")

    clear = pad.get_by_test_id("clear")
    clear.focus()
    pad.keyboard.press("Enter")
    expect_state(pad, "idle")
    expect_prediction(pad, "")


def test_uploaded_image_is_recognised(pad, tmp_path):
    start_over(pad)
    draw_with_mouse(pad, strokes_named("1-plain"))
    expect_state(pad, "done")
    image_path = tmp_path / "three.png"
    render(strokes_named("3-round")).convert("RGB").save(image_path)

    pad.get_by_test_id("upload").set_input_files(image_path)
    expect_state(pad, "done")
    expect_prediction(pad, "3")
    expect(pad.get_by_test_id("status")).to_contain_text("three.png")
    assert ink_pixels(pad) == 0, "the drawing the upload replaced is still on the canvas"


def test_blank_upload_shows_no_digit(pad, tmp_path):
    start_over(pad)
    image_path = tmp_path / "blank.png"
    render([]).save(image_path)

    pad.get_by_test_id("upload").set_input_files(image_path)
    expect_state(pad, "done")
    expect_prediction(pad, "")
    expect(pad.get_by_test_id("status")).to_contain_text(re.compile("ink", re.IGNORECASE))


def test_new_page_shows_no_digit(fresh_page):
    expect_state(fresh_page, "idle")
    expect_prediction(fresh_page, "")
    expect(fresh_page.get_by_test_id("status")).to_have_text("No digit drawn yet.")
    expect(fresh_page.get_by_test_id("undo")).to_be_disabled()
    assert ink_pixels(fresh_page) == 0

    fresh_page.get_by_test_id("clear").click()
    expect_state(fresh_page, "idle")
    expect_prediction(fresh_page, "")


def test_page_runs_without_errors(page, live_server_url):
    """Catches Content-Security-Policy violations and script errors, which only reach the log."""
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(live_server_url)
    draw_with_mouse(page, strokes_named("5-one-stroke"))
    expect_state(page, "done")
    assert problems == []


@pytest.mark.parametrize(
    ("status", "content_type", "body", "shown"),
    [
        (
            500,
            "application/json",
            json.dumps(
                {
                    "error": {
                        "status": 500,
                        "title": "Internal Server Error",
                        "message": "The model could not be run.",
                    }
                }
            ),
            "The model could not be run.",
        ),
        (502, "text/html", "<h1>Bad Gateway</h1>", "HTTP 502"),
    ],
    ids=["json-error", "html-error"],
)
def test_server_error_is_shown(fresh_page, status, content_type, body, shown):
    fresh_page.route(
        "**/predict/",
        lambda route: route.fulfill(status=status, content_type=content_type, body=body),
    )
    draw_with_mouse(fresh_page, strokes_named("1-plain"))
    expect_state(fresh_page, "error")
    expect(fresh_page.get_by_test_id("status")).to_contain_text(shown)
    expect_prediction(fresh_page, "")


def test_unreachable_server_is_shown(fresh_page):
    fresh_page.route("**/predict/", lambda route: route.abort("connectionrefused"))
    draw_with_mouse(fresh_page, strokes_named("1-plain"))
    expect_state(fresh_page, "error")
    expect(fresh_page.get_by_test_id("status")).to_contain_text("Cannot reach the server")
    expect_prediction(fresh_page, "")


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


def test_only_the_newest_answer_is_shown(fresh_page):
    held, aborted = [], []

    def hold_first_request(route):
        if held:
            route.fulfill(content_type="application/json", body=certain_answer(1))
        else:
            held.append(route)

    fresh_page.route("**/predict/", hold_first_request)
    fresh_page.on("requestfailed", lambda request: aborted.append(request))
    first_stroke, second_stroke = strokes_named("7-crossed")
    draw_with_mouse(fresh_page, [first_stroke])
    expect_state(fresh_page, "pending")
    draw_with_mouse(fresh_page, [second_stroke])
    expect_state(fresh_page, "done")
    expect_prediction(fresh_page, "1")
    # The older request was cancelled by the newer one, so its answer can never be shown.
    for _ in range(100):
        if aborted:
            break
        fresh_page.wait_for_timeout(50)
    assert [request.post_data for request in aborted] == [held[0].request.post_data]
    expect_prediction(fresh_page, "1")


def test_unsure_answer_names_the_two_likeliest_digits(fresh_page):
    probabilities = [0.01, 0.38, 0.0, 0.02, 0.0, 0.0, 0.0, 0.55, 0.02, 0.02]
    answer = fake_answer(probabilities, unsure=True)
    fresh_page.route(
        "**/predict/", lambda route: route.fulfill(content_type="application/json", body=answer)
    )
    draw_with_mouse(fresh_page, strokes_named("1-flag"))
    expect_state(fresh_page, "done")
    expect_prediction(fresh_page, "7")
    expect(fresh_page.get_by_test_id("status")).to_have_text("Not sure — it might be 7 or 1.")
    expect(fresh_page.get_by_test_id("confidence")).to_have_text("55% confident")


def test_touch_drawing_is_recognised(phone_pad):
    start_over(phone_pad)
    scroll_before = phone_pad.evaluate("[window.scrollX, window.scrollY]")
    draw_with_touch(phone_pad, strokes_named("2-plain"))
    expect_state(phone_pad, "done")
    expect_prediction(phone_pad, "2")
    assert phone_pad.evaluate("[window.scrollX, window.scrollY]") == scroll_before


def test_phone_layout_fits_and_draws(phone_pad, artifacts_dir):
    start_over(phone_pad)
    canvas = phone_pad.get_by_test_id("canvas")
    box = canvas.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert canvas.evaluate("canvas => getComputedStyle(canvas).touchAction") == "none"
    assert phone_pad.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert canvas.evaluate("canvas => canvas.width") == round(box["width"] * 3)

    draw_with_mouse(phone_pad, strokes_named("9-curved-tail"))
    expect_state(phone_pad, "done")
    expect_prediction(phone_pad, "9")

    phone_pad.screenshot(
        path=artifacts_dir / "e2e-phone.png", full_page=True, animations="disabled"
    )
