"""End-to-end tests of the page's Number mode: a whole number written on the wide pad.

The digits are harness/strokes.py's, side by side on the pad (three times as wide as it is high),
drawn with the mouse or with touch as tests/browser/test_e2e.py draws lone digits, and read by the
real app unless a test needs an answer it controls.
"""

import json
import re

import numpy as np
import pytest
from playwright.sync_api import expect

from harness.answers import kept_as_its_pixels
from harness.browser import (
    DESKTOP,
    PHONE,
    draw_with_mouse,
    expect_prediction,
    expect_state,
    ink_pixels,
)
from harness.number_pad import (
    NUMBER,
    NUMBER_TEXT,
    OTHER_NUMBER,
    OTHER_NUMBER_TEXT,
    PREDICT_NUMBER,
    answers_to_number,
    assert_boxes_fit_the_ink,
    expect_number,
    image_of_data_url,
    start_number_over,
    write_with_mouse,
    write_with_touch,
)
from harness.strokes import encode, render, strokes_named
from model.pad import NUMBER_PAD_ASPECT, SENT_SIZE
from web.database import Correction, db

pytestmark = pytest.mark.e2e

CORRECTIONS = "**/api/corrections"


# ---------------------------------------------------------------------------------------------
# Reading a number
# ---------------------------------------------------------------------------------------------


def test_number_is_read_with_a_box_over_each_digit(number_pad, artifacts_dir):
    page = number_pad
    start_number_over(page)
    sent = []
    page.on("request", lambda request: "/predict/" in request.url and sent.append(request))
    answered = answers_to_number(page)
    canvas = page.get_by_test_id("canvas").bounding_box()
    assert canvas["width"] == pytest.approx(NUMBER_PAD_ASPECT * canvas["height"], abs=1)

    digits = write_with_mouse(page, NUMBER)
    expect_number(page, NUMBER_TEXT)
    assert_boxes_fit_the_ink(page, digits)

    # One request a stroke, every one to /predict/number: no live answers while the pen moves.
    strokes = sum(len(strokes) for strokes in digits)
    assert [request.url.rsplit("/", 2)[-2:] for request in sent] == [["predict", "number"]] * strokes
    image = image_of_data_url(sent[-1].post_data_json["image"])
    assert image.size == (NUMBER_PAD_ASPECT * SENT_SIZE, SENT_SIZE)
    answer = answered[-1].json()
    assert answer["number"] == NUMBER_TEXT

    buttons = page.locator(".number-digit")
    expect(buttons).to_have_count(4)
    expect(buttons.nth(0)).to_have_attribute("aria-label", "Digit 1 of 4: 3")
    expect(buttons.nth(0)).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("prediction")).to_be_hidden()
    expect(page.locator("#announcer")).to_have_text(f"Read {NUMBER_TEXT}.")
    expect(page.get_by_test_id("status")).to_have_attribute("data-tone", "")
    # The first digit is shown until another is pointed at.
    expect(page.get_by_test_id("confidence")).to_have_text(re.compile(r"^Digit 1 of 4: >?\d"))
    expect(page.locator(".probability.is-winner")).to_have_attribute("data-digit", "3")
    expect(page.get_by_test_id("model-input")).to_have_attribute("src", answer["digits"][0]["input_image"])
    expect(page.get_by_test_id("correction-target")).to_have_text("Digit 1 of 4, read as 3:")

    page.screenshot(path=artifacts_dir / "number-page.png", full_page=True, animations="disabled")

    # Undo takes the last stroke back, and the number is read again without it.
    page.get_by_test_id("undo").click()
    expect_number(page, NUMBER_TEXT[:-1])
    assert_boxes_fit_the_ink(page, digits[:-1])


def test_strokes_and_boxes_follow_the_pad_when_it_resizes(number_pad):
    page = number_pad
    start_number_over(page)
    digits = write_with_mouse(page, OTHER_NUMBER)
    expect_number(page, OTHER_NUMBER_TEXT)
    before = page.get_by_test_id("canvas").bounding_box()
    ink_before = ink_pixels(page)
    try:
        page.set_viewport_size({"width": 700, "height": DESKTOP["height"]})
        expect(page.get_by_test_id("canvas")).not_to_have_js_property("width", round(before["width"]))
        after = page.get_by_test_id("canvas").bounding_box()
        assert after["width"] < before["width"] * 0.85
        assert after["width"] == pytest.approx(NUMBER_PAD_ASPECT * after["height"], abs=1)
        # The same drawing, smaller: the strokes scale with the pad, the pen with its height.
        scale = after["height"] / before["height"]
        assert ink_pixels(page) == pytest.approx(ink_before * scale**2, rel=0.05)
        resized = [
            [[(after["x"] + (x - before["x"]) * scale, after["y"] + (y - before["y"]) * scale)
              for x, y in stroke] for stroke in strokes]
            for strokes in digits
        ]
        assert_boxes_fit_the_ink(page, resized)
    finally:
        page.set_viewport_size(DESKTOP)


def test_pointing_at_a_digit_shows_its_reading(number_pad):
    page = number_pad
    start_number_over(page)
    answered = answers_to_number(page)
    sent = []
    page.on("request", lambda request: "/predict/" in request.url and sent.append(request))
    write_with_mouse(page, NUMBER)
    expect_number(page, NUMBER_TEXT)
    readings = answered[-1].json()["digits"]
    requests = len(sent)
    buttons = page.locator(".number-digit")
    boxes = page.locator(".digit-box")
    model_input = page.get_by_test_id("model-input")

    # The mouse over the second digit of the number.
    buttons.nth(1).hover()
    expect(page.locator(".probability.is-winner")).to_have_attribute("data-digit", "1")
    probabilities = readings[1]["probabilities"]
    assert max(range(10), key=lambda digit: probabilities[digit]) == 1
    expect(model_input).to_have_attribute("src", readings[1]["input_image"])
    assert model_input.evaluate("image => [image.naturalWidth, image.naturalHeight]") == [28, 28]
    expect(page.get_by_test_id("confidence")).to_have_text(re.compile(r"^Digit 2 of 4: "))
    expect(buttons.nth(1)).to_have_class(re.compile(r"\bis-shown\b"))
    expect(boxes.nth(1)).to_have_class(re.compile(r"\bis-shown\b"))
    expect(boxes.nth(0)).not_to_have_class(re.compile(r"\bis-shown\b"))
    # Pointing is not choosing: the corrections still apply to the first digit.
    expect(page.get_by_test_id("correction-target")).to_have_text("Digit 1 of 4, read as 3:")

    # The mouse over the third digit's box on the pad.
    third = boxes.nth(2).bounding_box()
    page.mouse.move(third["x"] + third["width"] / 2, third["y"] + third["height"] / 2)
    expect(page.locator(".probability.is-winner")).to_have_attribute("data-digit", "4")
    expect(model_input).to_have_attribute("src", readings[2]["input_image"])
    expect(buttons.nth(2)).to_have_class(re.compile(r"\bis-shown\b"))
    expect(boxes.nth(2)).to_have_class(re.compile(r"\bis-shown\b"))

    # Away from every digit, the chosen one is shown again.
    page.mouse.move(2, 2)
    expect(page.locator(".probability.is-winner")).to_have_attribute("data-digit", "3")

    # A click on a box (a tap: the pen does not move) chooses that digit, and draws nothing.
    ink = ink_pixels(page)
    fourth = boxes.nth(3).bounding_box()
    page.mouse.click(fourth["x"] + fourth["width"] / 2, fourth["y"] + fourth["height"] / 2)
    expect(page.get_by_test_id("correction-target")).to_have_text("Digit 4 of 4, read as 7:")
    expect(buttons.nth(3)).to_have_attribute("aria-pressed", "true")
    expect(boxes.nth(3)).to_have_class(re.compile(r"\bis-selected\b"))
    expect_state(page, "done")
    assert ink_pixels(page) == ink
    assert len(sent) == requests

    # The keyboard: a digit of the number has focus, the arrows move along the number.
    page.mouse.move(2, 2)
    buttons.nth(0).focus()
    expect(page.get_by_test_id("correction-target")).to_have_text("Digit 1 of 4, read as 3:")
    page.keyboard.press("ArrowRight")
    expect(buttons.nth(1)).to_be_focused()
    expect(buttons.nth(1)).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("corrections")).to_have_attribute("aria-label", "Was digit 2 of 4 right?")
    page.keyboard.press("End")
    expect(buttons.nth(3)).to_be_focused()
    expect(page.locator(".probability.is-winner")).to_have_attribute("data-digit", "7")


def test_unsure_digit_is_marked(fresh_number_page):
    page = fresh_number_page

    def second_digit_unsure(route):
        answer = route.fetch().json()
        if len(answer["digits"]) > 1:  # Not the answers for the first strokes.
            answer["digits"][1].update(unsure=True, confidence=0.55)
            answer["unsure"] = True
        route.fulfill(content_type="application/json", body=json.dumps(answer))

    page.route(PREDICT_NUMBER, second_digit_unsure)
    write_with_mouse(page, OTHER_NUMBER)
    expect_number(page, OTHER_NUMBER_TEXT)
    status = page.get_by_test_id("status")
    expect(status).to_have_text(re.compile(r"^Not sure of digit 2 of 3 — it might be 0 or \d\.$"))
    expect(status).to_have_attribute("data-tone", "warning")
    unsure = re.compile(r"\bis-unsure\b")
    expect(page.locator(".digit-box").nth(1)).to_have_class(unsure)
    expect(page.locator(".digit-box").nth(0)).not_to_have_class(unsure)
    expect(page.locator(".number-digit").nth(1)).to_have_class(unsure)
    expect(page.locator(".number-digit").nth(1)).to_have_attribute("aria-label", "Digit 2 of 3: 0, not sure")
    expect(page.locator("#announcer")).to_contain_text("Not sure of digit 2 of 3")


def test_uploaded_number_is_read(fresh_number_page, tmp_path):
    page = fresh_number_page
    strokes = []
    for index, name in enumerate(OTHER_NUMBER):
        # In the renderer's frame for a wide image: pad heights, the unit square centred.
        centre = (index + 0.5) * NUMBER_PAD_ASPECT / len(OTHER_NUMBER) - (NUMBER_PAD_ASPECT - 1) / 2
        strokes += [[((x - 0.5) * 0.8 + centre, (y - 0.5) * 0.8 + 0.5) for x, y in stroke]
                    for stroke in strokes_named(name)]
    image_path = tmp_path / "number.png"
    image_path.write_bytes(encode(render(strokes, (NUMBER_PAD_ASPECT * SENT_SIZE, SENT_SIZE))))
    corrections = []

    def answer_correction(route):
        corrections.append(route.request.post_data_json)
        route.fulfill(status=201, content_type="application/json", body=json.dumps(
            {"id": 1, "label": corrections[-1]["label"], "kind": corrections[-1]["kind"],
             "predicted": 0, "confidence": 0.9, "model_version": "test", "stored": "new"}
        ))

    page.route(CORRECTIONS, answer_correction)
    with page.expect_request(PREDICT_NUMBER) as asked:
        page.get_by_test_id("upload").set_input_files(image_path)
    assert asked.value.headers["content-type"].startswith("multipart/form-data")
    expect_number(page, OTHER_NUMBER_TEXT)
    expect(page.get_by_test_id("status")).to_contain_text("number.png")
    # Nothing on the pad, so no boxes there; the digits are still chosen and corrected.
    expect(page.locator(".digit-box")).to_have_count(0)
    assert ink_pixels(page) == 0
    page.locator(".number-digit").nth(2).click()
    page.keyboard.press("4")
    expect(page.get_by_test_id("correction-status")).to_have_text("Saved: it was 4.")
    [sent] = corrections
    assert (sent["label"], sent["kind"]) == (4, "wrong")
    assert image_of_data_url(sent["image"]).width < NUMBER_PAD_ASPECT * SENT_SIZE / 2


# ---------------------------------------------------------------------------------------------
# Corrections per digit
# ---------------------------------------------------------------------------------------------


def test_correction_posts_the_chosen_digits_ink(fresh_number_page, live_server):
    """Against the real server: a digit's correction is its ink, cut from the image sent."""
    page = fresh_number_page
    sent = []
    page.on("request", lambda request: request.url.endswith("/predict/number") and sent.append(request))
    write_with_mouse(page, NUMBER)
    expect_number(page, NUMBER_TEXT)
    expect(page.get_by_test_id("right")).to_be_enabled()
    drawing = image_of_data_url(sent[-1].post_data_json["image"]).convert("RGB")
    expect(page.locator(".digit-box")).to_have_count(4)

    page.locator(".number-digit").nth(1).click()
    expect(page.get_by_test_id("correction-target")).to_have_text("Digit 2 of 4, read as 1:")
    with page.expect_response(CORRECTIONS) as first:
        page.get_by_test_id("wrong-7").click()
    posted = first.value.request.post_data_json
    assert (posted["label"], posted["kind"]) == (7, "wrong")
    # With the digit's own strokes (a 1: one), in the pixels of its crop.
    assert set(posted) == {"image", "label", "kind", "strokes"} and len(posted["strokes"]) == 1
    assert first.value.status == 201
    stored = first.value.json()
    assert (stored["label"], stored["predicted"], stored["stored"]) == (7, 1, "new")
    expect(page.get_by_test_id("correction-status")).to_have_text("Saved: it was 7.")

    # The ink of that digit alone: the sent image cut to the digit's box with a margin.
    ink = image_of_data_url(posted["image"]).convert("RGB")
    assert ink.height < SENT_SIZE and ink.width < drawing.width / 4
    found = False
    pixels = np.asarray(drawing)
    crop = np.asarray(ink)
    for top in range(0, drawing.height - ink.height + 1):
        for left in range(0, drawing.width // 2 - ink.width + 1):
            if np.array_equal(pixels[top:top + ink.height, left:left + ink.width], crop):
                found = (left, top)
                break
        if found:
            break
    assert found, "the correction's image is not a piece of the image sent"
    assert drawing.width / 4 <= found[0] + ink.width / 2 < drawing.width / 2, "not the second digit"
    # Paper all round: the margin is outside the ink.
    edges = np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]])
    assert edges.min() >= 250

    # The key of the digit the model read says it was right, and replaces the choice.
    with page.expect_response(CORRECTIONS) as second:
        page.keyboard.press("1")
    assert second.value.request.post_data_json == {**posted, "label": 1, "kind": "right"}
    assert second.value.json()["stored"] == "replaced"
    expect(page.get_by_test_id("correction-status")).to_have_text(
        "Saved: 1 is right (replaces your earlier choice)."
    )
    _, app = live_server
    with app.app_context():
        row = db.session.get(Correction, stored["id"])
        assert (row.label, row.kind, row.predicted) == (1, "right", 1)
        assert kept_as_its_pixels(row.drawing, posted["image"])

    # Another digit has its own correction, its own ink, and starts unchosen; the first one's
    # is shown again when it is chosen again.
    page.locator(".number-digit").nth(3).click()
    expect(page.get_by_test_id("correction-status")).to_have_text("")
    expect(page.locator(".corrections [aria-pressed=true]")).to_have_count(0)
    with page.expect_response(CORRECTIONS) as third:
        page.keyboard.press("2")
    assert third.value.request.post_data_json["image"] != posted["image"]
    assert third.value.status == 201
    expect(page.get_by_test_id("correction-status")).to_have_text("Saved: it was 2.")
    page.locator(".number-digit").nth(1).click()
    expect(page.get_by_test_id("correction-status")).to_have_text(
        "Saved: 1 is right (replaces your earlier choice)."
    )
    expect(page.get_by_test_id("right")).to_have_attribute("aria-pressed", "true")


# ---------------------------------------------------------------------------------------------
# The mode switch
# ---------------------------------------------------------------------------------------------


def test_switching_modes_clears_and_digit_mode_still_reads_digits(page, live_server_url):
    page.set_viewport_size(DESKTOP)
    page.goto(live_server_url)
    digit_mode = page.get_by_test_id("mode-digit")
    number_mode = page.get_by_test_id("mode-number")
    canvas = page.get_by_test_id("canvas")
    expect(digit_mode).to_have_attribute("aria-pressed", "true")
    expect(number_mode).to_have_attribute("aria-pressed", "false")
    square = canvas.bounding_box()
    assert square["width"] == square["height"]

    number_mode.click()
    assert page.evaluate("location.hash") == "#number"
    expect(number_mode).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".hint")).to_have_text("Write a number")
    write_with_mouse(page, OTHER_NUMBER)
    expect_number(page, OTHER_NUMBER_TEXT)

    digit_mode.click()
    assert page.evaluate("location.hash") == ""
    expect_state(page, "idle")
    expect(page.get_by_test_id("status")).to_have_text("No digit drawn yet.")
    expect(page.get_by_test_id("number")).to_be_hidden()
    expect(page.locator(".digit-box")).to_have_count(0)
    assert canvas.bounding_box() == square
    assert ink_pixels(page) == 0
    draw_with_mouse(page, strokes_named("7-crossed"))
    expect_state(page, "done")
    expect_prediction(page, "7")
    expect(page.get_by_test_id("confidence")).to_have_text(re.compile(r"^>?\d{1,3}(\.\d)?% confident$"))
    expect(page.get_by_test_id("correction-target")).to_be_hidden()

    # Back to Number mode: the digit is gone.
    number_mode.click()
    expect_state(page, "idle")
    expect(page.get_by_test_id("number")).to_have_text("")
    assert ink_pixels(page) == 0

    # The hash chooses the mode: changed on the page, or in a link that opens it.
    digit_mode.click()
    page.evaluate("location.hash = 'number'")
    expect(number_mode).to_have_attribute("aria-pressed", "true")
    page.goto("about:blank")
    page.goto(f"{live_server_url}/#number")
    expect(page.get_by_test_id("mode-number")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("status")).to_have_text("No number written yet.")
    # The hash names no element to scroll to.
    assert page.evaluate("[window.scrollX, window.scrollY]") == [0, 0]
    wide = canvas.bounding_box()
    assert wide["width"] == pytest.approx(NUMBER_PAD_ASPECT * wide["height"], abs=1)


# ---------------------------------------------------------------------------------------------
# Phones
# ---------------------------------------------------------------------------------------------


def in_view(box):
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= PHONE["width"]
        and box["y"] + box["height"] <= PHONE["height"]
    )


def test_phone_layout_fits_the_wide_pad(browser, live_server_url, artifacts_dir):
    context = browser.new_context(viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(f"{live_server_url}/#number")
        canvas = page.get_by_test_id("canvas")
        box = canvas.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert box["width"] >= 0.9 * PHONE["width"]
        assert canvas.evaluate("canvas => [canvas.width, canvas.height]") == [
            round(box["width"] * 3), round(box["height"] * 3)
        ]
        scroll_before = page.evaluate("[window.scrollX, window.scrollY]")
        digits = write_with_touch(page, NUMBER)
        expect_number(page, NUMBER_TEXT)
        assert page.evaluate("[window.scrollX, window.scrollY]") == scroll_before
        assert_boxes_fit_the_ink(page, digits)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        for element in [page.get_by_test_id("number"), *page.locator(".number-digit").all()]:
            assert in_view(element.bounding_box())
        for test_id in ("canvas", "correction-target", "right", "wrong-0", "wrong-9"):
            assert in_view(page.get_by_test_id(test_id).bounding_box()), test_id

        # A tap on a digit's box chooses it.
        second = page.locator(".digit-box").nth(1).bounding_box()
        page.touchscreen.tap(second["x"] + second["width"] / 2, second["y"] + second["height"] / 2)
        expect(page.get_by_test_id("correction-target")).to_have_text("Digit 2 of 4, read as 1:")
        expect(page.locator(".probability.is-winner")).to_have_attribute("data-digit", "1")
        page.screenshot(path=artifacts_dir / "number-phone.png", animations="disabled")
    finally:
        context.close()
