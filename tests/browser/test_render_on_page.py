"""handwriting/render.py draws strokes as the page does: the same strokes drawn on the page in
Chromium and by the renderer share their ink."""

import io

import numpy as np
import pytest
from PIL import Image

from harness.browser import draw_with_mouse, expect_state, start_over
from harness.strokes import encode, render, strokes_named
from model.pad import SENT_SIZE
from model.preprocessing import decode_data_url


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["2-looped", "4-open", "7-crossed", "8-one-stroke"])
def test_renderer_matches_the_page_drawing_of_the_same_strokes(pad, classifier, name):
    start_over(pad)
    draw_with_mouse(pad, strokes_named(name))
    expect_state(pad, "done")
    # The points the page recorded, in fractions of the pad, and the image it sends.
    recorded = pad.evaluate("() => digitpad.strokes.map(stroke => stroke.map(p => [p.x, p.y]))")
    sent_png = decode_data_url(pad.evaluate("() => digitpad.drawingAsSent().image"))
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
