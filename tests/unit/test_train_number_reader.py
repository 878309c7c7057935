"""train_number_reader.py: a small run writes a judge the reader loads and reads with."""

import hashlib
import json

import numpy as np
import pytest

from handwriting.numbers import write_digits
from harness.strokes import encode, strokes_named
from model.number_judge import FEATURES, WHOLE_DIGIT_CHECK_FILE, GroupJudge
from model.numbers import NumberReader
from model.preprocessing import ink_of
from train_number_reader import main

pytestmark = pytest.mark.slow


def test_a_small_fit_writes_a_judge_the_reader_reads_with(tmp_path, pendigits_file, classifier):
    out = tmp_path / "number_reader.json"
    main(["--pendigits", str(pendigits_file), "--count", "20", "--epochs", "2", "--check-epochs", "1",
          "--out", str(out)])
    settings = json.loads(out.read_text())
    assert tuple(settings["features"]) == FEATURES
    assert len(settings["hidden_weights"]) == len(FEATURES)
    # The whole-digit check is written beside the judge, which names it by its SHA-256.
    check = out.with_name(WHOLE_DIGIT_CHECK_FILE)
    assert settings["whole_digit_check"]["file"] == WHOLE_DIGIT_CHECK_FILE
    assert settings["whole_digit_check"]["sha256"] == hashlib.sha256(check.read_bytes()).hexdigest()
    fitted = settings["fitted"]
    # Fitted on the training writers only, and it says on what.
    assert fitted["numbers"] == 20 and 1 not in fitted["writers"] and len(fitted["writers"]) == 25
    assert fitted["pendigits"]["sha256"] and fitted["digit_network"] == classifier.version
    number = write_digits([strokes_named("3-round"), strokes_named("7-plain")], "37", [0.4])
    digits = NumberReader(GroupJudge.from_file(out)).read(ink_of(encode(number.image)), classifier.predict)
    assert len(digits) >= 1 and all(np.isfinite(reading.log_judged) for reading in digits)
    assert all(np.isfinite(reading.whole_digit_check) and reading.whole_digit_check != 0.0 for reading in digits)


