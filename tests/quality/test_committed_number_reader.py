"""The committed number reader, measured: fitted on the served network's training writers only,
and reading numbers by the validation writers, which it never saw."""

import json

import numpy as np

from handwriting.numbers import by_writer_and_label, numbers_for_writers
from handwriting.pendigits import read_pendigits, split_by_writer
from handwriting.render import encode
from model.number_answers import read_number
from model.number_judge import NUMBER_READER_FILE


def test_the_committed_judge_was_fitted_on_the_training_writers_of_the_served_network(classifier):
    fitted = json.loads(NUMBER_READER_FILE.read_text())["fitted"]
    assert fitted["digit_network"] == classifier.version
    assert not set(fitted["writers"]) & set(classifier.metadata["writer_split"]["validation"])


def test_the_committed_reader_reads_the_validation_writers_numbers(classifier, pendigits_file):
    """60 numbers of 2-6 digits with every kind of gap (bench/number_accuracy.py reads 1,000:
    96.0 % exact, 99.2 % of digit counts right)."""
    _, validation = split_by_writer(read_pendigits(pendigits_file))
    numbers = numbers_for_writers(by_writer_and_label(validation), 60, seed=11)
    read = [read_number(classifier, encode(number.image))["number"] for number in numbers]
    exact = np.mean([answer == number.text for answer, number in zip(read, numbers)])
    counted = np.mean([len(answer) == len(number.text) for answer, number in zip(read, numbers)])
    assert exact >= 0.9 and counted >= 0.96, (exact, counted)
