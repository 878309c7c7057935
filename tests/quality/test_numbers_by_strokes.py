"""Numbers read with the strokes the page drew, measured: numbers by the validation writers,
which neither the digit network nor the number reader's judge ever saw."""

import numpy as np

from handwriting.numbers import by_writer_and_label, numbers_for_writers, sent_strokes
from handwriting.pendigits import read_pendigits, split_by_writer
from handwriting.render import encode
from model.number_answers import read_number


def test_the_validation_writers_numbers_read_with_their_strokes(classifier, pendigits_file):
    """60 numbers of 2-6 digits with every kind of gap, read from the pixels alone and with the
    strokes (bench/number_accuracy.py --strokes reads 1,000; docs/experiments/numbers-by-strokes.md)."""
    _, validation = split_by_writer(read_pendigits(pendigits_file))
    numbers = numbers_for_writers(by_writer_and_label(validation), 60, seed=11)
    rng = np.random.default_rng(11)
    pixels, strokes = [], []
    for number in numbers:
        data = encode(number.image)
        pixels.append(read_number(classifier, data)["number"])
        answer = read_number(classifier, data, strokes=sent_strokes(number, rng))
        assert answer["read_from"] == "strokes"
        strokes.append(answer["number"])
    texts = [number.text for number in numbers]
    exact = np.mean([answer == text for answer, text in zip(strokes, texts)])
    counted = np.mean([len(answer) == len(text) for answer, text in zip(strokes, texts)])
    touching = [index for index, number in enumerate(numbers) if number.gap == "touching"]
    assert exact >= 0.93 and counted >= 0.98, (exact, counted)
    # Where two digits touch, the strokes read at least as many numbers as the pixels.
    assert sum(strokes[index] == texts[index] for index in touching) >= sum(pixels[index] == texts[index] for index in touching)
