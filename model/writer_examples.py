"""A writer's own examples, used at once: the network's reading of a new drawing blended with a
vote of the drawings that writer corrected or confirmed, as nearest neighbours.

Each example is a drawing the writer told us the right digit of, as the network's penultimate
features (the 96 numbers its last layer weighs), centred on their mean over MNIST's training
images (around zero, every digit's features point much the same way; around their mean, the
cosine tells a writer's digits apart) and L2-normalised. A new drawing whose features lie
within `nearest_from` (cosine) of at least one example is also read by those close examples'
votes, each weighted by how close it is; the vote is blended into the network's probabilities
with `weight`. A drawing unlike every example is answered by the network alone, so a digit the
writer never corrected keeps its reading. The settings were chosen on the validation writers
(bench/personal_accuracy.py, docs/experiments/personal-examples.md).
"""

from dataclasses import dataclass

import numpy as np

# Chosen on the validation writers (bench/personal_accuracy.py --grid): the cosine from which an
# example votes, and the share of the answer the vote takes; the middle of the settings that
# read best (0.45-0.55 and 0.6-0.7 all within 0.1 point of each other).
NEAREST_FROM = 0.5
WEIGHT = 0.7
# The most examples kept for one writer: the newest (a writer's style drifts; the vote stays
# cheap: one matrix product of this many rows).
MOST_EXAMPLES = 200


@dataclass(frozen=True)
class WriterExamples:
    features: np.ndarray  # (n, F) float32, each row of unit length
    labels: np.ndarray  # (n,) int64, the digit each example is

    @classmethod
    def of(cls, features, labels):
        features = np.asarray(features, dtype=np.float32)
        norms = np.linalg.norm(features, axis=1, keepdims=True)
        return cls(features / np.maximum(norms, 1e-12), np.asarray(labels, dtype=np.int64))

    @classmethod
    def none(cls):
        """A writer with no examples (yet)."""
        return cls(np.zeros((0, 1), dtype=np.float32), np.zeros(0, dtype=np.int64))

    def __len__(self):
        return len(self.labels)


def personalised(probabilities, features, examples, nearest_from=NEAREST_FROM, weight=WEIGHT):
    """(probabilities (N, 10), changed (N,) bool): each row blended with the vote of the writer's
    examples within `nearest_from` of its features (N, F); rows with none that close unchanged."""
    probabilities = np.asarray(probabilities)
    changed = np.zeros(len(probabilities), dtype=bool)
    if examples is None or not len(examples) or not len(probabilities):
        return probabilities, changed
    queries = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    similarity = queries.astype(np.float32) @ examples.features.T  # (N, n)
    close = similarity >= nearest_from
    changed = close.any(axis=1)
    if not changed.any():
        return probabilities, changed
    votes = np.zeros((len(probabilities), probabilities.shape[1]), dtype=np.float64)
    rows, columns = np.nonzero(close)
    np.add.at(votes, (rows, examples.labels[columns]), similarity[rows, columns])
    blended = probabilities.astype(np.float64).copy()
    votes[changed] /= votes[changed].sum(axis=1, keepdims=True)
    blended[changed] = (1 - weight) * blended[changed] + weight * votes[changed]
    return blended.astype(probabilities.dtype), changed


def read_for_writer(classifier, data, examples, strokes=None):
    """(the network's 28x28 input or None, the answer) for one image's bytes read for a writer
    with these examples: /predict/'s answer, blended where an example is close, and saying so.
    With `strokes` (not None) the stroke network reads them too before the examples vote, and the
    answer names the networks that read the drawing, as classify() does."""
    digit_image = classifier.preprocess(data)
    if digit_image is None:
        answer = {**classifier.postprocess(None, None), "personal": False}
        return None, answer if strokes is None else {**answer, "networks": []}
    probabilities, features = classifier.predict_with_features(digit_image[np.newaxis])
    read_strokes = None
    if strokes is not None:
        probabilities, read_strokes = classifier.with_strokes(probabilities, [strokes])
    if features is not None:
        probabilities, changed = personalised(probabilities, features, examples)
    else:
        changed = np.zeros(1, dtype=bool)
    answer = {**classifier.postprocess(digit_image, probabilities[0]), "personal": bool(changed[0])}
    if read_strokes is not None:
        answer["networks"] = classifier.networks(read_strokes[0])
    return digit_image, answer
