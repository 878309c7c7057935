"""Writing styles that MNIST lacks: crossed sevens and flagged ones, drawn onto MNIST's digits
the way they are written in much of Europe and Latin America."""

import numpy as np
from PIL import Image, ImageDraw

IMAGE_SIZE = 28


# Strokes are drawn at four times MNIST's resolution and shrunk, so they are anti-aliased
# like MNIST's own strokes.
SUPERSAMPLING = 4


def draw_stroke(image, start, end, width):
    """Return `image` with an anti-aliased line from start to end ((row, col) in pixels)."""
    size = IMAGE_SIZE * SUPERSAMPLING
    canvas = Image.new("L", (size, size), 0)
    scale = lambda point: (point[1] * SUPERSAMPLING, point[0] * SUPERSAMPLING)  # noqa: E731
    ImageDraw.Draw(canvas).line(
        [scale(start), scale(end)], fill=255, width=round(width * SUPERSAMPLING)
    )
    stroke = np.asarray(canvas.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BOX))
    return np.maximum(image, stroke)


def add_crossbar(seven, rng):
    """Cross the stem of a seven halfway down, as a continental writer does."""
    rows, columns = np.nonzero(seven > 128)
    if len(rows) == 0:
        return seven
    row = int(rows.min() + (rows.max() - rows.min()) * rng.uniform(0.45, 0.6))
    stem = columns[rows == row]
    if len(stem) == 0:
        return seven
    centre = stem.mean()
    half_length = rng.uniform(3.5, 6.0)
    tilt = rng.uniform(-1.0, 1.0)
    return draw_stroke(
        seven,
        (row + tilt, centre - half_length),
        (row - tilt, centre + half_length),
        width=rng.uniform(1.5, 2.8),
    )


def add_flag(one, rng):
    """Give a one the long up-stroke from the left that many writers outside the US draw."""
    rows, columns = np.nonzero(one > 128)
    if len(rows) == 0:
        return one
    top = rows.min()
    column = columns[rows == top].mean()
    length = rng.uniform(4.5, 8.0)
    angle = np.deg2rad(rng.uniform(35, 60))  # Below the horizontal, pointing left.
    end = (top + length * np.sin(angle), column - length * np.cos(angle))
    return draw_stroke(one, (top, column), end, width=rng.uniform(1.5, 2.8))


def add_writing_styles(images, labels, rng, share=0.3):
    """Append restyled copies of a share of the sevens and ones."""
    new_images = []
    for digit, restyle in ((7, add_crossbar), (1, add_flag)):
        candidates = np.flatnonzero(labels == digit)
        chosen = rng.choice(candidates, size=int(len(candidates) * share), replace=False)
        new_images += [(restyle(images[index], rng), digit) for index in chosen]
    if not new_images:
        return images, labels
    extra_images, extra_labels = zip(*new_images)
    return (
        np.concatenate([images, np.stack(extra_images)]),
        np.concatenate([labels, np.array(extra_labels, dtype=labels.dtype)]),
    )
