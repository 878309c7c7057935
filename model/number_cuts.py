"""Cutting a piece of ink that may be two digits that touch, for the number reader
(model/numbers.py).

A wide piece the judge doubts is cut from top to bottom along paths that cross the least ink (a
path bends around a stroke that reaches over from the next digit, and crosses where two digits
touch; where two digits' strokes run together along a stretch, ink thicker than the pen costs
less to cross, so that a path can run down between them rather than across a stroke): once at
all its thinnest places, and once in two by each path from places a little apart along it.
"""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

# Where a wide piece may be cut: near the thinnest places of its ink along the line, no closer
# than CUT_MARGIN line heights to its ends or to another cut; and, cut once, from starts every
# CUT_STEP line heights.
CUT_MARGIN = 0.1


CUT_STEP = 0.075


# Two ways to cut once that put all but this share of the pixels on the same sides are one.
NEARLY_THE_SAME = 0.03


# How far a cut may bend away from the straight line along the slant, in line heights.
CUT_REACH = 0.3


# Ink deeper inside than half the pen's width costs a cut less to cross, nothing from
# 1 + RUN_TOGETHER_SPAN half pen widths deep: the middle of two strokes that run together.
RUN_TOGETHER_SPAN = 0.3


@dataclass(eq=False)  # One piece is equal only to itself (its pixels are arrays).
class Piece:
    rows: np.ndarray
    columns: np.ndarray
    values: np.ndarray  # the ink (uint8) at each pixel
    key: tuple  # (component, part): part -1 for a whole connected stroke of ink
    left: float  # extent along the line, the slant taken out
    right: float
    centre: float
    top: int
    bottom: int

    @property
    def component(self):
        return self.key[0]


def slant_of(strokes):
    """How far the writing leans: how many columns to move a row's ink right per row down to
    stand it upright, from the second moments of each large stroke, weighted by its ink."""
    covariance = variance = 0.0
    largest = max(len(rows) for rows, _, _ in strokes)
    for rows, columns, values in strokes:
        if len(rows) < 0.3 * largest:
            continue
        weights = values.astype(np.float64)
        total = weights.sum()
        row_offsets = rows - weights @ rows / total
        column_offsets = columns - weights @ columns / total
        covariance += (weights * row_offsets) @ column_offsets
        variance += (weights * row_offsets) @ row_offsets
    # Clipped: a lone stroke's own shape (a 7's bar, a 2's base) has moments too.
    return float(np.clip(-covariance / variance, -0.6, 0.6)) if variance else 0.0


def make_piece(key, rows, columns, values, line):
    along = line.along(rows, columns)
    weights = values.astype(np.float64)
    return Piece(
        rows=rows, columns=columns, values=values, key=key,
        left=float(along.min()), right=float(along.max()) + 1,
        centre=float(weights @ along / weights.sum()),
        top=int(rows.min()), bottom=int(rows.max()),
    )


def whole_piece(component, stroke, line):
    return make_piece((component, -1), *stroke, line)


class CutWindow:
    """A piece's ink in a window of its own, and the paths that cut it from top to bottom."""

    def __init__(self, piece, line):
        self.piece, self.line = piece, line
        along = line.along(piece.rows, piece.columns)
        self.left, self.width = along.min(), along.max() - along.min() + 1
        top, first_column = piece.rows.min(), piece.columns.min()
        self.local = (piece.rows - top, piece.columns - first_column)
        self.shape = (self.local[0].max() + 1, self.local[1].max() + 1)
        ink = np.zeros(self.shape)
        ink[self.local] = piece.values
        # Found once a piece: both ways of cutting it use the same window.
        self.crossing_cost = crossing_cost(ink)
        # Where a cut along the slant from a place along the line runs, column by row.
        self.slanted = -line.slant * (np.arange(top, piece.rows.max() + 1) - line.middle) - first_column + self.left
        self.thin_places = self._thin_places()

    def _thin_places(self):
        """The places along the line where the ink is thinnest, at least CUT_MARGIN line
        heights from the ends and from each other."""
        along = self.line.along(self.piece.rows, self.piece.columns)
        profile = np.bincount(np.floor(along - self.left).astype(np.int64), weights=self.piece.values.astype(np.float64))
        smoothing = max(1, int(round(0.05 * self.line.height)))
        profile = ndimage.uniform_filter1d(profile, 2 * smoothing + 1, mode="nearest")
        margin = CUT_MARGIN * self.line.height
        places = np.arange(len(profile))
        minima = places[
            (places >= margin) & (places <= len(profile) - 1 - margin)
            & (profile <= np.roll(profile, 1)) & (profile <= np.roll(profile, -1))
        ]
        chosen = []
        for candidate in sorted(minima, key=lambda place: profile[place]):
            if all(abs(candidate - place) >= margin for place in chosen):
                chosen.append(candidate)
        return sorted(chosen)

    def right_of(self, places):
        """For each place along the line, which of the piece's pixels lie right of the least-ink
        path from it (booleans, places x pixels); paths found twice are given once."""
        if not len(places):
            return np.zeros((0, len(self.piece.rows)), dtype=bool)
        starts = self.slanted[None, :] + np.asarray(places, dtype=np.float64)[:, None] + 0.5
        paths = least_ink_paths(self.crossing_cost, starts, CUT_REACH * self.line.height)
        paths = np.unique(paths, axis=0)
        return self.local[1][None, :] >= paths[:, self.local[0]]

    def part(self, key, pixels):
        piece = self.piece
        return make_piece(key, piece.rows[pixels], piece.columns[pixels], piece.values[pixels], self.line)


def crossing_cost(ink):
    """What crossing each pixel costs a cut (rows x columns, from ink 0..255): its ink, less where
    the ink is thicker than the pen. Where two digits' strokes touch along a stretch they run
    together into one band about twice as thick, with no thin place: a least-ink path would
    rather cut across one of the strokes (a 9's stem from its loop) than run down the band. So
    ink deeper inside than half the pen's width (the median depth of the strokes' middles)
    costs less, and the band's middle nothing. A single stroke's edges cost their ink and its
    middle nearly so (less where it is deeper than most, as where strokes cross)."""
    core = ink >= CORE_LEVEL
    depth = ndimage.distance_transform_edt(core)
    middles = core & (depth == ndimage.maximum_filter(depth, size=3))
    half_pen = float(np.median(depth[middles])) if middles.any() else 1.0
    run_together = np.clip((depth - half_pen) / (RUN_TOGETHER_SPAN * half_pen), 0.0, 1.0)
    return ink * (1.0 - run_together)


def cut_where_thin(window):
    """The window's piece in parts, cut from top to bottom near each of its thinnest places
    along the line (least_ink_paths); each side's connected ink is a part. The piece itself if
    it has no place to cut."""
    piece = window.piece
    side = window.right_of(window.thin_places).sum(axis=0)
    parts = []
    for index in np.unique(side):
        mine = np.flatnonzero(side == index)
        image = np.zeros(window.shape, dtype=bool)
        image[window.local[0][mine], window.local[1][mine]] = True
        fragments, count = ndimage.label(image, EIGHT_CONNECTED)
        owner = fragments[window.local[0][mine], window.local[1][mine]]
        for label in range(1, count + 1):
            parts.append(window.part((piece.component, len(parts)), mine[owner == label]))
    return parts if len(parts) > 1 else [piece]


def cut_once(window):
    """The ways to cut the window's piece in two with one path from top to bottom
    (least_ink_paths), from places every CUT_STEP line heights along it: [left part, right part]
    for each way. Ways that share all but a few of their pixels' sides are tried once."""
    piece, line = window.piece, window.line
    margin = CUT_MARGIN * line.height
    ways, kept = [], []
    for right in window.right_of(np.arange(margin, window.width - margin, CUT_STEP * line.height)):
        if right.all() or not right.any():
            continue
        if any(np.count_nonzero(right != other) < NEARLY_THE_SAME * len(right) for other in kept):
            continue
        kept.append(right)
        ways.append([window.part((piece.component, "once", len(kept), side), right == side) for side in (False, True)])
    return ways


def least_ink_paths(crossing, lines, reach):
    """For each line (a column a row), the column, row by row, of the top-to-bottom path through
    `crossing` (rows x columns: what crossing each pixel costs, as crossing_cost gives) that
    costs the least, moving at most a column a row and never further than `reach` columns from
    its line: (lines, rows) int array. All lines at once, one row at a time (dynamic
    programming)."""
    height, width = crossing.shape
    columns = np.arange(width)
    lines = np.clip(lines, 0, width - 1)
    away = np.abs(columns[None, None, :] - lines[:, :, None])
    # Ink to cross, and a little for every column away from the line, so that the path keeps
    # to it where there is no ink either way.
    cost = crossing[None] + 4.0 * away
    cost[away > max(reach, 1.0)] = np.inf
    total = cost[:, 0].copy()
    came_from = np.zeros(cost.shape, dtype=np.int8)
    padded = np.full((len(lines), width + 2), np.inf)
    for row in range(1, height):
        padded[:, 1:-1] = total
        # From the column to the left, the same column, or the column to the right.
        options = np.stack([padded[:, :-2], padded[:, 1:-1], padded[:, 2:]])
        choice = options.argmin(axis=0)
        total = np.take_along_axis(options, choice[None], axis=0)[0] + cost[:, row]
        came_from[:, row] = choice - 1
    paths = np.empty((len(lines), height), dtype=np.int64)
    paths[:, -1] = np.argmin(total, axis=1)
    every = np.arange(len(lines))
    for row in range(height - 1, 0, -1):
        paths[:, row - 1] = paths[:, row] + came_from[every, row, paths[:, row]]
    return paths


EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


CORE_LEVEL = 128  # of the ink (0..255): pixels this dark or darker are the strokes' core
