"""The stroke network: the digit read from the pen's path, beside the digit read from its picture.

The page sends, with the image, the strokes it drew: each an (N, 3) array of x, y (pixels of the
image sent, y down) and t (milliseconds since the first point). Two digits can leave the same
picture and be drawn differently: a 4 written in one stroke ("lightning") and a 5, a 1 with a
flag and a 7. The pen's path tells them apart where the pixels cannot.

`pen_trajectory` turns a digit's strokes into the network's input: STROKE_POINTS points spaced
evenly along the pen tip's whole path, on the pad and in the air between strokes, centred on
the ink's box and divided by its larger side, so that the same digit drawn anywhere, at any size,
on any image size reads the same; and, at each point, the direction the pen moves in and whether
it is in the air. The time of each point orders the strokes and is otherwise ignored: spacing the
points along the path makes the reading independent of how fast the pen moved, which differs
between a mouse, a finger and the tablet the training strokes were recorded on.

`StrokeNetwork` runs the small 1-D convolutional network that train_strokes.py fitted
(stroke_network.tflite, beside the digit network's files in the code's own model folder) on
LiteRT, through the same interpreter as the digit network (model/runtimes.py). `combined` is how
its probabilities and the picture's are put together: a weighted geometric mean, with the weight
chosen on the validation writers and recorded in stroke_network.json.

No Keras or TensorFlow is imported here: serving needs NumPy and LiteRT only.
"""

import hashlib
import json
from pathlib import Path

import numpy as np

from model.loader import DEFAULT_MODEL_DIR, ModelFilesError, litert_interpreter

STROKE_POINTS = 64
# At each point: x, y (centred, divided by the ink's larger side), the direction of the path
# there (cosine, sine; none where the path stands still) and whether the pen is in the air (1)
# or on the pad (0).
CHANNELS = ("x", "y", "direction x", "direction y", "pen up")
STROKE_NETWORK_FILE = "stroke_network.tflite"
STROKE_METADATA_FILE = "stroke_network.json"
# Coordinates beyond this many pixels are no drawing; clipped so that no sum overflows.
LARGEST_COORDINATE = 1e6
# Probabilities are floored here before their logarithms are weighed: a network sure that a
# digit is impossible must not veto the other network alone.
PROBABILITY_FLOOR = 1e-6


def pen_trajectory(strokes):
    """The stroke network's input for one digit's strokes: (STROKE_POINTS, len(CHANNELS)) float32.

    `strokes` is a list of arrays of (x, y, t) rows (or (x, y)): strokes are taken in the order of
    their first time, points of a stroke in their order. Points that are not finite are dropped.
    Any input gives a finite answer: no strokes or no points give zeros; a lone point, a dot or
    points all in one place give STROKE_POINTS copies of the centre with no direction.
    """
    path, stroke_of = _pen_down_points(strokes)
    trajectory = np.zeros((STROKE_POINTS, len(CHANNELS)), dtype=np.float32)
    if not len(path):
        return trajectory
    path = path - path.min(axis=0)
    extent = path.max(axis=0)
    size = float(extent.max())
    if size <= 0:  # one place: the centre, no direction, the pen down
        return trajectory
    path = path / size - extent / size / 2
    # Consecutive points in the same place add nothing to the path: keep the first of them.
    keep = np.concatenate([[True], np.any(np.diff(path, axis=0) != 0, axis=1)])
    path, stroke_of = path[keep], stroke_of[keep]
    steps = np.diff(path, axis=0)
    lengths = np.hypot(steps[:, 0], steps[:, 1])
    in_the_air = stroke_of[1:] != stroke_of[:-1]
    along = np.concatenate([[0.0], np.cumsum(lengths)])
    wanted = np.linspace(0.0, along[-1], STROKE_POINTS)
    step = np.clip(np.searchsorted(along, wanted, side="right") - 1, 0, len(steps) - 1)
    share = np.clip((wanted - along[step]) / lengths[step], 0.0, 1.0)
    points = path[step] + share[:, None] * steps[step]
    trajectory[:, :2] = points
    # The direction from the point before to the point after, a 30th of the path apart: the
    # jitter of the hand and pixels rounded from one sample to the next do not turn it.
    heading = np.concatenate([points[1:2] - points[:1], points[2:] - points[:-2], points[-1:] - points[-2:-1]])
    norms = np.hypot(heading[:, 0], heading[:, 1])[:, None]
    trajectory[:, 2:4] = np.divide(heading, norms, out=np.zeros_like(heading), where=norms > 0)
    trajectory[:, 4] = in_the_air[step]
    return trajectory


def _pen_down_points(strokes):
    """(points (P, 2) float64, the index of each point's stroke (P,)): the finite points of the
    strokes, strokes in the order of their first time."""
    kept = []
    for order, stroke in enumerate(strokes):
        points = np.asarray(stroke, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] < 2 or not len(points):
            continue
        points = points[np.all(np.isfinite(points[:, :3]), axis=1)]
        if len(points):
            started = points[0, 2] if points.shape[1] > 2 else order
            kept.append((started, order, np.clip(points[:, :2], -LARGEST_COORDINATE, LARGEST_COORDINATE)))
    kept.sort(key=lambda item: (item[0], item[1]))
    if not kept:
        return np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
    return (np.concatenate([points for _, _, points in kept]),
            np.concatenate([np.full(len(points), index) for index, (_, _, points) in enumerate(kept)]))


def pen_trajectories(strokes_per_digit):
    """pen_trajectory of each digit's strokes, stacked: (N, STROKE_POINTS, len(CHANNELS)) float32."""
    return np.stack([pen_trajectory(strokes) for strokes in strokes_per_digit]) if len(strokes_per_digit) \
        else np.zeros((0, STROKE_POINTS, len(CHANNELS)), dtype=np.float32)


def combined(image_probabilities, stroke_probabilities, stroke_weight):
    """The two networks' probabilities (N, 10) put together: their weighted geometric mean,
    `stroke_weight` the strokes' share (0: the picture alone, 1: the strokes alone), renormalised.

    A geometric mean rather than an average: a digit both networks find likely wins over one
    only a single network is sure of, and where one network is unsure (its probabilities flat)
    the other decides.
    """
    image = np.log(np.maximum(np.asarray(image_probabilities, dtype=np.float64), PROBABILITY_FLOOR))
    strokes = np.log(np.maximum(np.asarray(stroke_probabilities, dtype=np.float64), PROBABILITY_FLOOR))
    logits = (1 - stroke_weight) * image + stroke_weight * strokes
    weighed = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (weighed / weighed.sum(axis=1, keepdims=True)).astype(np.float32)


class StrokeNetwork:
    """The stroke network on LiteRT (one thread): trajectories (N, STROKE_POINTS, C) float32 in,
    probabilities (N, 10) out; its metadata (stroke_network.json) says what it scored and the
    weight `combined` gives it."""

    def __init__(self, runtime, metadata):
        self._runtime = runtime
        self.metadata = metadata
        self.stroke_weight = float(metadata["combination"]["stroke_weight"])

    @classmethod
    def from_directory(cls, directory=DEFAULT_MODEL_DIR):
        """The stroke network in `directory`, if stroke_network.tflite is the file its metadata
        was written for (ModelFilesError, OSError or ValueError otherwise)."""
        from model.runtimes import LiteRTInference  # model.runtimes imports no stroke code

        directory = Path(directory)
        metadata = json.loads((directory / STROKE_METADATA_FILE).read_text(encoding="utf-8"))
        model = (directory / STROKE_NETWORK_FILE).read_bytes()
        if hashlib.sha256(model).hexdigest() != metadata.get("sha256"):
            raise ModelFilesError(f"{directory / STROKE_NETWORK_FILE} is not the network "
                                  f"{STROKE_METADATA_FILE} describes: run train_strokes.py")
        if metadata.get("points") != STROKE_POINTS or tuple(metadata.get("channels", ())) != CHANNELS:
            raise ModelFilesError(f"{directory / STROKE_NETWORK_FILE} reads other trajectories than "
                                  "model/strokes.py makes: run train_strokes.py")
        return cls(LiteRTInference(litert_interpreter(model, threads=1)), metadata)

    @property
    def version(self):
        return self.metadata.get("version", "unknown")

    def __call__(self, trajectories):
        return self._runtime(np.ascontiguousarray(trajectories, dtype=np.float32))

    def probabilities(self, strokes_per_digit):
        """Probabilities (N, 10) for N digits' strokes."""
        return self(pen_trajectories(strokes_per_digit))

    def describe(self):
        """What /api/model says of it."""
        return {
            "version": self.version,
            "trained_at": self.metadata.get("trained_at"),
            "parameters": self.metadata.get("parameters"),
            "points": STROKE_POINTS,
            "combination": self.metadata.get("combination"),
            "validation_writers": self.metadata.get("evaluation", {}).get("summary"),
        }
