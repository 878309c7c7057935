"""metadata.json of a trained network: its version, its figures, and what it was trained on and how."""

import datetime
import platform
import sys
from pathlib import Path

import keras
import numpy as np

from handwriting.datasets import HELD_OUT_PERCENT, file_sha256
from handwriting.pendigits import VALIDATION_WRITERS
from training.network import held_out_figures, rounded


def training_metadata(arguments, argv, data, network, initial_version, training_seconds, figures):
    """metadata.json: the version, what the network scored, and what it was trained on and how."""
    accuracy, per_digit, writers_report = figures
    trained_at = datetime.datetime.now(datetime.timezone.utc)
    return {
        "version": trained_at.strftime("%Y%m%d-%H%M%S") + f"-s{arguments.seed}",
        "trained_at": trained_at.isoformat(timespec="seconds"),
        # The headline figure readers of older metadata know; the rest is under "evaluation".
        "test_accuracy": round(accuracy, 6),
        "evaluation": {
            "mnist_test": {
                "accuracy": round(accuracy, 6),
                "per_digit": [round(value, 6) for value in per_digit],
                "images": len(data.y_test),
            },
            "validation_writers": rounded(writers_report),
            **({"held_out_corrections": held_out_figures(network, data.x_held_out, data.y_held_out)}
               if arguments.corrections else {}),
        },
        "parameters": network.count_params(),
        "filters": next(
            layer.filters for layer in network.layers if isinstance(layer, keras.layers.Conv2D)
        ),
        "epochs": arguments.epochs,
        "distortion": arguments.distortion,
        "label_smoothing": arguments.label_smoothing,
        "ema_momentum": arguments.ema,
        "initial_model": initial_version,
        "batch_size": arguments.batch_size,
        "learning_rate": arguments.learning_rate,
        "seed": arguments.seed,
        "training_samples": len(data.x_train),
        "training_seconds": round(training_seconds, 1),
        "seconds_per_epoch": round(training_seconds / arguments.epochs, 1),
        "data": data_metadata(arguments, data),
        "writer_split": {"training": data.training_writers, "validation": list(VALIDATION_WRITERS)},
        **({"corrections": {
            "source": "database" if "://" in arguments.corrections else Path(arguments.corrections).name,
            "trained_on": len(data.y_corrected),
            "weight": arguments.corrections_weight,
            "held_out": len(data.y_held_out),
            "held_out_share": HELD_OUT_PERCENT / 100,
        }} if arguments.corrections else {}),
        "command": "python train_mnist.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "versions": {
            "python": platform.python_version(),
            "keras": keras.__version__,
            "backend": keras.backend.backend(),
            keras.backend.backend(): backend_version(),
            "numpy": np.__version__,
        },
    }


def data_metadata(arguments, data):
    return {
        "mnist": {
            "file": Path(arguments.data).name if arguments.data else "mnist.npz",
            "sha256": data.mnist_sha256,
            "training_images": data.mnist_training_images,
        },
        "pendigits": {
            "file": data.pen_file.name,
            "sha256": file_sha256(data.pen_file),
            "training_digits": len(data.pen_training),
            "drawings_per_digit": arguments.pen_drawings,
            "training_drawings": len(data.x_pen),
        },
    }


def backend_version():
    """The version of the library under Keras (TensorFlow, PyTorch or JAX)."""
    return __import__(keras.backend.backend()).__version__
