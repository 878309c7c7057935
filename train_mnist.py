"""Train digitpad's digit classifier on MNIST and other writers' pen strokes; write it to model/.

    python train_mnist.py --data PATH/TO/mnist.npz --pendigits PATH/TO/pendigits-orig.tra
    python train_mnist.py --evaluate            # accuracy of the committed model

The network is a compact CNN. MNIST's writers are one population, so the training set also
holds the pen strokes of 25 other writers (UCI's pendigits), drawn as the page draws them and
preprocessed as the server does (handwriting/pendigits.py); five more writers are never trained
on and, with MNIST's validation split, choose the epoch that is kept. Browser drawings differ
from MNIST's scanned pen strokes, so every training batch is freshly distorted: rotation,
shear, scale, shift, elastic distortion and thinner or thicker strokes, in NumPy
(training/augmentation.py), so that the script runs under any Keras backend. Before training, a share of MNIST's sevens get a crossbar
and a share of its ones get a long flag, the way they are written in much of Europe and Latin
America.
"""

import argparse
import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

# Keep TensorFlow's C++ start-up chatter out of the progress output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from handwriting.datasets import (  # noqa: E402
    load_mnist,
    pendigits_path,
    read_corrections,
    split_by_client,
)
from handwriting.pendigits import (  # noqa: E402
    VALIDATION_WRITERS,
    accuracy_report,
    drawn_for_the_model,
    read_pendigits,
    split_by_writer,
    validation_drawings,
)
from model.loader import (  # noqa: E402
    DEFAULT_MODEL_DIR,
    METADATA_FILE,
    load_network,
    read_metadata,
    save_litert,
    save_network,
    write_atomically,
)
from training.augmentation import AugmentedBatches  # noqa: E402
from training.metadata import training_metadata
from training.network import (  # noqa: E402
    ValidationScore,
    build_model,
    evaluate,
    feature_mean,
    predicted_digits,
    print_evaluation,
    print_writer_evaluation,
)
from training.writing_styles import add_writing_styles  # noqa: E402

IMAGE_SIZE = 28
NUM_CLASSES = 10
VALIDATION_SIZE = 5000


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        default=os.environ.get("MNIST_PATH"),
        help="path to mnist.npz in Keras's layout (default: $MNIST_PATH, else download)",
    )
    parser.add_argument(
        "--pendigits",
        default=os.environ.get("PENDIGITS_PATH"),
        help="path to pendigits-orig.tra, other writers' pen strokes "
        "(default: $PENDIGITS_PATH, else download from the UCI repository)",
    )
    parser.add_argument(
        "--pen-drawings",
        type=int,
        default=5,
        help="drawings of each training writer's digit, each with its own size, place, slant and "
        "pen (default 5)",
    )
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--filters",
        type=int,
        default=None,
        help="width: filters in the first block of convolutions, the next blocks have 2x and 4x "
        "(default 16; a model started from --initial-model keeps its own)",
    )
    parser.add_argument(
        "--ema",
        type=float,
        default=None,
        metavar="MOMENTUM",
        help="keep an exponential moving average of the weights (Polyak averaging) with this "
        "momentum, e.g. 0.999, and judge, keep and save the averaged weights",
    )
    parser.add_argument(
        "--distortion",
        type=float,
        default=1.0,
        help="strength of the augmentation, 1 = full (a short final run at 0.5 sharpens accuracy)",
    )
    parser.add_argument(
        "--label-smoothing",
        type=float,
        default=0.0,
        help="share of each label's weight spread over the other digits (0: none)",
    )
    parser.add_argument(
        "--initial-model",
        type=Path,
        default=None,
        help="start from the weights of the model in this folder instead of from scratch",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="train on the first N MNIST images and N pen digits only (quick runs)",
    )
    add_corrections_options(parser)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR, help="output folder")
    add_instead_of_training(parser)
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras verbosity")
    arguments = parser.parse_args(argv)
    if arguments.filters and arguments.initial_model:
        parser.error("--filters cannot change the width of a model started from --initial-model")
    return arguments

def add_corrections_options(parser):
    """People's corrections as training data too."""
    parser.add_argument(
        "--corrections",
        default=os.environ.get("DIGITPAD_CORRECTIONS"),
        metavar="SOURCE",
        help="people's corrections too: an export file (flask --app app corrections export --out "
        "F.npz) or a database URL; the held-out clients' are only measured on",
    )
    parser.add_argument(
        "--corrections-weight",
        type=int,
        default=5,
        help="how many times each correction is trained on an epoch (it is one drawing among "
        "70,000; a person's correction says what the model got wrong)",
    )


def add_instead_of_training(parser):
    """The options that do something else with a model in --out than train it."""
    instead_of_training = parser.add_mutually_exclusive_group()
    instead_of_training.add_argument(
        "--evaluate",
        action="store_true",
        help="do not train: load the model in --out and print its accuracy on MNIST's test set "
        "and on the validation writers",
    )
    instead_of_training.add_argument(
        "--export-litert",
        action="store_true",
        help="do not train: convert the model in --out to model.tflite again",
    )
    instead_of_training.add_argument(
        "--feature-mean",
        action="store_true",
        help="do not train: record in the metadata of the model in --out the mean of its penultimate "
        "features over MNIST's training images (a model trained before it was recorded)",
    )



# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def split_validation(images, labels, rng, validation_size):
    order = rng.permutation(len(images))
    validation, training = order[:validation_size], order[validation_size:]
    return (images[training], labels[training]), (images[validation], labels[validation])


# ---------------------------------------------------------------------------------------------
# Writing styles that MNIST lacks: crossed sevens and flagged ones
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Augmentation: fresh distortions for every batch, in NumPy
# ---------------------------------------------------------------------------------------------
# NumPy rather than TensorFlow ops or Keras's Random* layers: it runs the same under every Keras
# backend (a GPU machine may have only PyTorch or JAX), costs a few milliseconds a batch on the
# CPU while the network trains, and one resampling does rotation, shear, zoom, shift and the
# elastic field together. The README gives the measurements behind this choice.


# ---------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def corrections_source(source):
    """An export file as it is, or an engine on a database URL (the server's URL rules)."""
    if "://" not in source:
        return source
    from sqlalchemy import create_engine

    from web.database import sqlalchemy_url

    return create_engine(sqlalchemy_url(source))


def main(argv=None):
    arguments = parse_arguments(argv)
    if arguments.export_litert:
        network = load_network(arguments.out)
        save_litert(network, arguments.out, read_metadata(arguments.out))
        print(f"Wrote {arguments.out}/model.tflite")
        return network
    data = SimpleNamespace()
    (data.x_train, data.y_train), (data.x_test, data.y_test), data.mnist_sha256 = load_mnist(arguments.data)
    if arguments.feature_mean:
        network = load_network(arguments.out)
        metadata = {**read_metadata(arguments.out), "feature_mean": feature_mean(network, data.x_train)}
        write_atomically(arguments.out / METADATA_FILE, (json.dumps(metadata, indent=2) + "\n").encode())
        print(f"Recorded the mean features of {len(data.x_train):,} MNIST images in {arguments.out / METADATA_FILE}")
        return network
    mnist_images = data.x_train
    data.pen_file = pendigits_path(arguments.pendigits)
    data.pen_training, pen_validation = split_by_writer(read_pendigits(data.pen_file))
    data.x_writers, data.y_writers, data.writer_ids = validation_drawings(pen_validation)
    if arguments.evaluate:
        network = load_network(arguments.out)
        print_evaluation(*evaluate(network, data.x_test, data.y_test))
        print_writer_evaluation(
            accuracy_report(data.y_writers, predicted_digits(network, data.x_writers), data.writer_ids)
        )
        return network

    # Reproducibility: one seed for NumPy, Python and the backend (weights and augmentation).
    keras.utils.set_random_seed(arguments.seed)
    add_training_data(data, arguments, np.random.default_rng(arguments.seed))
    network, initial_version = compiled_network(arguments)
    started = time.monotonic()
    network.fit(
        AugmentedBatches(
            data.x_train, data.y_train, arguments.batch_size, arguments.seed, arguments.distortion,
            one_hot=bool(arguments.label_smoothing),
        ),
        epochs=arguments.epochs,
        callbacks=training_callbacks(arguments, data),
        verbose=arguments.verbose,
    )
    training_seconds = time.monotonic() - started

    accuracy, per_digit = evaluate(network, data.x_test, data.y_test)
    writers_report = accuracy_report(data.y_writers, predicted_digits(network, data.x_writers), data.writer_ids)
    metadata = training_metadata(arguments, argv, data, network, initial_version, training_seconds,
                                 (accuracy, per_digit, writers_report))
    metadata["feature_mean"] = feature_mean(network, mnist_images)
    written = save_network(network, arguments.out, metadata)
    print(f"Wrote {', '.join(written)} in {arguments.out}")
    print(f"Training took {training_seconds:.0f} s ({metadata['seconds_per_epoch']} s per epoch)")
    print_evaluation(accuracy, per_digit)
    print_writer_evaluation(writers_report)
    return network


def add_training_data(data, arguments, rng):
    """The training set in `data`: MNIST with its validation split held apart and writing styles
    added, other writers' pen strokes drawn as the page draws, and people's corrections."""
    if arguments.limit:
        data.x_train, data.y_train = data.x_train[: arguments.limit], data.y_train[: arguments.limit]
        data.pen_training = data.pen_training[: arguments.limit]
    validation_size = min(VALIDATION_SIZE, len(data.x_train) // 10)
    (x_train, y_train), (data.x_validation, data.y_validation) = split_validation(
        data.x_train, data.y_train, rng, validation_size
    )
    x_train, y_train = add_writing_styles(x_train, y_train, rng)
    data.mnist_training_images = len(x_train)
    # Other writers' pen strokes, drawn as the page draws and preprocessed as the server does.
    data.x_pen, y_pen, _ = drawn_for_the_model(data.pen_training, arguments.pen_drawings, arguments.seed)
    data.x_train = np.concatenate([x_train, data.x_pen])
    data.y_train = np.concatenate([y_train, y_pen])
    # People's corrections, split by client: the held-out clients' are only measured on.
    if arguments.corrections:
        (x_corrected, data.y_corrected), (data.x_held_out, data.y_held_out) = split_by_client(
            *read_corrections(corrections_source(arguments.corrections))
        )
        data.x_train = np.concatenate([data.x_train, *[x_corrected] * arguments.corrections_weight])
        data.y_train = np.concatenate([data.y_train, *[data.y_corrected] * arguments.corrections_weight])
        print(f"Corrections: {len(data.y_corrected):,} trained on ({arguments.corrections_weight} times each), "
              f"{len(data.y_held_out):,} of held-out clients measured on")
    data.training_writers = sorted({digit.writer for digit in data.pen_training})
    print(
        f"Training on {len(data.x_train):,} images: {data.mnist_training_images:,} from MNIST and "
        f"{len(data.x_pen):,} drawings of {len(data.pen_training):,} pen digits by {len(data.training_writers)} "
        f"writers; validating on {len(data.x_validation):,} MNIST images and {len(data.x_writers):,} "
        f"drawings by writers {', '.join(map(str, VALIDATION_WRITERS))}; {arguments.epochs} epochs"
    )


def compiled_network(arguments):
    """(the network to train, compiled; the version it started from, if any)."""
    if arguments.initial_model:
        network = load_network(arguments.initial_model)
        initial_version = read_metadata(arguments.initial_model).get("version")
    else:
        network = build_model(arguments.filters or 16)
        initial_version = None
    network.compile(
        optimizer=keras.optimizers.Adam(
            arguments.learning_rate,
            use_ema=arguments.ema is not None,
            ema_momentum=arguments.ema or 0.99,
        ),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=arguments.label_smoothing)
        if arguments.label_smoothing else "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    network.summary()
    return network, initial_version


def training_callbacks(arguments, data):
    return [
        # With --ema, the averaged weights are put in place at the end of each epoch, before the
        # callbacks below judge them and EarlyStopping keeps the best.
        *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if arguments.ema else []),
        # Before the callbacks that read its figures.
        ValidationScore(data.x_writers, data.y_writers, data.x_validation, data.y_validation),
        keras.callbacks.LearningRateScheduler(
            lambda epoch: arguments.learning_rate * 0.9**epoch
        ),
        # Never stops early (patience = all epochs): it keeps the best epoch's weights.
        keras.callbacks.EarlyStopping(
            monitor="val_score", mode="max", patience=arguments.epochs, restore_best_weights=True
        ),
    ]










if __name__ == "__main__":
    main()
