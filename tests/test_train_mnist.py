import json

import numpy as np
import pytest

import train_mnist
from model.loader import load_network, model_files_sha256, read_metadata
from model.preprocessing import to_model_input


@pytest.fixture
def small_mnist(tmp_path):
    """A few hundred MNIST-shaped images in Keras's npz layout (strokes on black)."""
    rng = np.random.default_rng(0)

    def images(count):
        batch = np.zeros((count, 28, 28), dtype=np.uint8)
        for index in range(count):
            row, column = rng.integers(6, 22, size=2)
            batch[index, row - 4 : row + 4, column - 1 : column + 1] = 255
        return batch

    path = tmp_path / "mnist.npz"
    np.savez_compressed(
        path,
        x_train=images(300),
        y_train=rng.integers(0, 10, 300).astype(np.uint8),
        x_test=images(100),
        y_test=rng.integers(0, 10, 100).astype(np.uint8),
    )
    return path


def test_quick_training_writes_files_that_rebuild_the_same_network(small_mnist, tmp_path, capsys):
    out = tmp_path / "model"
    trained = train_mnist.main(
        ["--data", str(small_mnist), "--epochs", "1", "--limit", "300", "--out", str(out),
         "--batch-size", "64", "--verbose", "0"]
    )

    assert sorted(path.name for path in out.iterdir()) == [
        "metadata.json", "model.h5", "model.json", "model.tflite"
    ]
    json.loads((out / "model.json").read_text())  # The architecture is plain JSON.

    rebuilt = load_network(out)
    sample = to_model_input(np.random.default_rng(1).integers(0, 256, (16, 28, 28), dtype=np.uint8))
    np.testing.assert_allclose(rebuilt(sample).numpy(), trained(sample).numpy(), atol=1e-6)

    metadata = read_metadata(out)
    assert metadata["model_files_sha256"] == model_files_sha256(out)
    assert metadata["parameters"] == trained.count_params() < 500_000
    assert metadata["filters"] == 16
    assert metadata["epochs"] == 1
    assert metadata["data_sha256"] == train_mnist.file_sha256(small_mnist)
    assert 0.0 <= metadata["test_accuracy"] <= 1.0
    assert len(metadata["test_accuracy_per_digit"]) == 10
    assert {"tensorflow", "keras", "python"} <= metadata["versions"].keys()
    assert metadata["version"] and metadata["trained_at"] and metadata["training_seconds"] > 0
    assert "MNIST test accuracy" in capsys.readouterr().out


def test_without_a_path_mnist_comes_from_keras_download(small_mnist, monkeypatch):
    requested = {}

    def get_file(name, origin, file_hash):
        requested.update(name=name, origin=origin, file_hash=file_hash)
        return str(small_mnist)  # As if downloaded into Keras's cache.

    monkeypatch.setattr(train_mnist.keras.utils, "get_file", get_file)
    (x_train, _), (x_test, _), sha256 = train_mnist.load_mnist(None)
    assert requested["origin"].endswith("/mnist.npz") and len(requested["file_hash"]) == 64
    assert x_train.shape == (300, 28, 28) and x_test.shape == (100, 28, 28)
    assert sha256 == train_mnist.file_sha256(small_mnist)


@pytest.mark.parametrize(
    "arguments",
    [["--filters", "32", "--initial-model", "model"], ["--evaluate", "--export-litert"]],
    ids=["width-of-an-existing-model", "two-things-instead-of-training"],
)
def test_contradictory_options_are_refused(arguments):
    with pytest.raises(SystemExit):
        train_mnist.parse_arguments(arguments)


def test_filters_set_the_network_width():
    default, wide = train_mnist.build_model(), train_mnist.build_model(filters=32)
    widths = [
        [layer.filters for layer in network.layers if hasattr(layer, "filters")]
        for network in (default, wide)
    ]
    assert widths == [[16, 16, 16, 32, 32, 32, 64], [32, 32, 32, 64, 64, 64, 128]]
    assert default.count_params() < wide.count_params() / 3
    assert train_mnist.parse_arguments(["--filters", "32"]).filters == 32


def test_writing_styles_add_crossed_sevens_and_flagged_ones():
    rng = np.random.default_rng(0)
    seven = np.zeros((28, 28), dtype=np.uint8)
    seven[5:7, 8:20] = 255  # the top bar
    for row in range(7, 24):  # the stem, slanting left as it goes down
        column = 19 - (row - 7) // 3
        seven[row, column - 1 : column + 1] = 255
    crossed = train_mnist.add_crossbar(seven, rng)
    middle_rows = crossed[11:18]
    assert (middle_rows > 128).sum() > (seven[11:18] > 128).sum() + 6
    assert np.array_equal(np.maximum(crossed, seven), crossed)  # Only ink is added.

    one = np.zeros((28, 28), dtype=np.uint8)
    one[4:24, 13:15] = 255
    flagged = train_mnist.add_flag(one, rng)
    assert (flagged[4:12, :12] > 64).any() and not (one[4:12, :12] > 64).any()

    labels = np.array([7, 1, 3] * 10, dtype=np.uint8)
    images = np.stack([seven, one, one] * 10)
    more_images, more_labels = train_mnist.add_writing_styles(images, labels, rng, share=0.5)
    assert len(more_images) == len(more_labels) == 30 + 5 + 5
    assert sorted(more_labels[30:].tolist()) == [1] * 5 + [7] * 5


def test_augmentation_keeps_shape_and_range_and_changes_images():
    images = np.zeros((8, 28, 28, 1), dtype=np.float32)
    images[:, 6:22, 12:16] = 255
    augmented, labels = train_mnist.augment(images, np.arange(8))
    augmented = augmented.numpy()
    assert augmented.shape == images.shape
    assert augmented.min() >= 0 and augmented.max() <= 255.001
    assert not np.allclose(augmented, images)
    assert (augmented.sum(axis=(1, 2, 3)) > 0).all()  # The digit is still in the picture.


def test_committed_model_reaches_99_5_percent_on_mnist(mnist_path, capsys):
    network = train_mnist.main(["--evaluate", "--data", str(mnist_path)])
    printed = capsys.readouterr().out
    with np.load(mnist_path) as data:
        accuracy, per_digit = train_mnist.evaluate(network, data["x_test"], data["y_test"])
    assert accuracy >= 0.995, f"MNIST test accuracy {accuracy:.2%}"
    assert min(per_digit) >= 0.98
    assert network.count_params() < 500_000
    assert "MNIST test accuracy" in printed and "Per digit" in printed
    assert read_metadata()["test_accuracy"] == pytest.approx(accuracy, abs=1e-4)
