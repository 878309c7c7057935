"""bench/personal_accuracy.py --grid: the sessions replayed in one process for several settings
of the blend, as its settings were chosen (each image read once; the blend replayed in NumPy,
with the same functions the server runs)."""

import numpy as np

from model.classifier import DigitClassifier
from model.writer_examples import WriterExamples, personalised

NEAREST_FROM = (0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8)
WEIGHTS = (0.5, 0.6, 0.7, 0.8, 0.9)
CONFIRM_EVERY = 5


def readings(classifier, pngs):
    """(probabilities as served, features, the network's input) for each PNG."""
    digits = [classifier.preprocess(png) for png in pngs]
    inked = np.stack(digits)
    probabilities, features = classifier.predict_with_features(inked)
    return probabilities, features, inked


def replay(first, second, nearest_from, weight):
    """(corrections, second-half answers with the writer's examples) for one writer."""
    (probabilities, features, _), labels = first
    kept_features, kept_labels, corrections, right = [], [], 0, 0
    for index, label in enumerate(labels):
        examples = WriterExamples.of(kept_features, kept_labels) if kept_labels else None
        row, _ = personalised(probabilities[index : index + 1], features[index : index + 1], examples,
                              nearest_from, weight)
        if row[0].argmax() != label:
            corrections += 1
        else:
            right += 1
            if right % CONFIRM_EVERY:
                continue
        kept_features.append(features[index]), kept_labels.append(label)
    (probabilities, features, _), _ = second
    examples = WriterExamples.of(kept_features, kept_labels) if kept_labels else None
    blended, _ = personalised(probabilities, features, examples, nearest_from, weight)
    return corrections, blended.argmax(axis=1)


def print_grid(sessions):
    classifier = DigitClassifier(reads_numbers=False)
    classifier.load()
    read = {writer: tuple((readings(classifier, [png for png, _ in half]), np.array([label for _, label in half]))
                          for half in halves) for writer, halves in sessions.items()}
    print("without: " + "  ".join(
        f"{writer}: {(second[0][0].argmax(axis=1) == second[1]).mean():.2%}" for writer, (_, second) in read.items()))
    print(f"{'from':>5} {'weight':>6} {'overall':>8} {'worst':>7} {'worse':>5} {'corrections':>11}")
    for nearest_from in NEAREST_FROM:
        for weight in WEIGHTS:
            right, total, worst, worse, corrections = 0, 0, 1.0, 0, 0
            for writer, (first, second) in read.items():
                made, answers = replay(first, second, nearest_from, weight)
                accuracy = (answers == second[1]).mean()
                without = (second[0][0].argmax(axis=1) == second[1]).mean()
                right += (answers == second[1]).sum()
                total += len(answers)
                worst, worse, corrections = min(worst, accuracy), worse + (accuracy < without), corrections + made
            print(f"{nearest_from:>5} {weight:>6} {right / total:>8.2%} {worst:>7.2%} {worse:>5} {corrections:>11}")
    return 0
