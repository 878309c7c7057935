"""Read a whole number: find each digit's ink, and let the digit classifier read it.

The ink is first cut into pieces, more than there are digits: each connected stroke of ink is
a piece, and a piece too wide to be one digit (digits that touch) is cut again where its ink
is thinnest. Pieces are ordered along the line, and neighbouring pieces may belong to one
digit (a 4 or a 5 in two strokes, a 7 with a separate bar, a 1 with a separate flag). Which
pieces make a digit is left to the classifier: every plausible group of neighbouring pieces is
brought to MNIST's form, as a lone digit is, and read in one batch, and the grouping whose
digits the network reads most surely (with a penalty for groups far wider or lower than a
digit of the line) is the answer. Pieces far apart are never grouped, so a number written with
clear gaps costs one reading a digit.

Positions along the line are measured with the writing's slant taken out, so a slanted 7's bar
reaching over the 1 before it does not put the two in one digit. Everything here is pure:
arrays in, arrays out; the network is the `predict` function given.
"""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from model.preprocessing import to_mnist

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
CORE_LEVEL = 128  # of the ink (0..255): pixels this dark or darker are the strokes' core
# More pieces than this are not a number written on a pad: the largest ones are kept.
MOST_PIECES = 48
# A piece is cut again where it is wider than this many line heights (touching digits).
CUT_WIDER_THAN = 0.55
# Where a wide piece may be cut: near the thinnest places of its ink along the line, no closer
# than CUT_MARGIN line heights to its ends, nor CUT_STEP to another cut.
CUT_MARGIN = 0.1
CUT_STEP = 0.1
# How far a cut may bend away from the straight line along the slant, in line heights.
CUT_REACH = 0.3
# Pieces further apart than this many line heights (after the slant is taken out) are never
# one digit.
APART = 0.0
# A group of pieces wider than this many line heights is not tried as one digit (unless it is
# one connected stroke of ink: some people write a 0 half as wide again as it is high).
WIDEST_GROUP = 1.3
WIDEST_WHOLE = 2.0
MOST_PIECES_A_DIGIT = 8
# A speck (a dot or a slip, smaller than this share of the line's height both ways) may be
# left out of the number.
SPECK = 0.25


@dataclass(frozen=True)
class Scoring:
    """What a grouping costs beyond the network's log-probabilities (natural-log units)."""

    usual_width: float = 0.9  # line heights; wider groups pay width_penalty per line height more
    width_penalty: float = 12.0
    usual_height: float = 0.55  # line heights; lower groups pay height_penalty per line height less
    height_penalty: float = 12.0
    cut_cost: float = 3.0  # for reading one connected stroke of ink as two digits
    speck_cost: float = 2.0  # for leaving a speck out
    digit_cost: float = 0.0  # for every digit read


SCORING = Scoring()


@dataclass
class Piece:
    rows: np.ndarray
    columns: np.ndarray
    values: np.ndarray  # the ink (uint8) at each pixel
    component: int  # the connected ink it is part of
    left: float  # extent along the line, slant taken out
    right: float
    centre: float
    top: int
    bottom: int


@dataclass
class Group:
    """Neighbouring pieces read as one digit."""

    pieces: list

    @property
    def box(self):
        """[x, y, width, height] of its ink in the image's pixels."""
        rows = np.concatenate([piece.rows for piece in self.pieces])
        columns = np.concatenate([piece.columns for piece in self.pieces])
        top, left = int(rows.min()), int(columns.min())
        return [left, top, int(columns.max()) - left + 1, int(rows.max()) - top + 1]

    def ink(self):
        """Its ink alone, cut to its box (white on black, uint8)."""
        left, top, width, height = self.box
        image = np.zeros((height, width), dtype=np.uint8)
        for piece in self.pieces:
            image[piece.rows - top, piece.columns - left] = piece.values
        return image

    def is_whole_components(self, cluster):
        """Whether its pieces are whole connected strokes of ink, none shared with another group."""
        inside = {id(piece) for piece in self.pieces}
        components = {piece.component for piece in self.pieces}
        return not any(piece.component in components and id(piece) not in inside for piece in cluster)

    def width(self):
        return max(piece.right for piece in self.pieces) - min(piece.left for piece in self.pieces)

    def height(self):
        return max(piece.bottom for piece in self.pieces) - min(piece.top for piece in self.pieces) + 1


@dataclass
class ReadDigit:
    group: Group
    digit_image: np.ndarray  # the network's 28x28 input
    probabilities: np.ndarray


def read_number(ink, predict, scoring=SCORING):
    """The digits of a number written in `ink` (white on black uint8, as to_ink gives), left to
    right: a list of ReadDigit, empty when there is no ink. `predict` maps uint8 digits
    (N, 28, 28) to probabilities (N, 10)."""
    clusters, read, line_height = read_candidates(ink, predict)
    digits = []
    for number, cluster in enumerate(clusters):
        digits += best_grouping(number, cluster, read, line_height, scoring)
    return digits


def read_candidates(ink, predict):
    """(clusters of pieces, {(cluster, first piece, end): ReadDigit} for every group worth
    reading, the line's height)."""
    pieces, line_height = pieces_of(ink)
    if not pieces:
        return [], {}, 0
    clusters = clusters_of(pieces, line_height)
    candidates = {}  # (cluster, first piece, end) -> Group, every group worth reading
    for number, cluster in enumerate(clusters):
        for first in range(len(cluster)):
            for end in range(first + 1, len(cluster) + 1):
                group = Group(cluster[first:end])
                width = group.width() / line_height
                if width > WIDEST_WHOLE:
                    break
                if (end - first <= MOST_PIECES_A_DIGIT and width <= WIDEST_GROUP) or group.is_whole_components(cluster):
                    candidates[number, first, end] = group
    keys = list(candidates)
    digit_images = [to_mnist(candidates[key].ink()) for key in keys]
    readable = [index for index, image in enumerate(digit_images) if image is not None]
    probabilities = dict(zip(readable, predict(np.stack([digit_images[index] for index in readable]))))
    read = {
        key: ReadDigit(candidates[key], digit_images[index], probabilities[index])
        for index, key in enumerate(keys) if index in probabilities
    }
    return clusters, read, line_height


def pieces_of(ink):
    """(pieces ordered along the line, the line's height in pixels): connected ink, with
    pieces too wide to be one digit cut again."""
    # Connected by the ink's core: the faint anti-aliased edges of two strokes a pixel apart
    # would join them. The edges then go to the core they border.
    labels, count = ndimage.label(ink >= CORE_LEVEL, EIGHT_CONNECTED)
    if count == 0:
        return [], 0
    edges = (ink > 0) & (labels == 0)
    labels[edges] = ndimage.maximum_filter(labels, size=5)[edges]
    sizes = ndimage.sum_labels(np.ones_like(labels), labels, np.arange(1, count + 1))
    kept = np.argsort(sizes)[::-1][:MOST_PIECES] + 1
    slices = ndimage.find_objects(labels)
    strokes = []
    for label in sorted(kept):
        window = slices[label - 1]
        rows, columns = np.nonzero(labels[window] == label)
        rows = rows + window[0].start
        columns = columns + window[1].start
        strokes.append((rows, columns, ink[rows, columns]))
    heights = np.array([rows.max() - rows.min() + 1 for rows, _, _ in strokes])
    line_height = float(np.median(heights[heights >= 0.5 * heights.max()]))
    slant = slant_of(strokes)
    middle = np.average(
        np.concatenate([rows for rows, _, _ in strokes]),
        weights=np.concatenate([values for _, _, values in strokes]).astype(np.float64),
    )
    pieces = []
    for component, (rows, columns, values) in enumerate(strokes):
        along = columns + slant * (rows - middle)
        pieces += cut_where_thin(component, rows, columns, values, along, line_height, slant, middle)
    pieces.sort(key=lambda piece: piece.centre)
    return pieces, line_height


def slant_of(strokes):
    """How far the writing leans: x moves this much per row down (minus: leaning right),
    from the ink's second moments of each large stroke, weighted by its ink."""
    covariance = variance = 0.0
    largest = max(len(rows) for rows, _, _ in strokes)
    for rows, columns, values in strokes:
        if len(rows) < 0.3 * largest:
            continue
        weights = values.astype(np.float64)
        row_mean = np.average(rows, weights=weights)
        column_mean = np.average(columns, weights=weights)
        covariance += np.sum(weights * (rows - row_mean) * (columns - column_mean))
        variance += np.sum(weights * (rows - row_mean) ** 2)
    # Taking out this much of it straightens the digits; clipped, since a lone stroke's own
    # shape (a 7's bar, a 2's base) also has moments.
    return float(np.clip(-covariance / variance, -0.6, 0.6)) if variance else 0.0


def make_piece(component, rows, columns, values, along):
    weights = values.astype(np.float64)
    return Piece(
        rows=rows, columns=columns, values=values, component=component,
        left=float(along.min()), right=float(along.max()) + 1,
        centre=float(np.average(along, weights=weights)),
        top=int(rows.min()), bottom=int(rows.max()),
    )


def cut_where_thin(component, rows, columns, values, along, line_height, slant, middle):
    """The stroke as one piece or, if it is wider than a digit (digits that touch), in pieces:
    cut from top to bottom near each of its thinnest places along the line, by the path that
    crosses the least ink (it bends around a stroke reaching over from the next digit, and
    crosses where two digits touch). Each side's connected ink is a piece."""
    left = along.min()
    width = along.max() - left + 1
    if width <= CUT_WIDER_THAN * line_height:
        return [make_piece(component, rows, columns, values, along)]
    position = np.floor(along - left).astype(np.int64)
    profile = np.bincount(position, weights=values.astype(np.float64), minlength=int(width) + 1)
    smoothing = max(1, int(round(0.05 * line_height)))
    profile = ndimage.uniform_filter1d(profile, 2 * smoothing + 1, mode="nearest")
    margin = CUT_MARGIN * line_height
    interior = np.arange(len(profile))
    minima = interior[
        (interior >= margin) & (interior <= len(profile) - 1 - margin)
        & (profile <= np.roll(profile, 1)) & (profile <= np.roll(profile, -1))
    ]
    starts = []
    for candidate in sorted(minima, key=lambda column: profile[column]):
        if all(abs(candidate - start) >= CUT_STEP * line_height for start in starts):
            starts.append(candidate)
    if not starts:
        return [make_piece(component, rows, columns, values, along)]

    top, first_column = rows.min(), columns.min()
    ink = np.zeros((rows.max() - top + 1, columns.max() - first_column + 1))
    ink[rows - top, columns - first_column] = values
    # Where each cut runs along the slant, column by row, in the window's columns.
    slanted = -slant * (np.arange(top, rows.max() + 1) - middle) - first_column
    side = np.zeros(len(rows), dtype=np.int64)
    paths = set()
    for start in sorted(starts):
        path = least_ink_path(ink, slanted + left + start + 0.5, CUT_REACH * line_height)
        if path.tobytes() not in paths:
            paths.add(path.tobytes())
            side += columns - first_column >= path[rows - top]
    pieces = []
    for index in np.unique(side):
        on_side = side == index
        fragments, count = ndimage.label(_image_of(rows[on_side] - top, columns[on_side] - first_column, ink.shape), EIGHT_CONNECTED)
        owner = fragments[rows[on_side] - top, columns[on_side] - first_column]
        for label in range(1, count + 1):
            mine = np.flatnonzero(on_side)[owner == label]
            pieces.append(make_piece(component, rows[mine], columns[mine], values[mine], along[mine]))
    return pieces


def _image_of(rows, columns, shape):
    image = np.zeros(shape, dtype=bool)
    image[rows, columns] = True
    return image


def least_ink_path(ink, line, reach):
    """The column, row by row, of the top-to-bottom path through `ink` (rows x columns) that
    crosses the least ink, moving at most a column a row and never further than `reach`
    columns from `line` (a column a row)."""
    height, width = ink.shape
    columns = np.arange(width)
    line = np.clip(line, 0, width - 1)
    reach = max(reach, 1.0)
    # Ink to cross, plus a little for every column away from the line, so that the path keeps
    # to it where there is no ink either way.
    cost = ink + 4.0 * np.abs(columns[None, :] - line[:, None])
    cost[np.abs(columns[None, :] - line[:, None]) > reach] = np.inf
    total = cost[0].copy()
    came_from = np.zeros((height, width), dtype=np.int8)
    for row in range(1, height):
        options = np.stack([np.r_[np.inf, total[:-1]], total, np.r_[total[1:], np.inf]])
        choice = options.argmin(axis=0)
        total = options[choice, columns] + cost[row]
        came_from[row] = choice - 1
    path = np.empty(height, dtype=np.int64)
    path[-1] = int(np.argmin(total))
    for row in range(height - 1, 0, -1):
        path[row - 1] = path[row] + came_from[row, path[row]]
    return path


def clusters_of(pieces, line_height):
    """The pieces in runs that can share digits: a run ends where the ink so far and the ink
    to come are more than APART line heights apart."""
    clusters, current, reach = [], [], -np.inf
    for index, piece in enumerate(pieces):
        still_to_come = min(other.left for other in pieces[index:])
        if current and still_to_come - reach > APART * line_height:
            clusters.append(current)
            current = []
        current.append(piece)
        reach = max(reach, piece.right)
    clusters.append(current)
    return clusters


def group_score(read, line_height, scoring):
    """How likely the group is one digit: the network's log-probability for what it read,
    less penalties for a group far wider or lower than a digit of the line."""
    group = read.group
    width = group.width() / line_height
    height = group.height() / line_height
    return (
        float(np.log(max(read.probabilities.max(), 1e-9)))
        - scoring.width_penalty * max(0.0, width - scoring.usual_width)
        - scoring.height_penalty * max(0.0, scoring.usual_height - height)
        - scoring.digit_cost
    )


def is_speck(piece, line_height):
    return max(piece.right - piece.left, piece.bottom - piece.top + 1) < SPECK * line_height


def best_grouping(number, cluster, read, line_height, scoring=SCORING):
    """The cluster's pieces grouped into digits (dynamic programming over where digits end)."""
    best = [(0.0, [])] + [(-np.inf, None)] * len(cluster)
    for end in range(1, len(cluster) + 1):
        for first in range(end):
            candidate = read.get((number, first, end))
            if candidate is None or best[first][1] is None:
                continue
            score = best[first][0] + group_score(candidate, line_height, scoring)
            if first > 0 and cluster[first - 1].component == cluster[first].component:
                score -= scoring.cut_cost  # A digit ends inside connected ink.
            if score > best[end][0]:
                best[end] = (score, best[first][1] + [candidate])
        if is_speck(cluster[end - 1], line_height) and best[end - 1][1] is not None:
            score = best[end - 1][0] - scoring.speck_cost
            if score > best[end][0]:
                best[end] = (score, best[end - 1][1])
    return best[-1][1] or []
