import json

import numpy as np
import pytest

import train_mnist
from handwriting.datasets import file_sha256
from handwriting.pendigits import (
    VALIDATION_WRITERS,
)
from model.loader import load_network, model_files_sha256, read_metadata
from model.preprocessing import to_model_input


def test_quick_training_writes_files_that_rebuild_the_same_network(
    small_mnist, small_pendigits, tmp_path, capsys
):
    out = tmp_path / "model"
    trained = train_mnist.main(
        ["--data", str(small_mnist), "--pendigits", str(small_pendigits), "--epochs", "1",
         "--limit", "300", "--pen-drawings", "2", "--out", str(out), "--batch-size", "64",
         "--verbose", "0"]
    )

    assert sorted(path.name for path in out.iterdir()) == [
        "metadata.json", "model.h5", "model.json", "model.tflite"
    ]
    # The architecture is plain JSON, without the optimizer: under PyTorch or JAX that names a
    # backend module the other backends cannot import.
    assert "compile_config" not in json.loads((out / "model.json").read_text())

    rebuilt = load_network(out)
    sample = to_model_input(np.random.default_rng(1).integers(0, 256, (16, 28, 28), dtype=np.uint8))
    np.testing.assert_allclose(rebuilt(sample).numpy(), trained(sample).numpy(), atol=1e-6)

    metadata = read_metadata(out)
    assert metadata["model_files_sha256"] == model_files_sha256(out)
    assert metadata["parameters"] == trained.count_params() < 500_000
    assert metadata["filters"] == 16
    assert metadata["epochs"] == 1
    assert metadata["data"]["mnist"]["sha256"] == file_sha256(small_mnist)
    assert 0.0 <= metadata["test_accuracy"] <= 1.0
    assert len(metadata["evaluation"]["mnist_test"]["per_digit"]) == 10
    assert {"tensorflow", "keras", "python", "backend"} <= metadata["versions"].keys()
    assert metadata["version"] and metadata["trained_at"] and metadata["training_seconds"] > 0
    printed = capsys.readouterr().out
    assert "MNIST test accuracy" in printed and "Validation writers" in printed

    # The data used and the writer split are recorded, and no writer is on both sides.
    pen = metadata["data"]["pendigits"]
    assert pen["sha256"] == file_sha256(small_pendigits)
    assert pen["training_digits"] == 20 and pen["training_drawings"] == 40
    split = metadata["writer_split"]
    assert split == {"training": [3, 4], "validation": list(VALIDATION_WRITERS)}
    writers = metadata["evaluation"]["validation_writers"]
    assert set(writers["per_writer"]) == {str(writer) for writer in VALIDATION_WRITERS[:2]}
    assert 0.0 <= writers["accuracy"] <= 1.0 and len(writers["per_digit"]) == 10
    assert metadata["evaluation"]["mnist_test"]["accuracy"] == metadata["test_accuracy"]






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






















