"""Whole numbers written on the page's number pad, composed from one writer's pen digits.

A person writing a number keeps one hand: one slant, one pen, digits of about one size, spaced
by eye (the gap is between the inks, not between boxes, so a slanted 7's bar may reach over the
1 before it), on a line that drifts up or down a little. `compose_number` writes a number so,
from pendigits' recorded strokes, each digit first brought to the pad as handwriting.pendigits
brings a lone digit (the same smoothing and drawing), and draws it with the page's own renderer
(handwriting.render) at the size the page sends. It also knows where each digit's ink is, which
is what a reader of the image must find, and its strokes as the page would send them beside the
image (`sent_strokes`).

The number pad is NUMBER_PAD_ASPECT times as wide as it is high (static/js). Its strokes
are in units of the pad's height with the unit square centred on the pad, the frame that
handwriting.render draws a wide image in.
"""

import math
from dataclasses import dataclass

import numpy as np

from handwriting.pendigits import Drawing, page_strokes, timed
from handwriting.render import render
from model.pad import NUMBER_PAD_ASPECT, PEN_WIDTH_SHARE, SENT_SIZE
from model.stroke_groups import dense

# Gaps between neighbouring digits' inks, in digit heights, by how a person spaces them. A
# negative gap overlaps the pens' edges: the digits touch. A number of each kind has one gap of
# that kind, and its other gaps are as such a writer leaves them: a number with two digits that
# touch has its other digits close, not all touching (a chain of touching digits is another
# task, of cursive writing).
GAPS = {
    "wide": (0.35, 0.6),
    "normal": (0.12, 0.3),
    "narrow": (0.02, 0.08),
    "touching": (-0.06, -0.01),
}
OTHER_GAPS = {"wide": ("wide",), "normal": ("normal",), "narrow": ("narrow",), "touching": ("narrow", "normal")}
# Space kept free at the pad's edges, in pad heights.
MARGIN = 0.06
# How far a digit may reach over its neighbour, in digit heights, measured along the line with
# the number's slant taken out, however the inks could fit into each other: people write a
# slanted 7's bar over the 1 before it, but do not tuck a 4 into a 6.
LARGEST_OVERLAP = 0.1
# The pen in the air between one digit and the next, in milliseconds (from, to): longer than
# between a digit's own strokes (handwriting.pendigits.PEN_UP_MILLISECONDS).
BETWEEN_DIGITS_MILLISECONDS = (300, 800)


@dataclass(frozen=True)
class WrittenNumber:
    text: str
    digit_strokes: list  # each digit's strokes, (N, 2) arrays in pad heights, the unit square centred, y down
    boxes: list  # each digit's ink [x, y, width, height] in the image's pixels, left to right
    image: object  # PIL "L" image, black on white, as the page sends it
    gap: str  # the kind of its narrowest gap between neighbouring digits (GAPS)
    pen_share: float

    def digit_inks(self, darker_than=255):
        """Where each digit's ink is, alone: (digits, height, width) booleans over the image, of
        its pixels darker than the level given (by default, every pixel it touches)."""
        return np.stack([
            np.asarray(render(strokes, size=self.image.size, pen_fraction=self.pen_share)) < darker_than
            for strokes in self.digit_strokes
        ])


def sent_strokes(number, rng=None):
    """The number's strokes as the page sends them beside its image: (N, 3) arrays of x and y in
    the image's pixels and t, the milliseconds since the first point, digit after digit, each
    digit's strokes timed as handwriting.pendigits.timed times them and the pen in the air
    BETWEEN_DIGITS_MILLISECONDS between digits (their middle, or drawn from `rng`)."""
    width, height = number.image.size
    # The renderer's frame: the unit square centred on the pad, its side the image's height.
    origin = np.array([(width - height) / 2, 0.0])
    strokes, start = [], 0.0
    for digit in number.digit_strokes:
        digit_timed = timed([stroke * height + origin for stroke in digit], rng, start)
        strokes += digit_timed
        pause = rng.uniform(*BETWEEN_DIGITS_MILLISECONDS) if rng is not None else np.mean(BETWEEN_DIGITS_MILLISECONDS)
        start = digit_timed[-1][-1, 2] + pause
    return strokes


def ink_gap(left_points, right_points, shift, pen):
    """The smallest distance between two digits' inks (pens of width `pen` along the points)
    when the right one is moved `shift` to the right; negative where the inks overlap."""
    moved = right_points + (shift, 0.0)
    distances = np.linalg.norm(left_points[:, None, :] - moved[None, :, :], axis=2)
    return float(distances.min()) - pen


def place_beside(placed_points, digit_points, gap, pen):
    """How far to move a digit right so that its ink is `gap` from the ink already placed, as
    a person leaves it: moved in from the right until it first comes that close."""
    # Boxes `gap` apart leave at least that much between the inks. From there the digit moves
    # left a step at a time until the inks are closer than `gap`, then the step is halved.
    far = placed_points[:, 0].max() - digit_points[:, 0].min() + pen + max(gap, 0.0)
    step = pen / 2
    near = far - step
    while ink_gap(placed_points, digit_points, near, pen) > gap:
        far, near = near, near - step
    for _ in range(12):
        middle = (near + far) / 2
        if ink_gap(placed_points, digit_points, middle, pen) > gap:
            far = middle
        else:
            near = middle
    return far


def compose_number(digits, rng, gap="normal", image_height=SENT_SIZE, aspect=NUMBER_PAD_ASPECT):
    """One writer's `digits` (handwriting.pendigits.PenDigit, in order) written as one number
    on the number pad, spaced by a gap of the kind named (GAPS), with a slant, a drifting
    baseline and a pen of the writer's own."""
    pen_share = PEN_WIDTH_SHARE * math.exp(rng.uniform(-0.3, 0.3))
    slant = rng.uniform(-0.15, 0.3)
    line_angle = math.radians(rng.uniform(-4.0, 4.0))
    height = rng.uniform(0.45, 0.7)
    # The kind of each gap (before each digit but the first): one of the kind named, the others
    # as such a number's other gaps are.
    kinds = [OTHER_GAPS[gap][rng.integers(len(OTHER_GAPS[gap]))] for _ in digits]
    if len(digits) > 1:
        kinds[rng.integers(1, len(digits))] = gap
    styles = [
        dict(size=math.exp(rng.uniform(-0.08, 0.08)), slant=slant + rng.uniform(-0.05, 0.05),
             tilt=rng.uniform(-4.0, 4.0), stretch=math.exp(rng.uniform(-0.1, 0.1)),
             gap=rng.uniform(*GAPS[kind]), drift=rng.uniform(-0.04, 0.04))
        for kind in kinds
    ]
    while True:  # A number too wide for the pad is written smaller, as a person would.
        digit_strokes = [
            [stroke - 0.5 for stroke in page_strokes(digit, Drawing(
                height=height * style["size"], slant=style["slant"], tilt_degrees=style["tilt"],
                stretch=style["stretch"], pen_share=pen_share))]
            for digit, style in zip(digits, styles)
        ]
        lined_up = line_up(digit_strokes, styles, height, pen_share, line_angle)
        shrink = shrink_to_fit(lined_up[0], pen_share, aspect)
        if shrink >= 1:
            break
        height *= 0.95 * shrink
    text = "".join(str(digit.label) for digit in digits)
    return on_the_pad(*lined_up, text, pen_share, rng.uniform(0, 1, size=2), image_height, aspect)


def write_digits(strokes_per_digit, text, gaps, height=0.6, pen_share=PEN_WIDTH_SHARE,
                 image_height=SENT_SIZE, aspect=NUMBER_PAD_ASPECT):
    """Digits given as strokes in the unit square (tests/strokes.py), upright on a level line,
    `height` of the pad high and `gaps` apart (digit heights between the inks; negative: they
    touch), in the middle of the number pad."""
    digit_strokes = [[(np.asarray(stroke, dtype=np.float64) - 0.5) * height for stroke in strokes]
                     for strokes in strokes_per_digit]
    styles = [dict(gap=gap, drift=0.0, slant=0.0) for gap in [0.0, *gaps]]
    lined_up = line_up(digit_strokes, styles, height, pen_share, 0.0)
    if shrink_to_fit(lined_up[0], pen_share, aspect) < 1:
        raise ValueError("the digits do not fit on the number pad: write them lower or closer")
    return on_the_pad(*lined_up, text, pen_share, (0.5, 0.5), image_height, aspect)


def ink_extent(digit_strokes, pen_share):
    points = np.concatenate([np.concatenate(strokes) for strokes in digit_strokes])
    return points.min(axis=0) - pen_share / 2, points.max(axis=0) + pen_share / 2


def shrink_to_fit(digit_strokes, pen_share, aspect):
    """How much smaller the number must be to fit the pad within its margins (>= 1: it fits)."""
    low, high = ink_extent(digit_strokes, pen_share)
    return min((aspect - 2 * MARGIN) / (high[0] - low[0]), (1 - 2 * MARGIN) / (high[1] - low[1]))


def kind_of_gap(gap):
    """The kind (GAPS) of a gap between two inks, in digit heights: the one whose range it is
    in, or nearest to."""
    kinds = sorted(GAPS, key=lambda kind: GAPS[kind][0])
    for kind, wider in zip(kinds, kinds[1:]):
        if gap < (GAPS[kind][1] + GAPS[wider][0]) / 2:
            return kind
    return kinds[-1]


def on_the_pad(digit_strokes, extents, gaps, text, pen_share, place, image_height, aspect):
    """The number placed on the pad (`place`: where in the free space, 0..1 each way) and drawn.
    Its kind of gap is that of its narrowest gap as written, whatever was asked for: a digit's
    shape can keep it from coming as close to its neighbour as asked (LARGEST_OVERLAP)."""
    low, high = ink_extent(digit_strokes, pen_share)
    free = np.array([aspect, 1.0]) - 2 * MARGIN - (high - low)
    # Pad heights from the pad's left edge, then into the frame the renderer draws a wide
    # image in (the unit square centred on the pad).
    on_pad = np.array([MARGIN, MARGIN]) + np.asarray(place) * free - low
    origin = on_pad - ((aspect - 1) / 2, 0.0)
    digit_strokes = [[stroke + origin for stroke in strokes] for strokes in digit_strokes]
    image = render([stroke for strokes in digit_strokes for stroke in strokes],
                   size=(round(aspect * image_height), image_height), pen_fraction=pen_share)
    boxes = []
    for low_corner, high_corner in extents:
        left, top = (low_corner + on_pad - pen_share / 2) * image_height
        right, bottom = (high_corner + on_pad + pen_share / 2) * image_height
        boxes.append([round(left), round(top), round(right - left), round(bottom - top)])
    gap = kind_of_gap(min(gaps)) if gaps else "wide"
    return WrittenNumber(text=text, digit_strokes=digit_strokes, boxes=boxes, image=image, gap=gap,
                         pen_share=pen_share)


def line_up(digit_strokes, styles, height, pen_share, line_angle):
    """The digits' strokes (pad heights, each digit's drawn about 0) placed along a line, each
    `style["gap"]` digit heights from the ink before it: (their strokes, the first digit's ink
    from x = 0; each digit's ink extent; the gaps left between the inks, in digit heights)."""
    placed, all_strokes, extents, gaps = None, [], [], []
    reach = None  # how far right the digit before reaches, its slant taken out
    for strokes, style in zip(digit_strokes, styles):
        points = np.concatenate([dense(stroke, pen_share / 3) for stroke in strokes])
        # The baseline drifts with the line's angle, and a little from digit to digit.
        lift = style["drift"] * height + (0.0 if placed is None else math.tan(line_angle) * placed[:, 0].max())
        points = points + (0.0, lift)
        # Along the line, upright: x moved back by the slant (y is down, so a point above the
        # middle, y < 0, that leans right is moved left).
        upright = points[:, 0] + style["slant"] * points[:, 1]
        if placed is None:
            shift = -points[:, 0].min()
        else:
            shift = max(
                place_beside(placed, points, style["gap"] * height, pen_share),
                reach - upright.min() - LARGEST_OVERLAP * height,
            )
        if placed is not None:
            gaps.append(ink_gap(placed, points, shift, pen_share) / height)
        reach = upright.max() + shift
        strokes = [stroke + (shift, lift) for stroke in strokes]
        points = points + (shift, 0.0)
        placed = points if placed is None else np.concatenate([placed, points])
        all_strokes.append(strokes)
        extents.append((points.min(axis=0), points.max(axis=0)))
    return all_strokes, extents, gaps


def numbers_for_writers(digits_by_writer, count, seed, lengths=range(2, 7), gaps=tuple(GAPS),
                        image_height=SENT_SIZE):
    """`count` numbers, each by one writer (chosen at random) with random digits, every length
    and kind of gap equally often, the same every run for the same seed (whatever the height of
    the images they are drawn in)."""
    rng = np.random.default_rng(seed)
    writers = sorted(digits_by_writer)
    numbers = []
    for index in range(count):
        length = list(lengths)[index % len(lengths)]
        gap = gaps[(index // len(lengths)) % len(gaps)]
        writer = writers[rng.integers(len(writers))]
        by_label = digits_by_writer[writer]
        labels = [int(label) for label in rng.choice(sorted(by_label), size=length)]
        chosen = [by_label[label][rng.integers(len(by_label[label]))] for label in labels]
        numbers.append(compose_number(chosen, rng, gap=gap, image_height=image_height))
    return numbers


def by_writer_and_label(digits):
    """{writer: {label: [PenDigit, ...]}} of pendigits' digits."""
    grouped = {}
    for digit in digits:
        grouped.setdefault(digit.writer, {}).setdefault(digit.label, []).append(digit)
    return grouped
