"""Numbers read with the strokes the page drew (model/stroke_groups.py, model/number_answers.py),
and the strokes of written numbers as the page sends them (handwriting/numbers.py)."""

import dataclasses
import json

import numpy as np
import pytest
from scipy import ndimage

from handwriting.numbers import BETWEEN_DIGITS_MILLISECONDS, sent_strokes, write_digits
from handwriting.pendigits import PEN_UP_MILLISECONDS
from harness.strokes import encode, joined, line, render, strokes_named
from model.number_answers import read_number
from model.number_cuts import CORE_LEVEL, EIGHT_CONNECTED
from model.numbers import measure_line
from model.preprocessing import ink_of, to_ink
from model.stroke_groups import crossing_sets, paths_cross, pen_turns, stroke_ink, usable


def written(names, gaps, **options):
    """Digits from harness/strokes.py written as one number, `gaps` apart (digit heights)."""
    return write_digits([strokes_named(name) for name in names], "".join(name[0] for name in names), gaps, **options)


def read(classifier, number, strokes):
    """(the text read, the readings) of a written number's image with these strokes."""
    digits = classifier.number_reader.read(ink_of(encode(number.image)), classifier.predict, strokes)
    return "".join(str(reading.digit) for reading in digits), digits


def connected_strokes(image):
    return ndimage.label(to_ink(image) >= CORE_LEVEL, EIGHT_CONNECTED)[1]


def same_strokes(first, second):
    return len(first) == len(second) and all(np.array_equal(a, b) for a, b in zip(first, second))


# --- Strokes as the page sends them ----------------------------------------------------------


def test_a_written_numbers_strokes_lie_on_its_ink_and_are_timed_digit_after_digit():
    number = written(["4-open", "2-plain", "7-crossed"], [0.3, 0.2])
    strokes = sent_strokes(number, np.random.default_rng(0))
    assert len(strokes) == 5 and all(stroke.shape[1] == 3 for stroke in strokes)
    ink = np.asarray(number.image) < 128
    for stroke in strokes:
        columns, rows = np.floor(stroke[:, :2]).astype(int).T
        assert ink[rows, columns].mean() > 0.95  # the pen's middle is the darkest of its ink
    # Times go on from stroke to stroke, the pen lifted longer between digits than within one.
    pauses = [later[0, 2] - earlier[-1, 2] for earlier, later in zip(strokes, strokes[1:])]
    assert strokes[0][0, 2] == 0 and all(np.all(np.diff(stroke[:, 2]) > 0) for stroke in strokes)
    within, between = [pauses[0], pauses[3]], [pauses[1], pauses[2]]  # 4: 2 strokes, 2: 1, 7: 2
    assert all(PEN_UP_MILLISECONDS[0] <= pause <= PEN_UP_MILLISECONDS[1] for pause in within)
    assert all(BETWEEN_DIGITS_MILLISECONDS[0] <= pause <= BETWEEN_DIGITS_MILLISECONDS[1] for pause in between)


# --- Grouping strokes into digits ------------------------------------------------------------


# Touching pairs, one connected piece of ink each, drawn as separate strokes: a 1 touching its
# neighbour is the pixel reader's weakest case (docs/numbers.md).
@pytest.mark.parametrize("names, gap", [
    (("3-round", "5-one-stroke"), -0.03), (("1-plain", "8-one-stroke"), -0.03), (("8-one-stroke", "1-plain"), -0.06),
    (("1-plain", "6-curved"), -0.06), (("4-open", "1-plain"), -0.03), (("0-oval", "9-curved-tail"), -0.06),
    (("1-flag", "2-plain"), -0.06), (("9-straight-tail", "8-one-stroke"), -0.06),
], ids=lambda value: "".join(name[0] for name in value) if isinstance(value, tuple) else str(value))
def test_touching_digits_drawn_as_separate_strokes_are_read_apart(classifier, names, gap):
    number = written(list(names), [gap])
    assert connected_strokes(number.image) == 1
    strokes = sent_strokes(number)
    text, digits = read(classifier, number, strokes)
    assert text == number.text
    # Each digit is its own strokes, and its box its own ink's.
    assert [len(reading.strokes) for reading in digits] == [len(each) for each in number.digit_strokes]
    first_digit = len(number.digit_strokes[0])
    assert same_strokes(digits[0].strokes, strokes[:first_digit]) and same_strokes(digits[1].strokes, strokes[first_digit:])
    for reading, box in zip(digits, number.boxes):
        assert reading.box == pytest.approx(box, abs=3)


def test_a_4_and_a_5_whose_second_strokes_come_late_stay_whole(classifier):
    number = written(["4-open", "5-two-strokes", "2-plain"], [0.05, 0.05])
    strokes = sent_strokes(number)
    # Drawn: the 4's first stroke, the 5's first, the 2; then the 4's stem and the 5's bar.
    later = strokes[4][-1, 2] + 500.0
    late = [stroke + (0.0, 0.0, later + 400.0 * order - stroke[0, 2]) for order, stroke in enumerate((strokes[1], strokes[3]))]
    text, digits = read(classifier, number, [strokes[0], strokes[2], strokes[4], *late])
    assert text == "452"
    assert [len(reading.strokes) for reading in digits] == [2, 2, 1]
    # Each digit's strokes in the order they were drawn.
    assert same_strokes(digits[0].strokes, [strokes[0], late[0]]) and same_strokes(digits[1].strokes, [strokes[2], late[1]])


def test_a_stroke_that_runs_into_the_next_digit_is_cut(classifier):
    apart = written(["1-plain", "2-plain"], [0.3])
    # The pen never lifted: down the 1, straight up to where the 2 begins, and on through the 2.
    one, two = apart.digit_strokes[0][0], apart.digit_strokes[1][0]
    stroke = np.concatenate([one, two])
    image = render([stroke], size=apart.image.size, pen_fraction=apart.pen_share)
    number = dataclasses.replace(apart, digit_strokes=[[stroke]], image=image)
    strokes = sent_strokes(number)
    assert len(strokes) == 1 and connected_strokes(image) == 1
    text, digits = read(classifier, number, strokes)
    assert text == "12"
    # Cut where the pen turned: the 1's stroke ends where the 2's begins, and they share no point.
    assert [len(reading.strokes) for reading in digits] == [1, 1]
    assert digits[0].strokes[0][-1, 2] <= digits[1].strokes[0][0, 2]
    assert digits[0].box[0] + digits[0].box[2] <= digits[1].box[0] + 3


def test_strokes_that_cross_are_one_digits_and_strokes_that_touch_are_not():
    stem = np.array([[0.5, 0.0], [0.5, 1.0]])
    bar = np.array([[0.0, 0.5], [1.0, 0.5]])
    beside = np.array([[0.6, 0.0], [0.6, 1.0]])
    touching = np.array([[0.5, 1.0], [0.9, 1.2]])  # starts where the stem ends
    assert paths_cross(stem, bar) and not paths_cross(stem, beside) and not paths_cross(stem, touching)
    assert not paths_cross(stem, np.array([[0.0, 0.5]]))  # a dot crosses nothing
    assert crossing_sets([stem, beside, bar, touching]) == [[0, 1, 2], [3]]


def test_the_pen_turns_at_the_bottom_and_top_of_a_zigzag_and_not_near_its_ends():
    number = written(["1-plain", "2-plain"], [0.3])
    line_measured = measure_line(to_ink(number.image))
    height = line_measured.height
    zigzag = np.array([[0, 0], [0.1, 1], [0.2, 0], [0.3, 1], [0.3, 1.05]]) * height + 10
    assert pen_turns(zigzag, line_measured) == [1, 2, 3] or pen_turns(zigzag, line_measured) == [1, 2]
    assert pen_turns(zigzag[:2], line_measured) == []


# --- Strokes that are not the image's ----------------------------------------------------------


def test_degenerate_strokes_are_left_out_and_none_left_reads_the_pixels(classifier):
    number = written(["3-round", "5-one-stroke"], [-0.03])
    strokes = sent_strokes(number)
    assert usable([np.zeros((0, 3)), np.array([[np.nan, 1.0, 2.0], [1.0, 2.0, 3.0]])]) == [
        pytest.approx(np.array([[1.0, 2.0, 3.0]]))]
    assert usable([]) is None and usable([np.zeros((0, 3))]) is None
    # Empty strokes and a tap of the pen on the ink (a single point) change nothing.
    tap = np.array([[strokes[0][5, 0], strokes[0][5, 1], strokes[-1][-1, 2] + 300]])
    text, digits = read(classifier, number, [np.zeros((0, 3)), *strokes, tap])
    assert text == "35" and all(reading.strokes is not None for reading in digits)
    # No stroke left: the pixels alone.
    pixels_only = read(classifier, number, None)
    for nothing in ([], [np.zeros((0, 3))]):
        text, digits = read(classifier, number, nothing)
        assert text == pixels_only[0] and all(reading.strokes is None for reading in digits)


def test_strokes_that_do_not_match_the_image_are_not_used(classifier):
    number = written(["2-plain", "0-oval", "7-plain"], [0.2, -0.03])
    strokes = sent_strokes(number)
    line_measured = measure_line(ink_of(encode(number.image)))
    assert stroke_ink(line_measured, strokes) is not None
    # A digit written after the strokes were sent (the image edited): its ink is no stroke's.
    assert stroke_ink(line_measured, strokes[:-1]) is None
    # Strokes in other units than the image's pixels run over paper.
    assert stroke_ink(line_measured, [stroke * (2.0, 2.0, 1.0) for stroke in strokes]) is None
    # A stroke over paper (erased from the image).
    assert stroke_ink(line_measured, [*strokes, np.array([[20.0, 5.0, 9e3], [60.0, 5.0, 9.1e3]])]) is None


# --- The answer ------------------------------------------------------------------------------


def test_read_number_with_strokes_reads_touching_digits_apart_and_says_how(classifier):
    number = written(["1-plain", "8-one-stroke", "3-round", "5-one-stroke"], [-0.03, 0.3, -0.03])
    data, strokes = encode(number.image), sent_strokes(number)
    answer = read_number(classifier, data, strokes=strokes)
    assert answer["number"] == "1835" and answer["read_from"] == "strokes"
    assert answer["networks"] == (["image", "strokes"] if classifier.reads_strokes else ["image"])
    for digit, box in zip(answer["digits"], number.boxes):
        assert digit["box"] == pytest.approx(box, abs=3) and digit["input_image"].startswith("data:image/png")
    # The same strokes, not the image's: read from the pixels, as without strokes.
    pixels = read_number(classifier, data)
    mismatched = read_number(classifier, data, strokes=strokes[:-1])
    assert mismatched["read_from"] == "pixels" and mismatched["networks"] == ["image"]
    assert {key: value for key, value in mismatched.items() if key not in ("read_from", "networks")} == pixels


def test_read_number_without_strokes_answers_as_before(classifier):
    number = written(["2-plain", "0-oval", "7-plain"], [0.2, -0.03])
    data = encode(number.image)
    answer = read_number(classifier, data)
    assert "networks" not in answer and "read_from" not in answer
    # As the reader reads the pixels: the same digits, to the byte.
    digits = classifier.number_reader.read(ink_of(data), classifier.predict_number_candidates)
    assert [digit["box"] for digit in answer["digits"]] == [reading.box for reading in digits]
    assert json.dumps(read_number(classifier, data, strokes=None)) == json.dumps(answer)


def test_no_ink_with_strokes_is_no_number(classifier):
    blank = encode(render([], size=(336, 112)))
    answer = read_number(classifier, blank, strokes=[np.array([[10.0, 10.0, 0.0], [20.0, 20.0, 25.0]])])
    assert answer["number"] == "" and answer["networks"] == [] and answer["read_from"] == "pixels"
