"""train_number_reader.py: a small run writes a judge the reader loads and reads with."""

import hashlib
import json

import numpy as np
import pytest

from handwriting.numbers import write_digits
from model.numbers import FEATURES, NUMBER_LOOK_FILE, NUMBER_READER_FILE, GroupJudge, NumberReader
from model.preprocessing import ink_of
from tests.strokes import encode, strokes_named
from train_number_reader import main

pytestmark = pytest.mark.slow


def test_a_small_fit_writes_a_judge_the_reader_reads_with(tmp_path, pendigits_file, classifier):
    out = tmp_path / "number_reader.json"
    main(["--pendigits", str(pendigits_file), "--count", "20", "--epochs", "2", "--look-epochs", "1",
          "--out", str(out)])
    settings = json.loads(out.read_text())
    assert tuple(settings["features"]) == FEATURES
    assert len(settings["hidden_weights"]) == len(FEATURES)
    # The look is written beside the judge, which names it by its SHA-256.
    look = out.with_name(NUMBER_LOOK_FILE)
    assert settings["look"]["file"] == NUMBER_LOOK_FILE
    assert settings["look"]["sha256"] == hashlib.sha256(look.read_bytes()).hexdigest()
    fitted = settings["fitted"]
    # Fitted on the training writers only, and it says on what.
    assert fitted["numbers"] == 20 and 1 not in fitted["writers"] and len(fitted["writers"]) == 25
    assert fitted["pendigits"]["sha256"] and fitted["digit_network"] == classifier.version
    number = write_digits([strokes_named("3-round"), strokes_named("7-plain")], "37", [0.4])
    digits = NumberReader(GroupJudge.from_file(out)).read(ink_of(encode(number.image)), classifier.predict)
    assert len(digits) >= 1 and all(np.isfinite(reading.log_judged) for reading in digits)
    assert all(np.isfinite(reading.look) and reading.look != 0.0 for reading in digits)


def test_the_committed_judge_was_fitted_on_the_training_writers_of_the_served_network(classifier):
    fitted = json.loads(NUMBER_READER_FILE.read_text())["fitted"]
    assert fitted["digit_network"] == classifier.version
    assert not set(fitted["writers"]) & set(classifier.metadata["writer_split"]["validation"])
    assert fitted["held_out_exact"] > 0.9
    # The look alone tells most held-out groups apart; with the other features, the judge more.
    accuracy = fitted["held_out_groups_accuracy"]
    assert 0.9 < accuracy["look"] < accuracy["judge"]
