"""Which strokes make each digit of a number, from the strokes the page drew with its image.

The pixel reader (model/numbers.py) takes each connected stroke of ink for a piece, so two
digits that touch are one piece it must find a cut through, and it loses most numbers there. On
the page, two digits that touch are almost always different strokes. So where the page sends its
strokes, each stroke's ink is a piece: the ink pixels of the image sent that lie nearest its path,
within the pen's reach (the image the client sent is the ink: nothing is drawn again, and ink
where two strokes touch is shared out along the line halfway between their paths). The reader
then groups these pieces into digits exactly as it groups connected ink: every group of
neighbouring strokes that could be one digit is read, the judge says how likely each is one
whole digit, and the grouping it likes best is the answer. Strokes whose paths cross (a 4's two
strokes, a 7's bar across its stem) are one piece from the start: the judge, fitted on connected
ink, would otherwise read a 4's stem alone as a 1 (400 numbers by the validation writers read
94.0 % exactly and 98.8 % with the right count of digits with each stroke a piece, 95.3 % and 100 %
so, most of the difference 4s read as 61 or 41); where it doubts such a piece, it is also
read with its strokes apart. A 4's or a 5's second stroke or a 7's bar written after the next
digit is grouped by where it lies, not when: the times are not needed to group.

A stroke that runs from one digit into the next (a "12" written without lifting the pen) is one
wide piece; where the judge doubts it, it is also read cut where the pen turns (at the top or
bottom of its path, or going back along the line), once, and twice with the pen's way between the
two turns a piece of its own (the line that joined the digits), and the way the judge likes best is kept
(`StrokeInk.ways_to_cut`, which the reader calls as it calls its pixel cuts).

Strokes that do not match the image are not used (`stroke_ink` gives None): much ink far from
every stroke (an image edited after it was drawn, or strokes of another drawing), or strokes
that run over paper. The reader then reads the pixels alone.
"""

import numpy as np
from scipy import ndimage
from scipy.signal import find_peaks
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from model.number_cuts import CORE_LEVEL, CUT_MARGIN, EIGHT_CONNECTED, make_piece

# A path is followed a point at least every this many pixels (its ink is shared by nearness).
PATH_SPACING = 1.0
# Ink further from every path than this many pen widths is not the strokes' (a pen's edge, and
# its anti-aliasing, are half a pen and a pixel from its path).
REACH = 1.0
# The strokes are the image's when at most this share of its ink (by value) is out of their
# reach and at least this share of their paths runs over ink.
INK_UNEXPLAINED_AT_MOST = 0.03
PATH_ON_INK_AT_LEAST = 0.9
# Where the pen turns: a top, a bottom or a turn back along the line at least this many line
# heights from the path's extremes on either side (find_peaks' prominence).
TURN_PROMINENCE = 0.1
# Only a stroke wider than this many line heights is tried cut (a stroke over two digits is
# wider than most digits; on 400 numbers by the validation writers, cutting strokes from 0.55 line
# heights, as the pixel reader cuts ink, read one fewer right, and none more).
CUT_WIDER_THAN = 0.8


def dense(path, spacing=PATH_SPACING):
    """The path's points with more in between, never more than `spacing` apart."""
    if len(path) < 2:
        return path
    steps = np.maximum(1, np.ceil(np.linalg.norm(np.diff(path, axis=0), axis=1) / spacing)).astype(int)
    # Each segment's start, and count - 1 more points a count-th of the way apart.
    segment = np.repeat(np.arange(len(steps)), steps)
    fraction = (np.arange(steps.sum()) - np.repeat(np.cumsum(steps) - steps, steps)) / steps[segment]
    return np.concatenate([path[:-1][segment] + (path[1:] - path[:-1])[segment] * fraction[:, None], path[-1:]])


def usable(strokes):
    """The strokes sent, as float64 (N, 3) arrays of finite [x, y, t] points, the empty ones left
    out; None when none is left."""
    kept = []
    for stroke in strokes or []:
        points = np.asarray(stroke, dtype=np.float64).reshape(-1, 3)
        points = points[np.isfinite(points).all(axis=1)]
        if len(points):
            kept.append(points)
    return kept or None


def nearest_paths(points, rows, columns, reach):
    """For each pixel (its centre), the index of the path nearest it within `reach` pixels, or
    -1 where none is; the paths given as their dense() points."""
    owners = np.repeat(np.arange(len(points)), [len(each) for each in points])
    _, index = cKDTree(np.concatenate(points)).query(np.column_stack([columns + 0.5, rows + 0.5]),
                                                      distance_upper_bound=reach)
    found = index < len(owners)
    nearest = np.full(len(rows), -1)
    nearest[found] = owners[index[found]]
    return nearest


class StrokeInk:
    """The ink of the line measured (model/numbers.py's Line) shared out among the strokes drawn:
    a piece for each stroke, and each piece's strokes as the page sent them."""

    def __init__(self, line, ink, strokes, owner, scale, reach):
        self.line = line
        self.ink = ink  # (rows, columns, values) of every ink pixel of the line
        self.strokes = strokes  # as sent: (N, 3) [x, y, t] in the image's pixels
        self.owner = owner  # for each ink pixel, the stroke whose ink it is (nearest_paths)
        self.scale = scale  # the pixels of the ink read per pixel of the image sent
        self.reach = reach
        # What each piece is of the strokes sent: [(stroke, first point, end point)].
        self.sources = {}
        # Strokes that cross are one digit's (a 4's, a 7's bar): one piece, read apart only where
        # the judge doubts it (ways_to_cut).
        self.crossing = crossing_sets([self.path(stroke) for stroke in strokes])
        self.pieces = [piece for strokes_crossing in self.crossing
                       if (piece := self._piece((strokes_crossing[0], -1), np.isin(owner, strokes_crossing),
                                                [(number, 0, len(strokes[number])) for number in strokes_crossing]))]

    def path(self, stroke):
        return stroke[:, :2] * self.scale

    def _piece(self, key, mine, sources):
        if not mine.any():
            return None
        rows, columns, values = (part[mine] for part in self.ink)
        self.sources[key] = sources
        return make_piece(key, rows, columns, values, self.line)

    def strokes_of(self, group):
        """The strokes sent (each cut where the reader cut it) whose ink is the group's, in the
        order they were drawn (by their first times)."""
        parts = [self.strokes[number][first:end]
                 for number, first, end in sorted(source for piece in group.pieces for source in self.sources[piece.key])]
        return sorted(parts, key=lambda part: part[0, 2])

    def ways_to_cut(self, piece):
        """The ways to read a piece the judge doubts cut: strokes that cross each other, apart;
        a stroke wider than CUT_WIDER_THAN line heights, where its pen turns. Each way is its
        parts, left to right or not (the reader orders them); none for a part cut already."""
        if piece.key[1] != -1:
            return []
        number = piece.key[0]
        crossing = next(strokes_crossing for strokes_crossing in self.crossing if strokes_crossing[0] == number)
        if len(crossing) > 1:
            apart = [self._piece((number, "apart", other), self.owner == other, [(other, 0, len(self.strokes[other]))])
                     for other in crossing]
            return [[part for part in apart if part]]
        stroke = self.strokes[number]
        if piece.right - piece.left < CUT_WIDER_THAN * self.line.height:
            return []
        # The piece's pixels, shared out again between the parts of its path: cut at a turn, or at
        # two with the pen's way between them left out (the line that joined two digits: its ink
        # goes to the part nearer, within the pen's reach, and the rest is read in neither).
        turns = pen_turns(self.path(stroke), self.line)
        mine = np.flatnonzero(self.owner == number)
        rows, columns, _ = (part[mine] for part in self.ink)
        cuts = [(turn, turn) for turn in turns] + list(zip(turns, turns[1:]))
        ways = []
        for first_end, second_start in cuts:
            parts = [(0, first_end + 1), (second_start, len(stroke))]
            nearest = nearest_paths([dense(self.path(stroke[first:end])) for first, end in parts], rows, columns,
                                    self.reach)
            way = []
            for side, (first, end) in enumerate(parts):
                owned = np.zeros(len(self.owner), dtype=bool)
                owned[mine[nearest == side]] = True
                way.append(self._piece((number, "turns", first_end, second_start, side), owned, [(number, first, end)]))
            if all(way):
                ways.append(way)
        return ways


def crossing_sets(paths):
    """The paths' indices in sets of paths that cross one another (directly or through others),
    each set in order, the sets in the order of their first path."""
    crossing = np.zeros((len(paths), len(paths)), dtype=bool)
    for first in range(len(paths)):
        for second in range(first + 1, len(paths)):
            crossing[first, second] = paths_cross(paths[first], paths[second])
    # Each pair once: the graph is undirected. Components are numbered in the order of their first path.
    count, component = connected_components(csr_matrix(crossing), directed=False)
    return [np.flatnonzero(component == number).tolist() for number in range(count)]


def paths_cross(first, second):
    """Whether two paths ((N, 2) points) cross: some segment of one crosses one of the other."""
    if len(first) < 2 or len(second) < 2:
        return False
    if (first.max(axis=0) < second.min(axis=0)).any() or (second.max(axis=0) < first.min(axis=0)).any():
        return False
    a, b = first[:-1, None], first[1:, None]
    c, d = second[None, :-1], second[None, 1:]

    def side(p, q, r):  # which side of the line p -> q the point r is on (the sign of the cross product)
        return np.sign((q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1]) - (q[..., 1] - p[..., 1]) * (r[..., 0] - p[..., 0]))

    return bool(((side(a, b, c) * side(a, b, d) < 0) & (side(c, d, a) * side(c, d, b) < 0)).any())


def pen_turns(path, line):
    """The indices of the path's points where the pen turns (a top or a bottom, or a turn back
    along the line), at least CUT_MARGIN line heights along the path from its ends."""
    if len(path) < 3:
        return []
    prominence = TURN_PROMINENCE * line.height
    along = line.along(path[:, 1], path[:, 0])
    turns = set()
    for profile in (path[:, 1], -path[:, 1], along, -along):
        turns.update(find_peaks(profile, prominence=prominence)[0].tolist())
    travelled = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))])
    margin = CUT_MARGIN * line.height
    return sorted(turn for turn in turns if margin <= travelled[turn] <= travelled[-1] - margin)


def stroke_ink(line, strokes, scale=1.0):
    """The line's ink (model/numbers.py's Line) shared out among the strokes the page drew (in the
    pixels of the image sent, `scale` times smaller than the ink's), or None where they do not
    match it (the module's docstring) or there are none."""
    strokes = usable(strokes)
    if line is None or strokes is None:
        return None
    ink = rows, columns, values = tuple(np.concatenate(parts) for parts in zip(*line.strokes))
    paths = [stroke[:, :2] * scale for stroke in strokes]
    length = sum(float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum()) for path in paths)
    # The pen's width: the strokes' dark core over their length (at least two pixels).
    pen = max(2.0, np.count_nonzero(values >= CORE_LEVEL) / max(length, 1.0))
    reach = REACH * pen + 1.0
    followed = [dense(path) for path in paths]
    nearest = nearest_paths(followed, rows, columns, reach)
    weights = values.astype(np.float64)
    if weights[nearest < 0].sum() > INK_UNEXPLAINED_AT_MOST * weights.sum():
        return None
    # Where the paths run: each dense point's pixel must be ink, or next to it.
    inked = np.zeros((rows.max() + 3, columns.max() + 3), dtype=bool)
    inked[rows + 1, columns + 1] = True
    inked = ndimage.binary_dilation(inked, EIGHT_CONNECTED)
    points = np.floor(np.concatenate(followed)).astype(np.int64) + 1
    inside = (points >= 0).all(axis=1) & (points[:, 1] < inked.shape[0]) & (points[:, 0] < inked.shape[1])
    on_ink = np.zeros(len(points), dtype=bool)
    on_ink[inside] = inked[points[inside, 1], points[inside, 0]]
    if on_ink.mean() < PATH_ON_INK_AT_LEAST:
        return None
    return StrokeInk(line, ink, strokes, nearest, scale, reach)
