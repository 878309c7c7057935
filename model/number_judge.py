"""The number reader's judge: how likely a group of pieces of ink is one whole digit.

A two-layer network over the group's shape and its reading (how sure the digit network is, how
wide and high the group is against the line, whether it joins strokes that do not overlap or
cuts connected ink) and the whole-digit check: a small convolutional network on the group's
28x28 image (whole_digit_check.tflite), since the digit network reads two touching digits as one as
surely as a digit, where the check sees a bar beside an 8. `train_number_reader.py` fits both
on writers the digit network was trained on.
"""

import hashlib
import json
from pathlib import Path

import numpy as np

from model.loader import ModelFilesError, litert_interpreter
from model.preprocessing import to_model_input
from model.runtimes import LiteRTInference

NUMBER_READER_FILE = Path(__file__).resolve().parent / "number_reader.json"


# The whole-digit check's LiteRT model, beside number_reader.json (which records its SHA-256).
WHOLE_DIGIT_CHECK_FILE = "whole_digit_check.tflite"


FEATURES = (
    "log p", "log p - log p second", "width", "height", "width over 0.9", "height under 0.55",
    "pieces", "components", "cuts at its ends", "largest gap inside", "has a gap inside",
    "whole components", "whole components x components", "least overlap of its components",
    "components overlap under 0.3",
    *(f"width if {digit}" for digit in range(10)), *(f"read as {digit}" for digit in range(10)), "whole-digit check",
)


def group_features(reading, line_height):
    """The judge's inputs for one group (FEATURES, in that order)."""
    group = reading.group
    ranked = np.sort(reading.probabilities)[::-1]
    log_best, log_second = np.log(np.maximum(ranked[:2], 1e-9))
    width, height = group.width / line_height, group.height / line_height
    # Gaps and overlaps along the line between the group's connected strokes.
    extents = {}
    for piece in group.pieces:
        low, high = extents.get(piece.component, (np.inf, -np.inf))
        extents[piece.component] = (min(low, piece.left), max(high, piece.right))
    spans = sorted(extents.values())
    largest_gap, reach, least_overlap = 0.0, spans[0][1], 1.0
    for (low, high), (next_low, next_high) in zip(spans, spans[1:]):
        largest_gap = max(largest_gap, next_low - reach)
        reach = max(reach, next_high)
        shared = max(0.0, min(high, next_high) - max(low, next_low))
        least_overlap = min(least_overlap, shared / max(1.0, min(high - low, next_high - next_low)))
    whole = float(group.is_whole_components())
    read_as = np.zeros(10)
    read_as[reading.digit] = 1.0
    return np.concatenate([
        [log_best, log_best - log_second, width, height, max(0.0, width - 0.9), max(0.0, 0.55 - height),
         len(group.pieces), len(spans), group.cuts_at_its_ends(), largest_gap / line_height,
         float(largest_gap > 0), whole, whole * len(spans), least_overlap, float(least_overlap < 0.3)],
        read_as * width, read_as, [reading.whole_digit_check],
    ])


class GroupJudge:
    """log P(the group is one whole digit) from group_features: a network of one hidden tanh
    layer, fitted by train_number_reader.py (model/number_reader.json), evaluated here in NumPy
    (a worker need not load Keras for forty numbers a group); and the whole-digit check, whose logit is one of
    the features: `whole_digit_check` maps uint8 digits (N, 28, 28) to logits (N,)."""

    def __init__(self, settings, whole_digit_check):
        if tuple(settings["features"]) != FEATURES:
            raise ValueError("number_reader.json was fitted on other features: run train_number_reader.py")
        self.mean = np.asarray(settings["mean"])
        self.scale = np.asarray(settings["scale"])
        self.hidden_weights = np.asarray(settings["hidden_weights"])
        self.hidden_bias = np.asarray(settings["hidden_bias"])
        self.output_weights = np.asarray(settings["output_weights"])
        self.output_bias = float(settings["output_bias"])
        self.digit_bonus = float(settings["digit_bonus"])
        self.whole_digit_check = whole_digit_check

    @classmethod
    def from_file(cls, path=NUMBER_READER_FILE):
        """The judge in number_reader.json with the whole-digit check beside it (whole_digit_check.tflite, which must
        be the one the judge was fitted with), run by LiteRT on one thread."""
        settings = json.loads(Path(path).read_text())
        check_path = Path(path).with_name(settings["whole_digit_check"]["file"])
        check_model = check_path.read_bytes()
        if hashlib.sha256(check_model).hexdigest() != settings["whole_digit_check"]["sha256"]:
            raise ModelFilesError(f"{check_path} is not the whole-digit check {Path(path).name} was fitted with: "
                                  "run train_number_reader.py")
        return cls(settings, whole_digit_check_runtime(check_model))

    def log_probabilities(self, features):
        """log P(one whole digit) for each row of features (N, len(FEATURES))."""
        hidden = np.tanh(((features - self.mean) / self.scale) @ self.hidden_weights + self.hidden_bias)
        return -np.logaddexp(0.0, -(hidden @ self.output_weights + self.output_bias))


def whole_digit_check_runtime(model):
    """The whole-digit check's LiteRT model (bytes) as a function of uint8 digits (N, 28, 28): logits (N,)."""
    runtime = LiteRTInference(litert_interpreter(model, threads=1))
    return lambda digits: runtime(to_model_input(digits))[:, 0]
