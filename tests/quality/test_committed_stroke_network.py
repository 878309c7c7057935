"""The committed stroke network, measured: it loads with the classifier, reads the validation
writers' strokes, lifts the picture network's reading of them, and tells apart digits whose
pictures are nearly the same but whose strokes are not."""

import numpy as np
import pytest

from handwriting.pendigits import (
    accuracy_report,
    read_pendigits,
    split_by_writer,
    timed,
    validation_drawings_with_strokes,
)
from handwriting.render import SENT_SIZE
from harness.strokes import encode, joined, line, render

# Measured when the network was committed (docs/experiments/stroke-network.md): strokes alone
# 98.60 %, both 99.92 %, worst digit 99.17 %, worst writer 99.60 %; the floors leave room for
# another runtime's rounding, not for a worse network.
STROKES_ALONE_FLOOR = 0.975
BOTH_FLOOR = 0.995
WORST_DIGIT_FLOOR = 0.99
WORST_WRITER_FLOOR = 0.985


def test_the_stroke_network_lifts_the_picture_on_writers_it_never_saw(classifier, pendigits_file):
    assert classifier.reads_strokes, classifier.stroke_network_error
    _, validation = split_by_writer(read_pendigits(pendigits_file))
    images, labels, writers, strokes = validation_drawings_with_strokes(validation)
    picture = classifier.predict(images)
    strokes_alone = accuracy_report(labels, classifier.stroke_network.probabilities(strokes).argmax(axis=1), writers)
    both = accuracy_report(labels, classifier.predict_with_strokes(images, strokes).argmax(axis=1), writers)
    assert strokes_alone["accuracy"] >= STROKES_ALONE_FLOOR
    assert both["accuracy"] >= BOTH_FLOOR and both["accuracy"] > (picture.argmax(axis=1) == labels).mean()
    assert min(both["per_digit"]) >= WORST_DIGIT_FLOOR
    assert both["per_writer"][both["worst_writer"]] >= WORST_WRITER_FLOOR
    recorded = classifier.stroke_network.metadata["evaluation"]["summary"]
    assert recorded["both"]["accuracy"] == pytest.approx(both["accuracy"], abs=2e-3)


def test_a_lightning_four_and_a_five_of_nearly_the_same_picture_are_told_apart(classifier):
    """A 4 in one stroke (down, across, down) and a 5 drawn the same way with a short bar added
    last: their pictures differ by the bar's few pixels; their strokes by a whole stroke."""
    body = joined(line((0.38, 0.22), (0.35, 0.5), 12), line((0.35, 0.5), (0.66, 0.5), 12),
                  line((0.66, 0.5), (0.64, 0.82), 12))
    four, five = [body], [body, line((0.38, 0.22), (0.5, 0.215), 8)]
    pictures = [np.asarray(render(strokes), dtype=float) for strokes in (four, five)]
    assert np.abs(pictures[0] - pictures[1]).mean() < 3  # grey levels of 255
    digits = np.concatenate([classifier.preprocess(encode(render(strokes)))[np.newaxis] for strokes in (four, five)])
    sent = [timed([np.asarray(stroke) * SENT_SIZE for stroke in strokes]) for strokes in (four, five)]
    assert classifier.predict_with_strokes(digits, sent).argmax(axis=1).tolist() == [4, 5]
    strokes_alone = classifier.stroke_network.probabilities(sent)
    assert strokes_alone[0, 4] > 0.9 and strokes_alone[1, 5] > 0.9
    answers = [classifier.classify(encode(render(strokes)), strokes=strokes_sent)
               for strokes, strokes_sent in zip((four, five), sent)]
    assert [answer["digit"] for answer in answers] == [4, 5]
    assert all(answer["networks"] == ["image", "strokes"] for answer in answers)
