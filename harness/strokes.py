"""Handwritten digits as pen strokes, for drawing on the page in end-to-end tests.

Each example is a list of strokes in the order a writer draws them; each stroke is a list of
(x, y) points in the unit square, x to the right and y downwards like the canvas. The digits
fill roughly the middle 60% of the height and are about half to two thirds as wide as they
are tall, as on a writing pad. Several writing styles per digit, including the crossed seven
and the flagged one of continental Europe and Latin America, which MNIST's writers rarely used.

    python -m harness.strokes OUT.png    # a contact sheet of every example, to look at them
"""

import math

from PIL import Image, ImageDraw

# The project's one stroke renderer, the page's drawing in Skia; tests draw their images with it.
from handwriting.render import encode, render  # noqa: F401


def arc(centre_x, centre_y, radius_x, radius_y, start_degrees, end_degrees, points=40):
    """Points on an ellipse from start to end angle; angles grow clockwise on screen (y down)."""
    return [
        (
            centre_x + radius_x * math.cos(math.radians(angle)),
            centre_y + radius_y * math.sin(math.radians(angle)),
        )
        for angle in _steps(start_degrees, end_degrees, points)
    ]


def line(start, end, points=12):
    return [
        (start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t)
        for t in _steps(0.0, 1.0, points)
    ]


def bezier(start, control_1, control_2, end, points=40):
    """A cubic Bezier curve."""
    curve = []
    for t in _steps(0.0, 1.0, points):
        u = 1 - t
        curve.append(
            tuple(
                u**3 * p0 + 3 * u**2 * t * p1 + 3 * u * t**2 * p2 + t**3 * p3
                for p0, p1, p2, p3 in zip(start, control_1, control_2, end)
            )
        )
    return curve


def joined(*pieces):
    """One stroke from pieces that each start where the previous one ends."""
    stroke = list(pieces[0])
    for piece in pieces[1:]:
        stroke.extend(piece[1:])
    return stroke


def slanted(stroke, slant, pivot_y=0.5):
    """Lean a stroke to the right by shifting points above `pivot_y` right, below it left."""
    return [(x + slant * (pivot_y - y), y) for x, y in stroke]


def _steps(start, end, count):
    return [start + (end - start) * index / (count - 1) for index in range(count)]


def _figure_eight(centre_x, centre_y, top_size, bottom_size, points=80):
    """A vertical figure eight from the top, its loops crossing at (centre_x, centre_y).

    The loops are the halves of a lemniscate of Gerono, each (half-width, height) as given.
    The top loop is drawn to the left first, the way most people write an 8 in one stroke.
    """
    stroke = []
    for t in _steps(0.0, 2 * math.pi, points):
        half_width, height = top_size if math.cos(t) > 0 else bottom_size
        stroke.append((centre_x - half_width * math.sin(2 * t), centre_y - height * math.cos(t)))
    return stroke


def _zero_oval():
    return [arc(0.5, 0.5, 0.19, 0.3, -80, -80 - 370, 60)]


def _zero_slanted():
    # Starts at the upper right and leaves a small gap where the pen lifts, as fast writers do.
    return [slanted(arc(0.5, 0.5, 0.17, 0.29, -60, -60 - 345, 60), 0.2)]


def _one_plain():
    return [line((0.5, 0.2), (0.5, 0.8))]


def _one_slanted():
    return [line((0.57, 0.2), (0.44, 0.8))]


def _one_flag():
    return [joined(line((0.37, 0.38), (0.56, 0.2)), line((0.56, 0.2), (0.55, 0.8), 20))]


def _two_plain():
    return [
        joined(
            arc(0.5, 0.36, 0.18, 0.15, 200, 355),
            bezier((0.68, 0.35), (0.66, 0.52), (0.45, 0.62), (0.3, 0.79)),
            line((0.3, 0.79), (0.72, 0.78)),
        )
    ]


def _two_looped():
    # The American school 2: the diagonal curls into a loop at the bottom left, crosses
    # itself and runs on into the base.
    return [
        joined(
            arc(0.5, 0.35, 0.18, 0.15, 200, 355),
            bezier((0.68, 0.34), (0.66, 0.52), (0.5, 0.64), (0.4, 0.75)),
            arc(0.35, 0.71, 0.07, 0.06, 45, 300, 30),
            bezier((0.385, 0.658), (0.42, 0.72), (0.45, 0.78), (0.5, 0.78), 12),
            line((0.5, 0.78), (0.72, 0.775)),
        )
    ]


def _three_round():
    return [
        joined(
            arc(0.5, 0.35, 0.16, 0.15, -155, 90),
            arc(0.5, 0.64, 0.19, 0.16, -90, 150),
        )
    ]


def _three_flat_top():
    # A flat top and a diagonal to the middle, as many writers in Europe draw it.
    return [
        joined(
            line((0.32, 0.21), (0.68, 0.21)),
            line((0.68, 0.21), (0.47, 0.46)),
            arc(0.5, 0.63, 0.19, 0.17, -100, 150),
        )
    ]


def _four_open():
    return [
        joined(line((0.34, 0.2), (0.3, 0.58), 14), line((0.3, 0.58), (0.74, 0.58), 14)),
        line((0.63, 0.26), (0.62, 0.8), 16),
    ]


def _four_closed():
    return [
        joined(line((0.6, 0.2), (0.27, 0.6), 16), line((0.27, 0.6), (0.75, 0.6), 14)),
        line((0.6, 0.2), (0.6, 0.8), 16),
    ]


def _five_two_strokes():
    return [
        joined(
            line((0.37, 0.21), (0.34, 0.46), 10),
            bezier((0.34, 0.46), (0.48, 0.38), (0.74, 0.44), (0.7, 0.62)),
            bezier((0.7, 0.62), (0.66, 0.8), (0.42, 0.84), (0.3, 0.73)),
        ),
        line((0.37, 0.21), (0.7, 0.2)),
    ]


def _five_one_stroke():
    return [
        joined(
            line((0.68, 0.2), (0.37, 0.21), 10),
            line((0.37, 0.21), (0.35, 0.47), 10),
            arc(0.48, 0.63, 0.2, 0.17, -130, 140),
        )
    ]


def _six_curved():
    return [
        joined(
            bezier((0.64, 0.2), (0.46, 0.24), (0.33, 0.42), (0.33, 0.64)),
            arc(0.5, 0.64, 0.17, 0.16, 180, -170, 50),
        )
    ]


def _six_straight_stem():
    return [
        joined(
            line((0.6, 0.2), (0.35, 0.62), 16),
            arc(0.5, 0.66, 0.16, 0.14, 195, -160, 50),
        )
    ]


def _seven_plain():
    return [joined(line((0.28, 0.22), (0.72, 0.22)), line((0.72, 0.22), (0.42, 0.8), 20))]


def _seven_crossed():
    # The continental 7: a small hook at the start and a bar across the stem.
    return [
        joined(
            line((0.29, 0.27), (0.31, 0.21), 6),
            line((0.31, 0.21), (0.72, 0.21)),
            bezier((0.72, 0.21), (0.6, 0.4), (0.5, 0.6), (0.47, 0.8), 24),
        ),
        line((0.42, 0.5), (0.71, 0.5)),
    ]


def _eight_one_stroke():
    return [slanted(_figure_eight(0.5, 0.47, (0.14, 0.25), (0.18, 0.31)), 0.1)]


def _eight_two_circles():
    return [
        arc(0.5, 0.34, 0.14, 0.13, 0, 365),
        arc(0.5, 0.63, 0.18, 0.17, -90, 275),
    ]


def _nine_straight_tail():
    return [
        joined(
            arc(0.49, 0.35, 0.17, 0.15, 10, -355, 50),
            line((0.665, 0.376), (0.65, 0.8), 16),
        )
    ]


def _nine_curved_tail():
    return [
        joined(
            arc(0.49, 0.35, 0.17, 0.15, 0, -360, 50),
            bezier((0.66, 0.35), (0.68, 0.58), (0.6, 0.8), (0.38, 0.78), 30),
        )
    ]


STROKE_DIGITS = [
    ("0-oval", 0, _zero_oval()),
    ("0-slanted", 0, _zero_slanted()),
    ("1-plain", 1, _one_plain()),
    ("1-slanted", 1, _one_slanted()),
    ("1-flag", 1, _one_flag()),
    ("2-plain", 2, _two_plain()),
    ("2-looped", 2, _two_looped()),
    ("3-round", 3, _three_round()),
    ("3-flat-top", 3, _three_flat_top()),
    ("4-open", 4, _four_open()),
    ("4-closed", 4, _four_closed()),
    ("5-two-strokes", 5, _five_two_strokes()),
    ("5-one-stroke", 5, _five_one_stroke()),
    ("6-curved", 6, _six_curved()),
    ("6-straight-stem", 6, _six_straight_stem()),
    ("7-plain", 7, _seven_plain()),
    ("7-crossed", 7, _seven_crossed()),
    ("8-one-stroke", 8, _eight_one_stroke()),
    ("8-two-circles", 8, _eight_two_circles()),
    ("9-straight-tail", 9, _nine_straight_tail()),
    ("9-curved-tail", 9, _nine_curved_tail()),
]


def strokes_named(name):
    return next(strokes for example_name, _, strokes in STROKE_DIGITS if example_name == name)


def to_canvas(strokes, box, scale=1.0, offset=(0.0, 0.0)):
    """Map unit-square strokes to page pixels inside `box` (a Playwright bounding box).

    `scale` shrinks or enlarges the digit about the centre of the box; `offset` moves it by a
    fraction of the box's size, so one example can be drawn small, large or off-centre.
    """
    return [
        [
            (
                box["x"] + (0.5 + (x - 0.5) * scale + offset[0]) * box["width"],
                box["y"] + (0.5 + (y - 0.5) * scale + offset[1]) * box["height"],
            )
            for x, y in stroke
        ]
        for stroke in strokes
    ]


def contact_sheet(size=140, columns=6):
    rows = math.ceil(len(STROKE_DIGITS) / columns)
    sheet = Image.new("L", (columns * size, rows * (size + 16)), 200)
    draw = ImageDraw.Draw(sheet)
    for index, (name, _, strokes) in enumerate(STROKE_DIGITS):
        left, top = (index % columns) * size, (index // columns) * (size + 16)
        sheet.paste(render(strokes, size - 4), (left + 2, top + 2))
        draw.text((left + 4, top + size), name, fill=0)
    return sheet


if __name__ == "__main__":
    import sys

    contact_sheet().save(sys.argv[1])


def pen_digit_text(label, writer, strokes):
    lines = [f'.SEGMENT DIGIT 0 ? "{label}"', f".COMMENT {label} {writer} 0"]
    for stroke in strokes:
        lines += [".PEN_DOWN", *(f" {x} {y}" for x, y in stroke), ".PEN_UP", ".DT 100"]
    return "\n".join(lines)
