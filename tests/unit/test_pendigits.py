"""Other writers' pen strokes: reading them, splitting by writer, drawing them for the model."""

from collections import Counter

import numpy as np
import pytest

from handwriting.pendigits import (
    PAGE_DRAWING,
    VALIDATION_WRITERS,
    Drawing,
    PenDigit,
    accuracy_report,
    catmull_rom,
    drawn_for_the_model,
    page_strokes,
    parse_pendigits,
    random_drawing,
    read_pendigits,
    split_by_writer,
    validation_drawings,
)

# Two digits in the file's format: a one-stroke 1 by writer 3 and a two-stroke 7 by writer 14.
UNIPEN_TEXT = """.INCLUDE        dene.doc

.LEXICON "0" "1" "2" "3" "4" "5" "6" "7" "8" "9"
.HIERARCHY      DIGIT

.SEGMENT DIGIT    0 ? "1"
.COMMENT 1 3  1
.PEN_DOWN
 250  400
 252  300
 254  200
 255  100
.PEN_UP

.SEGMENT DIGIT    1 ? "7"
.COMMENT 7 14  2
.PEN_DOWN
 150  400
 350  400
 250  100
.PEN_UP
.DT 100
.PEN_DOWN
 180  250
 320  250
.PEN_UP
"""


def test_the_file_format_is_read_into_labels_writers_and_strokes():
    one, seven = parse_pendigits(UNIPEN_TEXT)
    assert (one.label, one.writer, len(one.strokes)) == (1, 3, 1)
    assert (seven.label, seven.writer, len(seven.strokes)) == (7, 14, 2)
    np.testing.assert_array_equal(one.strokes[0], [[250, 400], [252, 300], [254, 200], [255, 100]])
    np.testing.assert_array_equal(seven.strokes[1], [[180, 250], [320, 250]])


def test_the_shared_file_holds_30_writers_and_the_documented_counts(pendigits_file):
    digits = read_pendigits(pendigits_file)
    assert len(digits) == 7494
    assert sorted({digit.writer for digit in digits}) == list(range(1, 31))
    counts = Counter(digit.label for digit in digits)
    assert [counts[label] for label in range(10)] == [780, 779, 780, 719, 780, 720, 720, 778, 719, 719]
    assert Counter(len(digit.strokes) for digit in digits) == {1: 5564, 2: 1921, 3: 9}


def test_no_writer_is_on_both_sides_of_the_split(pendigits_file):
    digits = read_pendigits(pendigits_file)
    training, validation = split_by_writer(digits)
    training_writers = {digit.writer for digit in training}
    validation_writers = {digit.writer for digit in validation}
    assert training_writers.isdisjoint(validation_writers)
    assert validation_writers == set(VALIDATION_WRITERS)
    assert len(training_writers) == 25
    assert len(training) + len(validation) == len(digits)


def test_split_keeps_every_digit_of_a_writer_together():
    digits = [PenDigit(label, writer, ()) for writer in (1, 3, 14, 20) for label in range(10)]
    training, validation = split_by_writer(digits, validation_writers=(3, 20))
    assert {digit.writer for digit in training} == {1, 14}
    assert {digit.writer for digit in validation} == {3, 20}
    assert len(training) == len(validation) == 20


def test_the_smooth_curve_runs_through_every_tablet_point():
    points = np.array([[0.0, 0.0], [10.0, 5.0], [20.0, 0.0], [30.0, 10.0]])
    curve = catmull_rom(points, steps=4)
    assert len(curve) == 3 * 4 + 1
    np.testing.assert_allclose(curve[::4], points)
    # Between the points it bends smoothly rather than running straight.
    assert not np.allclose(curve[2], (points[0] + points[1]) / 2)


def test_page_strokes_flip_y_and_put_the_digit_where_the_drawing_says():
    one, seven = parse_pendigits(UNIPEN_TEXT)
    strokes = page_strokes(seven, Drawing(height=0.5, centre=(0.4, 0.6)))
    points = np.concatenate(strokes)
    assert points[:, 1].max() - points[:, 1].min() == pytest.approx(0.5)
    assert (points.min(axis=0) + points.max(axis=0)) / 2 == pytest.approx((0.4, 0.6))
    # The tablet's y points up: the seven's top bar (y=400 there) is at the top of the pad, and its
    # crossbar (y=250) lower down.
    top_bar_start, crossbar_start = strokes[0][0], strokes[1][0]
    assert top_bar_start[1] == pytest.approx(points[:, 1].min(), abs=0.05)
    assert crossbar_start[1] > top_bar_start[1] + 0.2


def test_random_drawings_keep_ink_and_pen_on_the_pad():
    rng = np.random.default_rng(0)
    _, seven = parse_pendigits(UNIPEN_TEXT)
    # A wide, flat digit (a long dash): its box reaches the edge of the pad at many centres.
    dash = PenDigit(1, 3, (np.array([[0.0, 100.0], [500.0, 110.0]]),))
    for digit in (seven, dash):
        for _ in range(300):
            drawing = random_drawing(rng)
            points = np.concatenate(page_strokes(digit, drawing))
            pen = drawing.pen_share / 2
            assert points.min() - pen >= -1e-9 and points.max() + pen <= 1 + 1e-9


def test_a_centre_near_the_edge_moves_only_as_far_as_the_ink_needs():
    _, seven = parse_pendigits(UNIPEN_TEXT)
    inside = np.concatenate(page_strokes(seven, Drawing(height=0.4, centre=(0.5, 0.5))))
    pushed = np.concatenate(page_strokes(seven, Drawing(height=0.4, centre=(0.98, 0.5))))
    assert pushed[:, 0].max() + PAGE_DRAWING.pen_share / 2 == pytest.approx(1.0)
    np.testing.assert_allclose(pushed[:, 1], inside[:, 1])  # Only x had to move.


def test_drawn_for_the_model_goes_through_the_served_preprocessing():
    from handwriting.pendigits import draw
    from handwriting.render import encode
    from model.preprocessing import preprocess

    digits = parse_pendigits(UNIPEN_TEXT)
    images, labels, writers = drawn_for_the_model(digits, 3, seed=5, page_drawing_first=True)
    assert images.shape == (6, 28, 28) and images.dtype == np.uint8
    assert labels.tolist() == [1, 1, 1, 7, 7, 7] and writers.tolist() == [3, 3, 3, 14, 14, 14]
    np.testing.assert_array_equal(images[0], preprocess(encode(draw(digits[0], PAGE_DRAWING))))
    again, _, _ = drawn_for_the_model(digits, 3, seed=5, page_drawing_first=True)
    np.testing.assert_array_equal(images, again)  # The same seed, the same drawings.
    assert not np.array_equal(images[1], images[2])  # Each drawing its own.


def test_validation_drawings_are_the_same_every_time():
    digits = parse_pendigits(UNIPEN_TEXT)
    first, second = validation_drawings(digits), validation_drawings(digits)
    np.testing.assert_array_equal(first[0], second[0])


def test_accuracy_report_names_the_worst_writer():
    labels = np.array([1, 1, 2, 2, 3, 3])
    predicted = np.array([1, 7, 2, 2, 3, 3])
    writers = np.array([5, 5, 6, 6, 6, 6])
    report = accuracy_report(labels, predicted, writers)
    assert report["accuracy"] == pytest.approx(5 / 6)
    assert report["per_writer"] == {5: 0.5, 6: 1.0} and report["worst_writer"] == 5
    assert report["per_digit"][1] == 0.5 and report["per_digit"][2] == 1.0
    assert np.isnan(report["per_digit"][0])
