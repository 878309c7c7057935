"""End-to-end tests: draw digits on the page in Chromium and check what the real model names.

The digits come from harness/strokes.py and are drawn with the mouse, or with touch events sent
through the Chrome DevTools Protocol, since Playwright has no API for a moving finger.
"""

import json
import re

import pytest
from playwright.sync_api import expect

from harness.browser import (
    PERCENT,
    PERCENT_CONFIDENT,
    PHONE,
    certain_answer,
    draw_with_mouse,
    draw_with_touch,
    expect_prediction,
    expect_state,
    fake_answer,
    ink_pixels,
    start_over,
)
from harness.strokes import STROKE_DIGITS, render, strokes_named

pytestmark = pytest.mark.e2e





























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
