"""Driving the page's Number mode in Chromium: writing a number on the wide pad, reading its
answer and checking the boxes drawn over each digit's ink."""

import base64
import io
import re

import numpy as np
from PIL import Image
from playwright.sync_api import expect

from harness.browser import ANSWER_TIMEOUT_MS, expect_state, spaced, start_over, touch
from harness.strokes import strokes_named, to_canvas
from model.pad import PEN_WIDTH_SHARE, SENT_SIZE

# The page's DIGIT_CROP_MARGIN (static/js); the pad's constants come from model/pad.py.
DIGIT_CROP_MARGIN = 4


# style.css: how far a digit's box stands outside its ink, in CSS pixels.
BOX_OUTSET_PX = 4


PREDICT_NUMBER = "**/predict/number"


PNG_DATA_URL = re.compile(r"^data:image/png;base64,")


# Digit styles the model reads surely, alone and side by side (one of them in two strokes).
NUMBER = ("3-round", "1-plain", "4-closed", "7-plain")


NUMBER_TEXT = "3147"


OTHER_NUMBER = ("2-plain", "0-oval", "9-straight-tail")


OTHER_NUMBER_TEXT = "209"


def number_strokes(page, names, scale=0.8):
    """Each digit's strokes in page pixels: digit i of n in a square as high as the pad, centred
    at (i + 1/2) n-ths of its width, so that the digits stand apart with clear gaps."""
    box = page.get_by_test_id("canvas").bounding_box()
    side = box["height"]
    digits = []
    for index, name in enumerate(names):
        centre = box["x"] + (index + 0.5) * box["width"] / len(names)
        square = {"x": centre - side / 2, "y": box["y"], "width": side, "height": side}
        digits.append([spaced(stroke) for stroke in to_canvas(strokes_named(name), square, scale)])
    return digits


def write_with_mouse(page, names):
    """Writes the number; returns each digit's strokes in page pixels."""
    digits = number_strokes(page, names)
    for strokes in digits:
        for stroke in strokes:
            page.mouse.move(*stroke[0])
            page.mouse.down()
            for x, y in stroke[1:]:
                page.mouse.move(x, y)
            page.mouse.up()
    return digits


def write_with_touch(page, names):
    digits = number_strokes(page, names)
    touch(page, [stroke for strokes in digits for stroke in strokes])
    return digits


def answers_to_number(page):
    """The /predict/number responses the page gets from now on, in order."""
    answered = []
    page.on("response", lambda response: response.url.endswith("/predict/number") and answered.append(response))
    return answered


def expect_number(page, text):
    expect_state(page, "done")
    expect(page.get_by_test_id("number")).to_have_text(text, timeout=ANSWER_TIMEOUT_MS)


def start_number_over(page):
    if page.get_by_test_id("mode-number").get_attribute("aria-pressed") != "true":
        page.get_by_test_id("mode-number").click()
    start_over(page)
    expect(page.get_by_test_id("status")).to_have_text("No number written yet.")


def image_of_data_url(data_url):
    assert PNG_DATA_URL.match(data_url), data_url[:40]
    return Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))


def digit_boxes(page):
    boxes = page.locator(".digit-box")
    return [boxes.nth(index).bounding_box() for index in range(boxes.count())]


def ink_outside_boxes(page):
    """(dark canvas pixels, those of them outside every digit's box on the page)."""
    return page.get_by_test_id("canvas").evaluate(
        """canvas => {
            const boxes = Array.from(document.querySelectorAll(".digit-box"))
                .map((box) => box.getBoundingClientRect());
            const rect = canvas.getBoundingClientRect();
            const left = rect.left + canvas.clientLeft;
            const top = rect.top + canvas.clientTop;
            const scaleX = canvas.clientWidth / canvas.width;
            const scaleY = canvas.clientHeight / canvas.height;
            const pixels = canvas.getContext("2d")
                .getImageData(0, 0, canvas.width, canvas.height).data;
            let ink = 0;
            let outside = 0;
            for (let row = 0; row < canvas.height; row += 1) {
                for (let column = 0; column < canvas.width; column += 1) {
                    if (pixels[4 * (row * canvas.width + column)] >= 128) {
                        continue;
                    }
                    ink += 1;
                    const x = left + (column + 0.5) * scaleX;
                    const y = top + (row + 0.5) * scaleY;
                    if (!boxes.some((box) => x >= box.left && x <= box.right
                                             && y >= box.top && y <= box.bottom)) {
                        outside += 1;
                    }
                }
            }
            return [ink, outside];
        }"""
    )


def assert_boxes_fit_the_ink(page, digits):
    """One box per digit, left to right, inside the pad, each around its digit's ink."""
    canvas = page.get_by_test_id("canvas").bounding_box()
    boxes = digit_boxes(page)
    assert len(boxes) == len(digits)
    pen = canvas["height"] * PEN_WIDTH_SHARE
    # The server's boxes are whole pixels of the sent image: up to about two of them off.
    slack = 2.5 * canvas["height"] / SENT_SIZE
    for box, strokes in zip(boxes, digits):
        assert canvas["x"] <= box["x"] and box["x"] + box["width"] <= canvas["x"] + canvas["width"]
        assert canvas["y"] <= box["y"] and box["y"] + box["height"] <= canvas["y"] + canvas["height"]
        points = np.array([point for stroke in strokes for point in stroke])
        ink_low = points.min(axis=0) - pen / 2 - BOX_OUTSET_PX
        ink_high = points.max(axis=0) + pen / 2 + BOX_OUTSET_PX
        low = np.array([box["x"], box["y"]])
        high = low + (box["width"], box["height"])
        assert np.all(np.abs(low - ink_low) <= slack), (low, ink_low)
        assert np.all(np.abs(high - ink_high) <= slack), (high, ink_high)
    lefts = [box["x"] for box in boxes]
    assert lefts == sorted(lefts)
    assert all(left["x"] + left["width"] < right["x"] for left, right in zip(boxes, boxes[1:]))
    ink, outside = ink_outside_boxes(page)
    assert ink > 0 and outside == 0, (ink, outside)


def winner(page):
    return page.locator(".probability.is-winner").get_attribute("data-digit")
