"""Read a whole number: find each digit's ink, and let the digit classifier read it.

The ink is cut into pieces: each connected stroke of ink is a piece. Neighbouring pieces along
the line may be one digit (a 4 or a 5 in two strokes, a 7 with a separate bar, a 1 with a
separate flag), and one piece may be two digits that touch. So every plausible group of
neighbouring pieces is brought to MNIST's form, as a lone digit is, and read by the network in
one batch; a small judge (a two-layer network over the group's shape and the reading: how sure
the network is, how wide and high the group is against the line, whether it joins strokes that
do not overlap or cuts connected ink, and what the whole-digit check, a small convolutional network, makes
of the group's 28x28 image: the digit network reads two touching digits as one as surely as a
digit, the whole-digit check sees a bar beside an 8; `train_number_reader.py` fits both on writers the
digit network was trained on) says how likely each group is one whole digit, and the grouping the
judge likes best is the answer (dynamic programming along the line). Pieces with a gap between
them (along the line, the slant taken out) are never one digit, unless one is small and near
(a 1's flag lifted off its stem), so a number written with clear gaps costs one reading a digit.

Only where the judge doubts a piece that is wide enough to be two digits is it cut, from top to
bottom along paths that cross the least ink (a path bends around a stroke that reaches over
from the next digit, and crosses where two digits touch; where two digits' strokes run together
along a stretch, ink thicker than the pen costs less to cross, so that a path can run down
between them rather than across a stroke): once at all its thinnest places, and once in two by
each path from places a little apart along it. Each way of cutting it is grouped
again as above (what was read before is kept, and everything new is read in one call of the
network), and the way whose whole reading the judge likes best is kept.

An image lower than the page's number pad is read enlarged to the pad's height (the reader's
settings were fitted on the pad's drawings), its boxes given in the image's own pixels.

Everything here is pure: arrays in, arrays out; the network is the `predict` function given,
and the whole-digit check the judge's.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PIL import Image
from scipy import ndimage

from model.number_cuts import CORE_LEVEL, EIGHT_CONNECTED, CutWindow, cut_once, cut_where_thin, slant_of, whole_piece
from model.number_judge import group_features
from model.pad import SENT_SIZE
from model.preprocessing import NOISE_LEVEL, to_mnist
from model.stroke_groups import stroke_ink

# More pieces than this are not a number written on a pad: the largest ones are kept.
MOST_PIECES = 48
# A piece may be cut where it is wider than this many line heights (two 1s that touch are
# about this wide) and the judge doubts it is one digit (is_doubted).
CUT_WIDER_THAN = 0.55
JUDGED_SURE = 0.8
# Pieces wider than WIDE line heights are tried cut unless the judge is surer than this.
WIDE = 0.8
JUDGED_SURE_WIDE = 0.95
# Groups tried as one digit: up to this many pieces and this many line heights wide, or whole
# connected strokes up to WIDEST_WHOLE (some people write a 0 half as wide again as it is high).
MOST_PIECES_A_DIGIT = 8
WIDEST_GROUP = 1.3
WIDEST_WHOLE = 2.0
# A piece lower than SMALL_PIECE line heights (a flag, a bar) may be part of a digit up to
# SMALL_PIECE_GAP line heights away along the line.
SMALL_PIECE = 0.5
SMALL_PIECE_GAP = 0.25
# A speck (a dot or a slip, smaller than this share of the line's height both ways) may be
# left out of the number, at this cost (natural-log units, as the judge's).
SPECK = 0.25
SPECK_COST = 2.0
# An image lower than the page's number pad (112 pixels) is read enlarged to the pad's height (at
# most ENLARGED_AT_MOST times): the reader was fitted on the pad's drawings, and some of its
# measures are in pixels (the reach of the ink's faint edges, a cut's cost of leaving its line).
# Half as high, the training writers' numbers read 96.3 % exactly as they came, 98.3 % enlarged.
PAD_HEIGHT = SENT_SIZE  # the page sends the number pad this many pixels high
ENLARGED_AT_MOST = 4.0


@dataclass(eq=False)
class Group:
    """Neighbouring pieces read as one digit, in their cluster (cluster[first:end])."""

    cluster: list
    first: int
    end: int

    @cached_property
    def pieces(self):
        return self.cluster[self.first:self.end]

    @cached_property
    def key(self):
        return frozenset(piece.key for piece in self.pieces)

    @cached_property
    def box(self):
        """[x, y, width, height] of its ink in the image's pixels."""
        top = min(int(piece.rows.min()) for piece in self.pieces)
        left = min(int(piece.columns.min()) for piece in self.pieces)
        bottom = max(int(piece.rows.max()) for piece in self.pieces)
        right = max(int(piece.columns.max()) for piece in self.pieces)
        return [left, top, right - left + 1, bottom - top + 1]

    def ink(self):
        """Its ink alone, cut to its box (white on black, uint8)."""
        left, top, width, height = self.box
        image = np.zeros((height, width), dtype=np.uint8)
        for piece in self.pieces:
            image[piece.rows - top, piece.columns - left] = piece.values
        return image

    @cached_property
    def width(self):
        return max(piece.right for piece in self.pieces) - min(piece.left for piece in self.pieces)

    @cached_property
    def height(self):
        return max(piece.bottom for piece in self.pieces) - min(piece.top for piece in self.pieces) + 1

    def is_whole_components(self):
        """Whether its pieces are whole connected strokes of ink, none shared with another group."""
        components = {piece.component for piece in self.pieces}
        inside = self.key
        return not any(piece.component in components and piece.key not in inside for piece in self.cluster)

    def cuts_at_its_ends(self):
        """How many of its two ends cut connected ink (0, 1 or 2)."""
        before = self.first > 0 and self.cluster[self.first - 1].component == self.cluster[self.first].component
        after = self.end < len(self.cluster) and self.cluster[self.end].component == self.cluster[self.end - 1].component
        return int(before) + int(after)


@dataclass(eq=False)
class Reading:
    """What the network read in a group, and how likely the judge finds it one whole digit."""

    group: Group
    digit_image: np.ndarray  # the network's 28x28 input
    probabilities: np.ndarray
    whole_digit_check: float = 0.0  # the whole-digit check's logit that the image is one whole digit
    log_judged: float = 0.0
    box: list = None  # [x, y, width, height] of its ink in the pixels of the image read (read() sets it)
    strokes: list = None  # the strokes drawn that are its ink, where read() was given strokes

    @property
    def digit(self):
        return int(np.argmax(self.probabilities))


# --- The judge -------------------------------------------------------------------------------


# --- Reading a number ------------------------------------------------------------------------


@dataclass
class Line:
    """The writing's measures: its height (pixels), its slant, and the row its middle is at."""

    height: float
    slant: float
    middle: float
    strokes: list  # (rows, columns, values) of each connected stroke of ink

    def along(self, rows, columns):
        """Position along the line with the slant taken out."""
        return columns + self.slant * (rows - self.middle)


class NumberReader:
    """Reads the digits of a number in an image's ink with a digit network's `predict`."""

    def __init__(self, judge=None):
        # Without a judge the reader can only list candidates (to fit one); read() needs one.
        self.judge = judge

    def read(self, ink, predict, strokes=None):
        """The digits of a number written in `ink` (white on black uint8, as to_ink gives), left to
        right: a list of Reading, empty when there is no ink. `predict` maps uint8 digits
        (N, 28, 28) to probabilities (N, 10). An image lower than the pad is read enlarged, each
        box given in its own pixels. With the `strokes` the page drew ((N, 3) [x, y, t] arrays in
        the image's pixels), each stroke's ink is a piece (model/stroke_groups.py) and each
        reading has its strokes; where they do not match the ink, the ink alone is read and the
        readings have none."""
        factor = min(ENLARGED_AT_MOST, PAD_HEIGHT / ink.shape[0])
        line = measure_line(enlarged(ink, factor) if factor > 1 else ink)
        drawn = stroke_ink(line, strokes, max(factor, 1.0)) if strokes is not None else None
        readings = self._read_line(line, predict, drawn)
        for reading in readings:
            reading.box = box_scaled(reading.group.box, 1 / factor, ink.shape) if factor > 1 else reading.group.box
            reading.strokes = drawn.strokes_of(reading.group) if drawn else None
        return readings

    def _read_line(self, line, predict, drawn=None):
        """read()'s readings of the line measured (measure_line; None: no ink), their boxes not
        set: its pieces are its connected strokes of ink, or the strokes `drawn` (StrokeInk)."""
        if line is None:
            return []
        read = {}
        pieces = drawn.pieces if drawn else [whole_piece(number, stroke, line) for number, stroke in enumerate(line.strokes)]
        chosen = self._best_digits(pieces, line, predict, read)
        # Cut again what is wide enough to be two digits and doubted: by the judge, or because no
        # reading holds it at all (a chain of touching digits too wide to be read as one).
        judged = {piece.key: np.exp(reading.log_judged) for reading in chosen for piece in reading.group.pieces}
        doubted = {
            piece.component
            for piece in pieces
            if is_doubted(judged.get(piece.key, 0.0), (piece.right - piece.left) / line.height)
        }
        if not doubted:
            return chosen
        # Each is read whole, cut at all its thin places, and cut once by each path from top to
        # bottom: the way of reading it whose whole number the judge likes best is kept.
        for component in sorted(doubted):
            doubted_piece = next(piece for piece in pieces if piece.component == component)
            others = [piece for piece in pieces if piece.component != component]
            ways = [others + way for way in ([doubted_piece], *ways_to_cut(doubted_piece, line, drawn))]
            # Every way's groups in one call of the network.
            self._read_groups([group for way in ways for group in groups_of(way, line)[1]], line, predict, read)
            pieces = max(ways, key=lambda way: self._likelihood(way, line, predict, read))
        return self._best_digits(pieces, line, predict, read)

    def _likelihood(self, pieces, line, predict, read):
        """How much the judge likes the best reading of these pieces (log, with the digit bonus);
        -inf where some of their ink could not be read at all."""
        groupings = self._groupings(pieces, line, predict, read)
        if any(grouping is None for grouping in groupings):
            return -np.inf
        return sum(reading.log_judged + self.judge.digit_bonus for grouping in groupings for reading in grouping)

    def candidates(self, ink, predict):
        """({group key: Reading}, line) for every group the reader could try with every piece
        wider than CUT_WIDER_THAN cut at all its thin places, for fitting the judge
        (train_number_reader.py). The ways of cutting once are left out: a judge fitted on them
        too judged no better on the training writers, and doubted more."""
        line = measure_line(ink)
        if line is None:
            return {}, None
        pieces = []
        for number, stroke in enumerate(line.strokes):
            piece = whole_piece(number, stroke, line)
            wide = piece.right - piece.left > CUT_WIDER_THAN * line.height
            pieces += cut_where_thin(CutWindow(piece, line)) if wide else [piece]
        read = {}
        self._read_groups(groups_of(pieces, line)[1], line, predict, read)
        return read, line

    def _best_digits(self, pieces, line, predict, read):
        # A cluster no grouping reads (ink too wide for a digit, not cut yet) is left out.
        return [reading for grouping in self._groupings(pieces, line, predict, read) for reading in grouping or []]

    def _groupings(self, pieces, line, predict, read):
        """Each cluster's best grouping (best_grouping), its groups read first where they were not."""
        clusters, groups = groups_of(pieces, line)
        self._read_groups(groups, line, predict, read)
        return [best_grouping(cluster, read, line, self.judge.digit_bonus) for cluster in clusters]

    def _read_groups(self, groups, line, predict, read):
        """Read the groups not read before (in one call of the network) and judge them."""
        new = {}
        for group in groups:
            if group.key not in read and group.key not in new:
                new[group.key] = group
        images = {key: to_mnist(group.ink()) for key, group in new.items()}
        keys = [key for key, image in images.items() if image is not None]
        if not keys:
            return
        digit_images = np.stack([images[key] for key in keys])
        probabilities = predict(digit_images)
        readings = [Reading(new[key], images[key], row) for key, row in zip(keys, probabilities)]
        if self.judge is not None:
            for reading, logit in zip(readings, self.judge.whole_digit_check(digit_images)):
                reading.whole_digit_check = float(logit)
            features = np.stack([group_features(reading, line.height) for reading in readings])
            for reading, log_judged in zip(readings, self.judge.log_probabilities(features)):
                reading.log_judged = float(log_judged)
        read.update((reading.group.key, reading) for reading in readings)


def ways_to_cut(piece, line, drawn=None):
    """The ways to read a doubted piece cut: at all its thin places, and once by each path from
    top to bottom; a stroke drawn (`drawn`, StrokeInk), where its pen turns."""
    if drawn:
        return drawn.ways_to_cut(piece)
    window = CutWindow(piece, line)
    return [cut_where_thin(window), *cut_once(window)]


def measure_line(ink):
    """The line's measures and its connected strokes of ink (at most MOST_PIECES, the largest),
    or None when there is no ink."""
    # Only the ink's box is looked at: most of a pad is paper.
    inked = ink > 0
    rows_inked, columns_inked = np.flatnonzero(inked.any(axis=1)), np.flatnonzero(inked.any(axis=0))
    if not len(rows_inked):
        return None
    top, left = rows_inked[0], columns_inked[0]
    box = (slice(top, rows_inked[-1] + 1), slice(left, columns_inked[-1] + 1))
    ink, inked = ink[box], inked[box]
    # Connected by the ink's core: the faint anti-aliased edges of two strokes a pixel apart
    # would join them. The edges then go to the core they border.
    labels, count = ndimage.label(ink >= CORE_LEVEL, EIGHT_CONNECTED)
    if count == 0:
        return None
    edges = inked & (labels == 0)
    labels[edges] = ndimage.maximum_filter(labels, size=5)[edges]
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    kept = np.sort(np.argsort(sizes)[::-1][:MOST_PIECES] + 1)
    windows = ndimage.find_objects(labels)
    strokes = []
    for label in kept:
        window = windows[label - 1]
        rows, columns = np.nonzero(labels[window] == label)
        rows += window[0].start
        columns += window[1].start
        values = ink[rows, columns]
        strokes.append((rows + top, columns + left, values))
    heights = np.array([rows.max() - rows.min() + 1 for rows, _, _ in strokes])
    height = float(np.median(heights[heights >= 0.5 * heights.max()]))
    all_rows = np.concatenate([rows for rows, _, _ in strokes])  # in the whole image
    weights = np.concatenate([values for _, _, values in strokes]).astype(np.float64)
    return Line(height=height, slant=slant_of(strokes), middle=float(weights @ all_rows / weights.sum()),
                strokes=strokes)


def enlarged(ink, factor):
    """The ink `factor` times as large (LANCZOS), without the faint halo resampling leaves around
    the strokes, which to_ink would call noise."""
    larger = np.array(Image.fromarray(ink).resize(
        (round(ink.shape[1] * factor), round(ink.shape[0] * factor)), Image.Resampling.LANCZOS
    ))
    larger[larger < NOISE_LEVEL] = 0
    return larger


def box_scaled(box, factor, shape):
    """A box [x, y, width, height] in the pixels of an image `factor` times as large, of `shape`
    (rows, columns): its edges at the nearest pixel edges there, at least a pixel wide and high."""
    left, top, width, height = box
    left, top, right, bottom = (int(np.floor(edge * factor + 0.5)) for edge in (left, top, left + width, top + height))
    left, top = min(left, shape[1] - 1), min(top, shape[0] - 1)
    right, bottom = min(max(right, left + 1), shape[1]), min(max(bottom, top + 1), shape[0])
    return [left, top, right - left, bottom - top]


def clusters_of(pieces, line):
    """The pieces in order along the line, in runs that can share digits: a run ends where
    the ink so far and the ink still to come have a gap between them along the line, unless a
    piece by the gap is small and the gap too (a 1's flag lifted off its stem)."""
    pieces = sorted(pieces, key=lambda piece: piece.centre)
    still_to_come = np.minimum.accumulate([piece.left for piece in pieces][::-1])[::-1]
    clusters, current, reach = [], [], -np.inf
    for piece, next_left in zip(pieces, still_to_come):
        small = is_small(piece, line) or (current and is_small(current[-1], line))
        if current and next_left > reach + (SMALL_PIECE_GAP * line.height if small else 0.0):
            clusters.append(current)
            current = []
        current.append(piece)
        reach = max(reach, piece.right)
    clusters.append(current)
    return clusters


def groups_of(pieces, line):
    """(the pieces' clusters, every group of them worth reading)."""
    clusters = clusters_of(pieces, line)
    return clusters, [group for cluster in clusters for group in groups_to_try(cluster, line)]


def groups_to_try(cluster, line):
    """The groups of neighbouring pieces that may be one digit."""
    groups = []
    for first in range(len(cluster)):
        for end in range(first + 1, len(cluster) + 1):
            group = Group(cluster, first, end)
            width = group.width / line.height
            if width > WIDEST_WHOLE:
                break
            if (end - first <= MOST_PIECES_A_DIGIT and width <= WIDEST_GROUP) or group.is_whole_components():
                groups.append(group)
    return groups


def is_doubted(judged, width):
    """Whether a piece `width` line heights wide, in a group the judge finds one digit with this
    probability, might be two digits that touch."""
    return width > CUT_WIDER_THAN and judged < (JUDGED_SURE_WIDE if width > WIDE else JUDGED_SURE)


def is_small(piece, line):
    return piece.bottom - piece.top + 1 < SMALL_PIECE * line.height


def is_speck(piece, line):
    return max(piece.right - piece.left, piece.bottom - piece.top + 1) < SPECK * line.height


def best_grouping(cluster, read, line, digit_bonus):
    """The cluster's pieces grouped into the digits the judge likes best: the most likely
    grouping, with `digit_bonus` for every digit (dynamic programming over where digits end);
    None when no grouping reads all its pieces."""
    best = [(0.0, [])] + [(-np.inf, None)] * len(cluster)
    for end in range(1, len(cluster) + 1):
        for first in range(end):
            reading = read.get(Group(cluster, first, end).key)
            if reading is None or best[first][1] is None:
                continue
            score = best[first][0] + reading.log_judged + digit_bonus
            if score > best[end][0]:
                best[end] = (score, best[first][1] + [reading])
        if is_speck(cluster[end - 1], line) and best[end - 1][1] is not None:
            score = best[end - 1][0] - SPECK_COST
            if score > best[end][0]:
                best[end] = (score, best[end - 1][1])
    return best[-1][1]
