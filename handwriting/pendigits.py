"""Other people's digits: the pen trajectories of UCI's pendigits, drawn as the page draws.

`pendigits-orig.tra` holds 7,494 digits written by 30 people on a tablet (UNIPEN format: each
digit a `.SEGMENT` with its label, a `.COMMENT` naming the writer, then strokes of `x y` points
between `.PEN_DOWN` and `.PEN_UP`, y pointing up, a point every 100 ms). Digits of one writer
are never split between training and validation (`split_by_writer`): a model is judged on
people it has never seen.

The tablet's points are 100 ms apart, so a stroke is a coarse polygon where a browser records a
point every few milliseconds; a Catmull-Rom spline through the points stands in for the points
the browser would have recorded. Each digit is then drawn with the page's own renderer
(handwriting.render) with the variety real users bring: size and place on the pad, slant and
tilt, pen width, and the size of the image that reaches the server.
"""

import math
from dataclasses import dataclass

import numpy as np

from handwriting.render import PEN_WIDTH_SHARE, SENT_SIZE, encode, render
from model.preprocessing import preprocess

# Drawn by random.Random(10).sample(range(1, 31), 5) before any model was trained on the
# strokes, and never changed since: these writers choose epochs, augmentation and architecture,
# and are never trained on.
VALIDATION_WRITERS = (1, 2, 14, 16, 19)
# Their digits are each drawn twice to be judged: as the page draws them by default, and once
# more with random variety (always the same, from this seed).
EVALUATION_DRAWINGS = 2
EVALUATION_SEED = 0

# Catmull-Rom points per 100 ms step: 4 gives a point every 25 ms, as dense as a slow browser's.
POINTS_PER_STEP = 4
# The tablet recorded a point every 100 ms, so a smoothed stroke has a point every this many.
POINT_MILLISECONDS = 100 / POINTS_PER_STEP
# The pen's time in the air between two strokes of a digit, in milliseconds (from, to).
PEN_UP_MILLISECONDS = (120, 400)


@dataclass(frozen=True)
class PenDigit:
    label: int
    writer: int
    strokes: tuple  # of (N, 2) float arrays in tablet coordinates, y pointing up


def parse_pendigits(text):
    """The digits of a UNIPEN file's text, in file order."""
    digits = []
    label = writer = None
    strokes, points = [], None
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        keyword = fields[0]
        if keyword == ".SEGMENT":
            if label is not None:
                digits.append(PenDigit(label, writer, tuple(strokes)))
            label, writer, strokes = int(fields[-1].strip('"')), None, []
        elif keyword == ".COMMENT":
            writer = int(fields[2])
        elif keyword == ".PEN_DOWN":
            points = []
        elif keyword == ".PEN_UP":
            strokes.append(np.array(points, dtype=np.float64).reshape(-1, 2))
            points = None
        elif points is not None and not keyword.startswith("."):
            points.append((float(fields[0]), float(fields[1])))
    if label is not None:
        digits.append(PenDigit(label, writer, tuple(strokes)))
    return digits


def read_pendigits(path):
    with open(path, encoding="ascii") as file:
        return parse_pendigits(file.read())


def split_by_writer(digits, validation_writers=VALIDATION_WRITERS):
    """(training digits, validation digits): every writer's digits on one side only."""
    validation_writers = set(validation_writers)
    training = [digit for digit in digits if digit.writer not in validation_writers]
    validation = [digit for digit in digits if digit.writer in validation_writers]
    return training, validation


def catmull_rom(points, steps=POINTS_PER_STEP):
    """A smooth curve through the points (uniform Catmull-Rom spline), `steps` points a segment."""
    if len(points) < 3:
        return points
    padded = np.concatenate([points[:1], points, points[-1:]])
    before, start, end, after = padded[:-3], padded[1:-2], padded[2:-1], padded[3:]
    t = (np.arange(steps) / steps)[None, :, None]
    curve = 0.5 * (
        2 * start[:, None]
        + (end - before)[:, None] * t
        + (2 * before - 5 * start + 4 * end - after)[:, None] * t**2
        + (3 * start - before - 3 * end + after)[:, None] * t**3
    )
    return np.concatenate([curve.reshape(-1, 2), points[-1:]])


@dataclass(frozen=True)
class Drawing:
    """How one person drew one digit on the pad, and what reached the server."""

    height: float = 0.6  # the digit's height as a share of the pad's side
    centre: tuple = (0.5, 0.5)  # where the digit's box is centred, in the unit square
    slant: float = 0.0  # x shifted by slant * (height above the middle): > 0 leans right
    tilt_degrees: float = 0.0  # rotation, clockwise
    stretch: float = 1.0  # width multiplied by this
    pen_share: float = PEN_WIDTH_SHARE  # the pen's width as a share of the pad's side
    image_size: int = SENT_SIZE  # the side of the image sent


# As the page draws it by default: a mid-sized digit in the middle of the pad.
PAGE_DRAWING = Drawing()


def random_drawing(rng):
    """The variety users bring: small to large digits anywhere on the pad, slanted or tilted,
    other pens and other image sizes (the page's own copy is 112 pixels; uploads differ)."""
    height = rng.uniform(0.3, 0.85)
    return Drawing(
        height=height,
        centre=tuple(rng.uniform(0.5 - (0.9 - height) / 2, 0.5 + (0.9 - height) / 2, size=2)),
        slant=rng.uniform(-0.25, 0.25),
        tilt_degrees=rng.uniform(-8, 8),
        stretch=math.exp(rng.uniform(-0.15, 0.15)),
        pen_share=PEN_WIDTH_SHARE * math.exp(rng.uniform(-0.5, 0.4)),
        image_size=SENT_SIZE if rng.random() < 0.7 else int(rng.integers(56, 281)),
    )


def page_strokes(digit, drawing=PAGE_DRAWING):
    """The digit's strokes in the unit square (y down) as `drawing` puts them on the pad."""
    strokes = [catmull_rom(stroke * (1.0, -1.0)) for stroke in digit.strokes if len(stroke)]
    if not strokes:
        return []
    points = np.concatenate(strokes)
    middle = (points.min(axis=0) + points.max(axis=0)) / 2
    angle = math.radians(drawing.tilt_degrees)
    # Stretch, slant (y is down: points above the middle have negative y), then rotate.
    shape = np.array([[drawing.stretch, -drawing.slant], [0.0, 1.0]])
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    transform = rotation @ shape
    strokes = [(stroke - middle) @ transform.T for stroke in strokes]
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    extent = np.maximum(high - low, 1e-6)
    # Digits are drawn to a height; a very wide one is narrowed to fit the pad, pen and all.
    scale = min(drawing.height / extent[1], (0.95 - drawing.pen_share) / extent[0])
    # The centre asked for moves as little as needed to keep the ink and its pen on the pad.
    margin = extent * scale / 2 + drawing.pen_share / 2
    place = np.clip(drawing.centre, margin, 1 - margin)
    return [(stroke - (low + high) / 2) * scale + place for stroke in strokes]


def timed(strokes, rng=None, start=0.0):
    """Strokes of (x, y) points as the page sends them: (N, 3) arrays of x, y and t, the
    milliseconds since `start`, a point every POINT_MILLISECONDS as the tablet's smoothed path
    has them, and the pen in the air between strokes for PEN_UP_MILLISECONDS (their middle, or
    drawn from `rng`)."""
    timed_strokes, now = [], start
    for index, stroke in enumerate(strokes):
        if index:
            now += rng.uniform(*PEN_UP_MILLISECONDS) if rng is not None else sum(PEN_UP_MILLISECONDS) / 2
        times = now + POINT_MILLISECONDS * np.arange(len(stroke))
        timed_strokes.append(np.column_stack([np.asarray(stroke, dtype=np.float64)[:, :2], times]))
        now = times[-1] if len(times) else now
    return timed_strokes


def draw(digit, drawing=PAGE_DRAWING):
    """The digit as the image the page would send: black on white, `drawing.image_size` square."""
    return render(page_strokes(digit, drawing), size=drawing.image_size, pen_fraction=drawing.pen_share)


def drawn_for_the_model(digits, drawings_per_digit, seed, page_drawing_first=False):
    """(images (N, 28, 28) uint8, labels, writers): each digit drawn `drawings_per_digit` ways,
    sent as the page sends it (a PNG) and brought to MNIST's form by the server's own
    preprocessing, `model.preprocessing.preprocess`.

    With `page_drawing_first`, each digit's first drawing is PAGE_DRAWING, the rest random.
    """
    return drawn_with_strokes(digits, drawings_per_digit, seed, page_drawing_first, keep_strokes=False)[:3]


def drawn_with_strokes(digits, drawings_per_digit, seed, page_drawing_first=False, keep_strokes=True):
    """drawn_for_the_model's (images, labels, writers), and the strokes of each drawing as the
    page sends them beside its image: (N, 3) arrays of x, y in the sent image's pixels and t
    (`timed`, the pen in the air the middle of its usual time); none kept without
    `keep_strokes` (the image network's training draws 62,450 drawings and reads no strokes)."""
    rng = np.random.default_rng(seed)
    images, labels, writers, strokes = [], [], [], []
    for digit in digits:
        for index in range(drawings_per_digit):
            drawing = PAGE_DRAWING if page_drawing_first and index == 0 else random_drawing(rng)
            on_the_pad = page_strokes(digit, drawing)
            image = preprocess(encode(render(on_the_pad, size=drawing.image_size, pen_fraction=drawing.pen_share)))
            if image is not None:
                images.append(image)
                labels.append(digit.label)
                writers.append(digit.writer)
                if keep_strokes:
                    strokes.append(timed([stroke * drawing.image_size for stroke in on_the_pad]))
    return (
        np.stack(images) if images else np.zeros((0, 28, 28), np.uint8),
        np.array(labels, dtype=np.uint8),
        np.array(writers, dtype=np.int16),
        strokes,
    )


def accuracy_report(labels, predicted, writers):
    """Accuracy overall, per digit and per writer, with the worst writer named."""
    labels, predicted, writers = (np.asarray(array) for array in (labels, predicted, writers))
    correct = labels == predicted
    per_writer = {
        int(writer): float(correct[writers == writer].mean()) for writer in np.unique(writers)
    }
    worst = min(per_writer, key=per_writer.get) if per_writer else None
    return {
        "accuracy": float(correct.mean()) if len(correct) else float("nan"),
        "per_digit": [
            float(correct[labels == digit].mean()) if (labels == digit).any() else float("nan")
            for digit in range(10)
        ],
        "per_writer": per_writer,
        "worst_writer": worst,
        "images": int(len(correct)),
    }


def validation_drawings(digits):
    """(images, labels, writers) by which models are compared: the same drawings every time."""
    return validation_drawings_with_strokes(digits)[:3]


def validation_drawings_with_strokes(digits):
    """validation_drawings' (images, labels, writers) and the strokes each was drawn with, as
    the page sends them (drawn_with_strokes): what the stroke network is judged on."""
    return drawn_with_strokes(digits, EVALUATION_DRAWINGS, EVALUATION_SEED, page_drawing_first=True)
