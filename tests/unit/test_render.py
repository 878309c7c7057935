"""The stroke renderer: ink where the strokes go, and the same picture the page draws."""


import numpy as np
import pytest

from handwriting.render import PEN_WIDTH_SHARE, SENT_SIZE, render
from harness.strokes import STROKE_DIGITS, strokes_named


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








def test_every_example_digit_renders_with_ink():
    for name, _, strokes in STROKE_DIGITS:
        assert ink(render(strokes)).sum() > 200, name
