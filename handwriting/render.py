"""Draw pen strokes exactly the way digitpad's page draws them (static/js).

The page keeps each stroke as points in fractions of the pad's side and draws it with the
canvas's 2D API: a round pen `PEN_WIDTH_SHARE` of the pad wide, round caps and joins,
anti-aliased, black on white, the path running through the midpoints between samples and
bending towards each sample (`quadraticCurveTo`), a lone point drawn as a dot. Chromium's canvas
is drawn by Skia, so this module draws with Skia too (skia-python): the same path operations
give the same pixels, up to anti-aliasing details (tests/browser/test_render_on_page.py compares the two).

This is the one stroke renderer of the project: the training script renders other writers'
pen strokes with it, the benchmarks and the tests draw their digits with it.
"""

import io

import numpy as np
import skia
from PIL import Image

from model.pad import PEN_WIDTH_SHARE, SENT_SIZE  # noqa: F401 (the page's pen and size; callers import them here)


def render(strokes, size=SENT_SIZE, pen_fraction=PEN_WIDTH_SHARE, scale=1.0, offset=(0.0, 0.0)):
    """A black-on-white greyscale ("L") image of unit-square strokes, drawn as the page does.

    `strokes` is a list of strokes, each a sequence of (x, y) points in the unit square (x to the
    right, y downwards, like the canvas). `size` is one side or (width, height); the unit square
    is the centred square on the shorter side, and the pen is `pen_fraction` of that side wide.
    `scale` shrinks or enlarges the drawing about the square's centre; `offset` moves it by a
    fraction of the square's side. At the defaults this is the image the page sends.
    """
    width, height = (size, size) if isinstance(size, int) else size
    side = min(width, height)
    surface = skia.Surface(width, height)
    canvas = surface.getCanvas()
    canvas.clear(skia.ColorWHITE)
    # Unit square to pixels: the page's own transform, plus the drawing's scale and offset.
    canvas.translate((width - side) / 2, (height - side) / 2)
    canvas.scale(side, side)
    canvas.translate(0.5 + offset[0], 0.5 + offset[1])
    canvas.scale(scale, scale)
    canvas.translate(-0.5, -0.5)
    pen_width = pen_fraction / scale  # The pen keeps its width in pixels whatever the scale.
    line = skia.Paint(
        AntiAlias=True,
        Color=skia.ColorBLACK,
        Style=skia.Paint.kStroke_Style,
        StrokeWidth=pen_width,
        StrokeCap=skia.Paint.kRound_Cap,
        StrokeJoin=skia.Paint.kRound_Join,
    )
    dot = skia.Paint(AntiAlias=True, Color=skia.ColorBLACK, Style=skia.Paint.kFill_Style)
    for stroke in strokes:
        points = [(float(x), float(y)) for x, y in stroke]
        if len(points) == 1:
            canvas.drawCircle(*points[0], pen_width / 2, dot)
        elif points:
            canvas.drawPath(page_path(points), line)
    pixels = surface.makeImageSnapshot().toarray()  # RGBA (or BGRA): grey, so any channel.
    return Image.fromarray(np.ascontiguousarray(pixels[..., 1]))


def page_path(points):
    """The path app.js's drawStroke() builds: quadratic curves through the midpoints."""
    path = skia.Path()
    path.moveTo(*points[0])
    for control, following in zip(points[1:-1], points[2:]):
        path.quadTo(*control, (control[0] + following[0]) / 2, (control[1] + following[1]) / 2)
    path.lineTo(*points[-1])
    return path


def encode(image, format="PNG", **options):
    """The bytes of the image saved as a file (PNG unless another format is named)."""
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()
