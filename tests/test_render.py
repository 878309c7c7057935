"""The stroke renderer: ink where the strokes go, and the same picture the page draws."""

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from handwriting.render import PEN_WIDTH_SHARE, SENT_SIZE, encode, render
from model.preprocessing import decode_data_url
from tests.strokes import STROKE_DIGITS, strokes_named
from tests.test_e2e import draw_with_mouse, expect_state, start_over


def test_the_page_and_the_renderer_share_pen_width_and_sent_size():
    script = (Path(__file__).resolve().parent.parent / "static" / "app.js").read_text()
    numerator, denominator = re.search(r"const PEN_WIDTH_SHARE = (\d+) / (\d+);", script).groups()
    assert PEN_WIDTH_SHARE == int(numerator) / int(denominator)
    assert SENT_SIZE == int(re.search(r"const SENT_SIZE = (\d+);", script).group(1))


def ink(image):
    return np.asarray(image) < 128


def test_a_horizontal_stroke_inks_its_line_with_the_pen_width_and_round_ends():
    image = render([[(0.2, 0.5), (0.8, 0.5)]], size=140)
    assert image.size == (140, 140) and image.mode == "L"
    mask = ink(image)
    rows, columns = np.nonzero(mask)
    pen = 140 * PEN_WIDTH_SHARE  # 10 pixels
    assert rows.max() - rows.min() + 1 == pytest.approx(pen, abs=1.5)
    # Round caps reach half a pen beyond each end point.
    assert columns.min() == pytest.approx(0.2 * 140 - pen / 2, abs=1.5)
    assert columns.max() == pytest.approx(0.8 * 140 + pen / 2, abs=1.5)
    assert not mask[:50].any() and not mask[90:].any()


def test_the_page_default_is_black_on_white_anti_aliased_and_the_sent_size():
    image = np.asarray(render(strokes_named("3-round")))
    assert image.shape == (SENT_SIZE, SENT_SIZE)
    assert image.min() == 0 and image.max() == 255
    assert image[0, 0] == 255
    grey = (image > 0) & (image < 255)
    assert grey.sum() > 100, "edges should be anti-aliased"


def test_a_lone_point_is_a_round_dot():
    mask = ink(render([[(0.5, 0.5)]], size=280))
    area = mask.sum()
    radius = 280 * PEN_WIDTH_SHARE / 2
    assert area == pytest.approx(np.pi * radius**2, rel=0.1)


def test_curves_bend_through_the_midpoints_as_on_the_page():
    # Three points: the page draws a quadratic curve to the midpoint, then a line, never the
    # corner at (0.8, 0.2) itself.
    image = render([[(0.2, 0.2), (0.8, 0.2), (0.8, 0.8)]], size=200, pen_fraction=0.02)
    mask = ink(image)
    assert not mask[38:42, 158:162].any(), "the corner should be rounded off"
    assert mask[int(0.5 * 200), int(0.8 * 200)]


def test_scale_offset_and_non_square_sizes_place_the_drawing():
    one = strokes_named("1-plain")
    wide = ink(render(one, size=(300, 100)))
    columns = np.nonzero(wide.any(axis=0))[0]
    assert 140 <= columns.mean() <= 160  # centred in the square in the middle
    moved = ink(render(one, size=200, offset=(0.25, 0.0)))
    assert np.nonzero(moved.any(axis=0))[0].mean() == pytest.approx(150, abs=3)
    small = ink(render(one, size=200, scale=0.5))
    rows = np.nonzero(small.any(axis=1))[0]
    assert rows.max() - rows.min() == pytest.approx(0.6 * 0.5 * 200 + 200 / 14, abs=3)


def test_an_empty_drawing_is_blank_paper():
    assert np.asarray(render([])).min() == 255


# --- The page's own drawing of the same strokes ------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["2-looped", "4-open", "7-crossed", "8-one-stroke"])
def test_renderer_matches_the_page_drawing_of_the_same_strokes(pad, classifier, name):
    start_over(pad)
    draw_with_mouse(pad, strokes_named(name))
    expect_state(pad, "done")
    # The points the page recorded, in fractions of the pad, and the image it sends.
    recorded = pad.evaluate("() => strokes.map(stroke => stroke.map(p => [p.x, p.y]))")
    sent_png = decode_data_url(pad.evaluate("() => drawingAsSent().image"))
    sent = Image.open(io.BytesIO(sent_png)).convert("L")
    ours = render(recorded)
    assert sent.size == ours.size == (SENT_SIZE, SENT_SIZE)

    page_pixels = np.asarray(sent, dtype=np.float64)
    our_pixels = np.asarray(ours, dtype=np.float64)
    page_ink, our_ink = page_pixels < 128, our_pixels < 128
    overlap = (page_ink & our_ink).sum() / (page_ink | our_ink).sum()
    # Measured: 0.97-0.99 of the ink shared, under one grey level apart on average.
    assert overlap > 0.95, f"ink overlap {overlap:.3f}"
    assert np.abs(page_pixels - our_pixels).mean() < 2  # grey levels, out of 255
    # The same amount of ink in the same place, to a fraction of a pixel.
    assert ink_amount(our_pixels) == pytest.approx(ink_amount(page_pixels), rel=0.03)
    np.testing.assert_allclose(ink_centre(our_pixels), ink_centre(page_pixels), atol=0.3)
    # And the network reads both the same. (Their 28x28 forms can differ by a pixel of width:
    # the ink's box is found by a threshold, which a hair of anti-aliasing can cross.)
    page_answer, our_answer = (classifier.classify(encode(image)) for image in (sent, ours))
    assert page_answer["digit"] == our_answer["digit"]
    assert page_answer["confidence"] == pytest.approx(our_answer["confidence"], abs=0.05)


def ink_amount(pixels):
    return (255 - pixels).sum() / 255


def ink_centre(pixels):
    weights = 255 - pixels
    rows, columns = np.indices(pixels.shape)
    return (rows * weights).sum() / weights.sum(), (columns * weights).sum() / weights.sum()


def test_every_example_digit_renders_with_ink():
    for name, _, strokes in STROKE_DIGITS:
        assert ink(render(strokes)).sum() > 200, name
