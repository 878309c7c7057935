import shutil

import numpy as np
import pytest

from model.loader import DEFAULT_MODEL_DIR
from model.service import DigitClassifier, nvidia_gpu_present
from tests.strokes import STROKE_DIGITS, encode, render


@pytest.fixture(scope="module")
def digits(classifier):
    return np.stack([classifier.preprocess(encode(render(strokes))) for _, _, strokes in STROKE_DIGITS])


def loaded(runtime):
    classifier = DigitClassifier(runtime=runtime)
    classifier.load()
    assert classifier.ready, classifier.load_error
    return classifier


def test_the_default_runtime_is_litert_on_a_cpu_and_tensorflow_on_a_gpu(classifier):
    expected = "tensorflow" if nvidia_gpu_present() else "litert"
    assert classifier.runtime == expected and classifier.describe()["runtime"] == expected


def test_litert_and_tensorflow_give_the_same_probabilities(digits):
    litert, tensorflow = loaded("litert"), loaded("tensorflow")
    assert (litert.runtime, tensorflow.runtime) == ("litert", "tensorflow")
    np.testing.assert_allclose(litert.predict(digits), tensorflow.predict(digits), atol=1e-4)
    # Batch size changes between calls must not confuse either runtime.
    for size in (1, 5, 1, 32, 2):
        batch = np.resize(digits, (size, 28, 28))
        np.testing.assert_allclose(litert.predict(batch), tensorflow.predict(batch), atol=1e-4)


def test_stale_litert_file_falls_back_to_tensorflow_or_fails_when_litert_is_required(tmp_path):
    shutil.copytree(DEFAULT_MODEL_DIR, tmp_path / "model", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    directory = tmp_path / "model"
    weights = bytearray((directory / "model.h5").read_bytes())
    (directory / "model.h5").write_bytes(bytes(weights) + b"\0")  # Different bytes, same weights.

    automatic = DigitClassifier(model_dir=directory)
    automatic.load()
    assert automatic.ready and automatic.runtime == "tensorflow"

    strict = DigitClassifier(model_dir=directory, runtime="litert")
    strict.load()
    assert not strict.ready and "was not converted from" in strict.load_error


def test_unknown_runtime_is_reported():
    classifier = DigitClassifier(runtime="onnx")
    classifier.load()
    assert not classifier.ready and "Unknown runtime" in classifier.load_error


def test_classify_returns_no_digit_without_asking_the_model(classifier, monkeypatch):
    from PIL import Image

    monkeypatch.setattr(classifier, "predict", lambda digits: pytest.fail("the model was asked"))
    answer = classifier.classify(encode(Image.new("L", (100, 100), 255)))
    assert answer["digit"] is None and answer["reason"]
