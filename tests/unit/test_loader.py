import shutil

import keras
import numpy as np
import pytest

from model.loader import (
    ModelFilesError,
    load_litert,
    load_network,
    model_files_sha256,
    read_metadata,
    save_network,
)


def tiny_network(units):
    return keras.Sequential(
        [keras.Input(shape=(28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(units),
         keras.layers.Dense(10, activation="softmax")]
    )


@pytest.fixture
def saved(tmp_path):
    network = tiny_network(8)
    save_network(network, tmp_path, {"version": "test"})
    return tmp_path, network


def test_round_trip_gives_the_same_network(saved):
    directory, network = saved
    rebuilt = load_network(directory)
    sample = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(rebuilt(sample).numpy(), network(sample).numpy(), atol=1e-6)
    metadata = read_metadata(directory)
    assert metadata == {"version": "test", "model_files_sha256": model_files_sha256(directory)}
    assert sorted(path.name for path in directory.iterdir()) == [
        "metadata.json", "model.h5", "model.json", "model.tflite"
    ], "temporary files are left behind"


def test_litert_conversion_gives_the_same_outputs(saved):
    directory, network = saved
    interpreter = load_litert(directory)
    sample = np.random.default_rng(0).random((1, 28, 28, 1), dtype=np.float32)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], sample)
    interpreter.invoke()
    output = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(output, network(sample).numpy(), atol=1e-5)


@pytest.mark.parametrize("replaced", ["model.tflite", "model.h5"])
def test_litert_file_is_refused_when_a_model_file_is_replaced_on_its_own(
    saved, tmp_path_factory, replaced
):
    directory, _ = saved
    other = tmp_path_factory.mktemp("other")
    save_network(tiny_network(8), other, {})  # Same shapes, other weights.
    shutil.copy(other / replaced, directory / replaced)
    with pytest.raises(ModelFilesError, match=r"model\.tflite was not converted from"):
        load_litert(directory)


@pytest.mark.parametrize("name", ["model.json", "model.h5"])
def test_missing_file_is_named(saved, name):
    directory, _ = saved
    (directory / name).unlink()
    with pytest.raises(ModelFilesError, match=rf"{name} is missing"):
        load_network(directory)


def test_truncated_weights_are_reported(saved):
    directory, _ = saved
    weights = directory / "model.h5"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelFilesError, match=r"model\.h5 is truncated or is not"):
        load_network(directory)


def test_truncated_architecture_is_reported(saved):
    directory, _ = saved
    architecture = directory / "model.json"
    architecture.write_text(architecture.read_text()[:200])
    with pytest.raises(ModelFilesError, match=r"model\.json does not describe a Keras model"):
        load_network(directory)


def test_empty_file_is_reported(saved):
    directory, _ = saved
    (directory / "model.h5").write_bytes(b"")
    with pytest.raises(ModelFilesError, match=r"model\.h5 is empty"):
        load_network(directory)


def test_weights_of_another_architecture_are_reported(saved, tmp_path_factory):
    directory, _ = saved
    other = tmp_path_factory.mktemp("other")
    save_network(tiny_network(16), other, {})
    shutil.copy(other / "model.h5", directory / "model.h5")
    with pytest.raises(ModelFilesError, match=r"model\.h5 does not match the architecture"):
        load_network(directory)


def test_damaged_metadata_is_reported(saved):
    directory, _ = saved
    (directory / "metadata.json").write_text("{not json")
    with pytest.raises(ModelFilesError, match=r"metadata\.json is not valid JSON"):
        read_metadata(directory)
