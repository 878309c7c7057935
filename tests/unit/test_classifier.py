import shutil

import numpy as np
import pytest

from handwriting.numbers import write_digits
from harness.apps import RecordingRuntime
from harness.strokes import STROKE_DIGITS, encode, render, strokes_named
from model.batch_processes import classify_each
from model.classifier import DigitClassifier
from model.loader import DEFAULT_MODEL_DIR
from model.number_answers import read_number
from model.preprocessing import turned_and_scaled
from model.report import describe
from model.test_time_augmentation import TTA_BELOW, VARIANTS


@pytest.fixture(scope="module")
def digits(classifier):
    return np.stack([classifier.preprocess(encode(render(strokes))) for _, _, strokes in STROKE_DIGITS])


def loaded(runtime):
    classifier = DigitClassifier(runtime=runtime)
    classifier.load()
    assert classifier.ready, classifier.load_error
    return classifier


def test_lone_images_and_small_batches_go_to_litert_gpu_or_not(classifier):
    assert classifier.runtime == "litert" and describe(classifier)["runtime"] == "litert"
    assert classifier.runtimes.for_size(1).runtime == "litert" and not classifier.gpu_takes(1)
    assert classifier.runtimes.for_size(classifier.max_batch_size) is classifier.runtimes.for_size(1)
    sizes = describe(classifier)["runtimes"]["sizes"]
    assert [size["images"] for size in sizes][:1] == [f"1-{classifier.max_batch_size}"]
    assert all(size["runtime"] == "litert" for size in sizes) and describe(classifier)["runtimes"]["why"]


def test_a_lone_image_never_takes_the_gpu_path_and_large_batches_do(digits):
    classifier = loaded("litert")
    gpu = RecordingRuntime(classifier.runtimes.for_size(1000))
    classifier.runtimes.gpu, classifier.runtimes.gpu_batch_from = gpu, 64
    for size in (1, 2, 32, 63):
        classifier.predict(np.resize(digits, (size, 28, 28)))
    assert gpu.sizes == []
    classifier.predict(np.resize(digits, (64, 28, 28)))
    classifier.predict(np.resize(digits, (1000, 28, 28)))
    assert gpu.sizes == [64, 1000]
    # Even if the timing said the GPU wins at every size, one image and the batcher's small
    # batches of concurrent single requests stay on LiteRT.
    classifier.runtimes.gpu_batch_from = 1
    classifier.predict(digits[:1])
    classifier.predict(np.resize(digits, (classifier.max_batch_size, 28, 28)))
    assert gpu.sizes == [64, 1000]


def test_the_keras_path_agrees_with_litert(digits):
    litert, keras_runtime = loaded("litert"), loaded("keras")
    assert (litert.runtime, keras_runtime.runtime) == ("litert", "keras")
    np.testing.assert_allclose(litert.predict(digits), keras_runtime.predict(digits), atol=1e-4)
    assert (litert.predict(digits).argmax(1) == keras_runtime.predict(digits).argmax(1)).all()
    # Batch size changes between calls must not confuse either runtime, nor the large batches'
    # interpreter.
    for size in (1, 5, 1, 32, 2, 300, 33):
        batch = np.resize(digits, (size, 28, 28))
        np.testing.assert_allclose(litert.predict(batch), keras_runtime.predict(batch), atol=1e-4)
    # The name the Keras path had when TensorFlow was its only backend still works.
    assert loaded("tensorflow").runtime == "keras"


def test_stale_litert_file_falls_back_to_keras_or_fails_when_litert_is_required(tmp_path):
    shutil.copytree(DEFAULT_MODEL_DIR, tmp_path / "model", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    directory = tmp_path / "model"
    weights = bytearray((directory / "model.h5").read_bytes())
    (directory / "model.h5").write_bytes(bytes(weights) + b"\0")  # Different bytes, same weights.

    automatic = DigitClassifier(model_dir=directory)
    automatic.load()
    assert automatic.ready and automatic.runtime == "keras"

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


def test_a_numbers_candidates_run_on_their_own_threads_with_the_same_answer(classifier):
    # The candidate digits of a number are one call of several images: its own LiteRT
    # interpreter on two threads, which must read exactly as the lone images' one thread.
    names = ["2-plain", "0-oval", "3-round", "7-plain"]
    png = encode(write_digits([strokes_named(name) for name in names], "2037", [0.3, 0.25, 0.3]).image)
    one_thread = DigitClassifier(number_inference_threads=1)
    one_thread.load()
    assert describe(one_thread)["runtimes"]["number_candidates"]["threads"] == 1
    two_threads = DigitClassifier(number_inference_threads=2)
    two_threads.load()
    candidates = describe(two_threads)["runtimes"]["number_candidates"]
    assert candidates["threads"] == 2 and candidates["runtime"] == "litert"
    assert float(next(iter(candidates["ms_per_image"].values()))) > 0

    recorded = RecordingRuntime(two_threads.runtimes.number)
    two_threads.runtimes.number = recorded
    answer = read_number(two_threads, png)
    assert answer["number"] == "2037" and recorded.sizes and max(recorded.sizes) > 1
    assert answer == read_number(one_thread, png)  # The same probabilities, to the last digit.
    # Lone images keep the worker's single thread.
    assert two_threads.runtimes.for_size(1) is two_threads.runtimes.lone and two_threads.runtimes.lone.threads == 1


class ScriptedNetwork:
    """Stands in for the network: reads the images given, answers the probabilities scripted
    for each call in turn."""

    runtime, device = "stand-in", "cpu"

    def __init__(self, *answers):
        self.answers, self.batches = list(answers), []

    def __call__(self, batch):
        self.batches.append(batch[..., 0].astype(np.uint8))
        return np.array(self.answers.pop(0), dtype=np.float32)


def probabilities_for(digit, confidence):
    row = np.full(10, (1 - confidence) / 9)
    row[digit] = confidence
    return row


def test_only_the_images_the_network_is_unsure_of_get_a_second_look(digits):
    classifier = loaded("litert")
    sure, unsure = probabilities_for(3, 0.95), probabilities_for(3, 0.5)
    variants = [probabilities_for(5, 0.9)] * len(VARIANTS)
    classifier.runtimes.lone = network = ScriptedNetwork([sure, unsure], variants)

    probabilities = classifier.predict(digits[:2])

    # One call for both, then one for the unsure one's variants, turned and scaled.
    assert [len(batch) for batch in network.batches] == [2, len(VARIANTS)]
    expected = np.stack([turned_and_scaled(digits[1], *variant) for variant in VARIANTS])
    assert np.array_equal(network.batches[1], expected)
    np.testing.assert_allclose(probabilities[0], sure, rtol=1e-6)  # untouched
    np.testing.assert_allclose(probabilities[1], (unsure + sum(variants)) / (1 + len(variants)), rtol=1e-6)
    assert probabilities[1].argmax() == 5

    # A batch where the network is sure of every image is one call.
    classifier.runtimes.lone = network = ScriptedNetwork([sure, sure])
    np.testing.assert_allclose(classifier.predict(digits[:2]), [sure, sure], rtol=1e-6)
    assert len(network.batches) == 1
    # Turned off (DIGITPAD_TTA_BELOW=0), the unsure are not looked at again either.
    off = DigitClassifier(tta_below=0.0)
    off.runtimes.lone = network = ScriptedNetwork([sure, unsure])
    np.testing.assert_allclose(off.predict(digits[:2]), [sure, unsure], rtol=1e-6)
    assert len(network.batches) == 1
    assert describe(off)["second_look"]["below"] == 0.0
    assert describe(classifier)["second_look"] == {
        "below": TTA_BELOW, "variants": [list(variant) for variant in VARIANTS]}


def test_a_number_a_batch_and_a_lone_image_get_the_same_second_look():
    # Below 1.01 every image is looked at again, so every path must show it.
    png = encode(render(strokes_named("1-flag")))
    always = DigitClassifier(tta_below=1.01)
    always.load()
    alone = DigitClassifier(tta_below=0.0)
    alone.load()
    single = always.classify(png)
    assert single["probabilities"] != alone.classify(png)["probabilities"]
    digit_image = always.preprocess(png)
    np.testing.assert_allclose(
        single["probabilities"],
        (always.network_alone(digit_image[np.newaxis])[0] + always.network_alone(np.stack([
            turned_and_scaled(digit_image, *variant) for variant in VARIANTS
        ])).sum(axis=0)) / (1 + len(VARIANTS)),
        atol=1e-6,
    )
    number = read_number(always, png)
    assert number["number"] == "1" and number["digits"][0]["probabilities"] == single["probabilities"]
    # A batch process is given the setting with the model folder, and keeps to it.
    assert always.batch_settings()["tta_below"] == 1.01
    for classifier in (always, alone, always):
        (answer,) = classify_each([png], classifier.batch_settings())
        assert answer["probabilities"] == classifier.classify(png)["probabilities"]
