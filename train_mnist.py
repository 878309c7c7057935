"""Train digitpad's digit classifier on MNIST and other writers' pen strokes; write it to model/.

    python train_mnist.py --data PATH/TO/mnist.npz --pendigits PATH/TO/pendigits-orig.tra
    python train_mnist.py --evaluate            # accuracy of the committed model

The network is a compact CNN. MNIST's writers are one population, so the training set also
holds the pen strokes of 25 other writers (UCI's pendigits), drawn as the page draws them and
preprocessed as the server does (handwriting/pendigits.py); five more writers are never trained
on and, with MNIST's validation split, choose the epoch that is kept. Browser drawings differ
from MNIST's scanned pen strokes, so every training batch is freshly distorted: rotation,
shear, scale, shift, elastic distortion and thinner or thicker strokes (and, asked for, other
proportions of a digit's parts, --bend, or curved strokes, --curve), in NumPy, so that the
script runs under any Keras backend. Before training, a share of MNIST's sevens get a crossbar
and a share of its ones get a long flag, the way they are written in much of Europe and Latin
America.
"""

import argparse
import datetime
import hashlib
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

# Keep TensorFlow's C++ start-up chatter out of the progress output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from handwriting.corrections import HELD_OUT_PERCENT, read_corrections, split_by_client  # noqa: E402
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
    load_network,
    read_metadata,
    save_litert,
    save_network,
)
from model.preprocessing import to_model_input  # noqa: E402

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
        "--bend",
        type=float,
        default=0.0,
        metavar="PIXELS",
        help="also move each digit's middle up or down and left or right by up to this many "
        "pixels at full distortion, its edges kept: other proportions of its parts (0: none)",
    )
    parser.add_argument(
        "--curve",
        type=float,
        default=0.0,
        metavar="PIXELS",
        help="also curve each digit's upright strokes into arcs and level ones into bows, by up "
        "to this many pixels at its edges at full distortion (0: none)",
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
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR, help="output folder")
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
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras verbosity")
    arguments = parser.parse_args(argv)
    if arguments.filters and arguments.initial_model:
        parser.error("--filters cannot change the width of a model started from --initial-model")
    return arguments


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


# Where keras.datasets.mnist.load_data() downloads it from, with its SHA-256.
MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


def load_mnist(path=None):
    """Return ((x_train, y_train), (x_test, y_test), sha256 of the file read).

    Without a path, the file is downloaded into Keras's cache (once) as Keras's own loader does;
    it is fetched with get_file here because load_data() does not say where it put it.
    """
    if path:
        path = Path(path).expanduser()
        if not path.is_file():
            sys.exit(f"MNIST file not found: {path}")
    else:
        path = Path(keras.utils.get_file("mnist.npz", origin=MNIST_URL, file_hash=MNIST_SHA256))
    with np.load(path) as archive:
        data = (archive["x_train"], archive["y_train"]), (archive["x_test"], archive["y_test"])
    return data[0], data[1], file_sha256(path)


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# The UCI repository's archive of the pen-based digits; the trajectories inside may be compressed
# with Unix compress (.Z), which gzip reads.
PENDIGITS_URL = "https://archive.ics.uci.edu/static/public/81/pen+based+recognition+of+handwritten+digits.zip"
PENDIGITS_FILE = "pendigits-orig.tra"


def pendigits_path(path=None):
    """The pen strokes' file: the path given, else downloaded (once) into Keras's cache."""
    if path:
        path = Path(path).expanduser()
        if not path.is_file():
            sys.exit(f"pendigits file not found: {path}")
        return path
    folder = Path(keras.utils.get_file("pendigits.zip", origin=PENDIGITS_URL, extract=True))
    found = sorted(folder.rglob(PENDIGITS_FILE)) or sorted(folder.rglob(PENDIGITS_FILE + ".Z"))
    if not found:
        sys.exit(f"{PENDIGITS_URL} holds no {PENDIGITS_FILE}; pass --pendigits PATH")
    if found[0].suffix == ".Z":
        plain = found[0].with_suffix("")
        with open(plain, "wb") as output:
            subprocess.run(["gzip", "-dc", str(found[0])], stdout=output, check=True)
        return plain
    return found[0]


def split_validation(images, labels, rng, validation_size):
    order = rng.permutation(len(images))
    validation, training = order[:validation_size], order[validation_size:]
    return (images[training], labels[training]), (images[validation], labels[validation])


# ---------------------------------------------------------------------------------------------
# Writing styles that MNIST lacks: crossed sevens and flagged ones
# ---------------------------------------------------------------------------------------------

# Strokes are drawn at four times MNIST's resolution and shrunk, so they are anti-aliased
# like MNIST's own strokes.
SUPERSAMPLING = 4


def draw_stroke(image, start, end, width):
    """Return `image` with an anti-aliased line from start to end ((row, col) in pixels)."""
    size = IMAGE_SIZE * SUPERSAMPLING
    canvas = Image.new("L", (size, size), 0)
    scale = lambda point: (point[1] * SUPERSAMPLING, point[0] * SUPERSAMPLING)  # noqa: E731
    ImageDraw.Draw(canvas).line(
        [scale(start), scale(end)], fill=255, width=round(width * SUPERSAMPLING)
    )
    stroke = np.asarray(canvas.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BOX))
    return np.maximum(image, stroke)


def add_crossbar(seven, rng):
    """Cross the stem of a seven halfway down, as a continental writer does."""
    rows, columns = np.nonzero(seven > 128)
    if len(rows) == 0:
        return seven
    row = int(rows.min() + (rows.max() - rows.min()) * rng.uniform(0.45, 0.6))
    stem = columns[rows == row]
    if len(stem) == 0:
        return seven
    centre = stem.mean()
    half_length = rng.uniform(3.5, 6.0)
    tilt = rng.uniform(-1.0, 1.0)
    return draw_stroke(
        seven,
        (row + tilt, centre - half_length),
        (row - tilt, centre + half_length),
        width=rng.uniform(1.5, 2.8),
    )


def add_flag(one, rng):
    """Give a one the long up-stroke from the left that many writers outside the US draw."""
    rows, columns = np.nonzero(one > 128)
    if len(rows) == 0:
        return one
    top = rows.min()
    column = columns[rows == top].mean()
    length = rng.uniform(4.5, 8.0)
    angle = np.deg2rad(rng.uniform(35, 60))  # Below the horizontal, pointing left.
    end = (top + length * np.sin(angle), column - length * np.cos(angle))
    return draw_stroke(one, (top, column), end, width=rng.uniform(1.5, 2.8))


def add_writing_styles(images, labels, rng, share=0.3):
    """Append restyled copies of a share of the sevens and ones."""
    new_images = []
    for digit, restyle in ((7, add_crossbar), (1, add_flag)):
        candidates = np.flatnonzero(labels == digit)
        chosen = rng.choice(candidates, size=int(len(candidates) * share), replace=False)
        new_images += [(restyle(images[index], rng), digit) for index in chosen]
    if not new_images:
        return images, labels
    extra_images, extra_labels = zip(*new_images)
    return (
        np.concatenate([images, np.stack(extra_images)]),
        np.concatenate([labels, np.array(extra_labels, dtype=labels.dtype)]),
    )


# ---------------------------------------------------------------------------------------------
# Augmentation: fresh distortions for every batch, in NumPy
# ---------------------------------------------------------------------------------------------
# NumPy rather than TensorFlow ops or Keras's Random* layers: it runs the same under every Keras
# backend (a GPU machine may have only PyTorch or JAX), costs a few milliseconds a batch on the
# CPU while the network trains, and one resampling does rotation, shear, zoom, shift and the
# elastic field together. The README gives the measurements behind this choice.

MAX_ROTATION_DEGREES = 15
MAX_SHEAR = 0.3
ZOOM_RANGE = (0.8, 1.15)
MAX_SHIFT_PIXELS = 2.5
ELASTIC_SIGMA = 3.0
MAX_ELASTIC_PIXELS = 1.0
# Half of MNIST's 20-pixel digit box: where --bend leaves a digit's edges in place and --curve
# moves them the most (neither is in the committed model's recipe; the README says why).
DIGIT_HALF_PIXELS = 10.0


def neighbourhood(images, reduce):
    """`reduce` (np.maximum or np.minimum) over each pixel's 3x3 neighbourhood, zeros outside."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    rows = reduce(reduce(padded[:, :-2], padded[:, 1:-1]), padded[:, 2:])
    return reduce(reduce(rows[:, :, :-2], rows[:, :, 1:-1]), rows[:, :, 2:])


def change_stroke_width(images, rng, strength):
    """Thin or thicken each stroke by a random amount (a blend with an erosion or dilation)."""
    amount = rng.uniform(-0.6, 1.0, size=(len(images), 1, 1)).astype(np.float32) * strength
    target = np.where(amount > 0, neighbourhood(images, np.maximum), neighbourhood(images, np.minimum))
    return images + np.abs(amount) * (target - images)


def gaussian_matrix(size, sigma):
    """Multiplying by this matrix smooths along one axis (a Gaussian, zeros beyond the edge)."""
    radius = int(3 * sigma)
    offsets = np.arange(size)[:, None] - np.arange(size)[None, :]
    weights = np.exp(-(offsets**2) / (2 * sigma**2)) * (np.abs(offsets) <= radius)
    return weights / np.exp(-(np.arange(-radius, radius + 1) ** 2) / (2 * sigma**2)).sum()


SMOOTHING = gaussian_matrix(IMAGE_SIZE, ELASTIC_SIGMA).astype(np.float32)


def elastic_displacement(batch_size, rng, strength):
    """Smooth random displacement fields (Simard et al., 2003), RMS size random per image."""
    noise = rng.standard_normal((batch_size, IMAGE_SIZE, IMAGE_SIZE, 2), dtype=np.float32)
    # Smoothed along the columns, then along the rows: SMOOTHING @ each field @ SMOOTHING.T.
    channels_first = noise.transpose(0, 3, 1, 2)
    field = (SMOOTHING @ channels_first @ SMOOTHING.T).transpose(0, 2, 3, 1)
    rms = np.sqrt((field**2).mean(axis=(1, 2, 3), keepdims=True))
    size = rng.uniform(0.0, MAX_ELASTIC_PIXELS * strength, size=(batch_size, 1, 1, 1))
    return field / rms * size.astype(np.float32)


def random_affine(batch_size, rng, strength):
    """Per-image 2x2 matrices and shifts mapping output offsets to input offsets."""
    uniform = lambda low, high: rng.uniform(low, high, size=batch_size)  # noqa: E731
    angle = uniform(-1, 1) * np.deg2rad(MAX_ROTATION_DEGREES) * strength
    shear = uniform(-1, 1) * MAX_SHEAR * strength
    zoom_x, zoom_y = (1 + (uniform(*ZOOM_RANGE) - 1) * strength for _ in "xy")
    cos, sin = np.cos(angle), np.sin(angle)
    # rotation @ shear @ inverse zoom, written out.
    matrix = np.stack(
        [cos / zoom_x, (cos * shear - sin) / zoom_y, sin / zoom_x, (sin * shear + cos) / zoom_y],
        axis=1,
    ).reshape(batch_size, 2, 2)
    shift = rng.uniform(-1, 1, size=(batch_size, 2)) * MAX_SHIFT_PIXELS * strength
    return matrix.astype(np.float32), shift.astype(np.float32)


def bilinear_sample(images, rows, columns):
    """Sample images (B, H, W) at real-valued positions (B, H, W); outside is black."""
    batch_size, size = len(images), IMAGE_SIZE + 2
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1))).reshape(batch_size, -1)
    rows = np.clip(rows + 1, 0, IMAGE_SIZE + 0.999)
    columns = np.clip(columns + 1, 0, IMAGE_SIZE + 0.999)
    top, left = np.floor(rows), np.floor(columns)
    row_weight, column_weight = rows - top, columns - left
    corner = (top.astype(np.int64) * size + left.astype(np.int64)).reshape(batch_size, -1)

    def pixel(step):
        return np.take_along_axis(padded, corner + step, axis=1).reshape(rows.shape)

    top_row = pixel(0) * (1 - column_weight) + pixel(1) * column_weight
    bottom_row = pixel(size) * (1 - column_weight) + pixel(size + 1) * column_weight
    return top_row * (1 - row_weight) + bottom_row * row_weight


# Each output pixel's offset from the field's centre, (H, W, xy): what every distortion moves.
CENTRE = (IMAGE_SIZE - 1) / 2
OFFSETS = np.stack(
    np.meshgrid(np.arange(IMAGE_SIZE, dtype=np.float32) - CENTRE, np.arange(IMAGE_SIZE, dtype=np.float32) - CENTRE),
    axis=-1,
)
# How much of a --bend each pixel moves along each axis: all of it through the middle, none at
# the digit's edges (DIGIT_HALF_PIXELS from the centre) or beyond, so a digit's parts change
# proportions. And of a --curve: x by the height squared, y by the distance across squared, so
# upright strokes become arcs and level ones bows (a 9's or 7's stem curving away, a 1 bowed).
BEND_PROFILE = np.clip(1.0 - (OFFSETS / DIGIT_HALF_PIXELS) ** 2, 0.0, None)
CURVE_PROFILE = np.minimum(1.0, (OFFSETS[..., ::-1] / DIGIT_HALF_PIXELS) ** 2)


def shaped_displacement(profile, batch_size, rng, most_pixels):
    """Displacements (B, H, W, xy): the profile times a random amount per image and axis, up
    to `most_pixels` either way."""
    amount = rng.uniform(-most_pixels, most_pixels, size=(batch_size, 1, 1, 2)).astype(np.float32)
    return amount * profile


def augment(images, rng, strength=1.0, bend=0.0, curve=0.0):
    """Distort a batch of float images (B, 28, 28) in 0..255 with one resampling."""
    batch_size = len(images)
    images = change_stroke_width(images, rng, strength)
    matrix, shift = random_affine(batch_size, rng, strength)
    source = OFFSETS @ matrix.transpose(0, 2, 1)[:, np.newaxis] + CENTRE + shift[:, None, None, :]
    source += elastic_displacement(batch_size, rng, strength)
    for profile, most_pixels in ((BEND_PROFILE, bend), (CURVE_PROFILE, curve)):
        if most_pixels:
            source += shaped_displacement(profile, batch_size, rng, most_pixels * strength)
    return bilinear_sample(images, source[..., 1], source[..., 0]).astype(np.float32)


class AugmentedBatches(keras.utils.PyDataset):
    """Shuffled training batches, freshly distorted every epoch, for any Keras backend."""

    def __init__(self, images, labels, batch_size, seed, distortion=1.0, one_hot=False, bend=0.0, curve=0.0):
        super().__init__()
        # One-hot labels for a loss that smooths them; the digits themselves otherwise.
        self.images, self.labels = images, np.eye(10, dtype=np.float32)[labels] if one_hot else labels
        self.batch_size, self.distortion, self.bend, self.curve = batch_size, distortion, bend, curve
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(images))

    def __len__(self):
        return -(-len(self.images) // self.batch_size)

    def __getitem__(self, index):
        batch = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        images = self.images[batch].astype(np.float32)
        if self.distortion:
            images = augment(images, self.rng, self.distortion, self.bend, self.curve)
        return images[..., np.newaxis], self.labels[batch]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.images))


# ---------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------


def build_model(filters=16):
    """A small all-convolutional network; it takes pixels in 0..255 and scales them itself.

    Its cost grows with the square of `filters`. With 32 (326,826 parameters instead of 82,522)
    it reached 99.59 % instead of 99.54 % on MNIST's test set, but each image took 1.2 ms on one
    core instead of 0.3 ms: the smaller network is the one served.
    """

    def convolution(filters, kernel_size, strides=1, padding="valid"):
        return [
            keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=False),
            keras.layers.BatchNormalization(),
            keras.layers.Activation("relu"),
        ]

    return keras.Sequential(
        [
            keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="pixels"),
            keras.layers.Rescaling(1 / 255),
            *convolution(filters, 3),
            *convolution(filters, 3),
            *convolution(filters, 5, strides=2, padding="same"),
            keras.layers.Dropout(0.4),
            *convolution(2 * filters, 3),
            *convolution(2 * filters, 3),
            *convolution(2 * filters, 5, strides=2, padding="same"),
            keras.layers.Dropout(0.4),
            *convolution(4 * filters, 4),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.4),
            keras.layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities"),
        ],
        name="digitpad_cnn",
    )


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


def predicted_digits(network, images, batch_size=1000):
    """The network's digit for each uint8 image (N, 28, 28)."""
    probabilities = network.predict(to_model_input(images), batch_size=batch_size, verbose=0)
    return probabilities.argmax(axis=1)


def evaluate(network, images, labels, batch_size=1000):
    """Return (overall accuracy, accuracy of each digit 0..9) on uint8 images."""
    correct = predicted_digits(network, images, batch_size) == labels
    per_digit = [float(correct[labels == digit].mean()) for digit in range(NUM_CLASSES)]
    return float(correct.mean()), per_digit


class ValidationScore(keras.callbacks.Callback):
    """After each epoch: accuracy on the validation writers' drawings and on MNIST's validation
    split. Their mean, `val_score`, picks the epoch whose weights are kept, so a model is never
    chosen for MNIST alone, nor for the validation writers at MNIST's expense."""

    def __init__(self, writers_images, writers_labels, mnist_images, mnist_labels):
        super().__init__()
        self.writers = (writers_images, writers_labels)
        self.mnist = (mnist_images, mnist_labels)

    def on_epoch_end(self, epoch, logs=None):
        writers = float((predicted_digits(self.model, self.writers[0]) == self.writers[1]).mean())
        mnist = float((predicted_digits(self.model, self.mnist[0]) == self.mnist[1]).mean())
        if logs is not None:
            logs.update(
                val_writers_accuracy=writers, val_mnist_accuracy=mnist, val_score=(writers + mnist) / 2
            )
        print(f"Epoch {epoch + 1}: validation writers {writers:.2%}, MNIST validation {mnist:.2%}")


def print_evaluation(accuracy, per_digit):
    print(f"MNIST test accuracy: {accuracy:.2%} ({10000 - round(accuracy * 10000)} errors in 10,000)")
    print("Per digit: " + "  ".join(f"{digit}: {value:.2%}" for digit, value in enumerate(per_digit)))


def print_writer_evaluation(report):
    worst = report["worst_writer"]
    print(
        f"Validation writers {', '.join(map(str, VALIDATION_WRITERS))} "
        f"({report['images']:,} drawings): {report['accuracy']:.2%}, "
        f"worst writer {worst}: {report['per_writer'][worst]:.2%}"
    )
    per_digit = report["per_digit"]
    print("Per digit: " + "  ".join(f"{digit}: {value:.2%}" for digit, value in enumerate(per_digit)))


def rounded(report):
    """An accuracy report with its figures rounded for metadata.json."""
    return {
        **report,
        "accuracy": round(report["accuracy"], 6),
        "per_digit": [round(value, 6) for value in report["per_digit"]],
        "per_writer": {str(writer): round(value, 6) for writer, value in report["per_writer"].items()},
    }


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def main(argv=None):
    arguments = parse_arguments(argv)
    if arguments.export_litert:
        network = load_network(arguments.out)
        save_litert(network, arguments.out, read_metadata(arguments.out))
        print(f"Wrote {arguments.out}/model.tflite")
        return network
    (x_train, y_train), (x_test, y_test), mnist_sha256 = load_mnist(arguments.data)
    pen_file = pendigits_path(arguments.pendigits)
    pen_training, pen_validation = split_by_writer(read_pendigits(pen_file))
    x_writers, y_writers, writer_ids = validation_drawings(pen_validation)

    if arguments.evaluate:
        network = load_network(arguments.out)
        print_evaluation(*evaluate(network, x_test, y_test))
        print_writer_evaluation(
            accuracy_report(y_writers, predicted_digits(network, x_writers), writer_ids)
        )
        return network

    # Reproducibility: one seed for NumPy, Python and the backend (weights and augmentation).
    keras.utils.set_random_seed(arguments.seed)
    rng = np.random.default_rng(arguments.seed)

    if arguments.limit:
        x_train, y_train = x_train[: arguments.limit], y_train[: arguments.limit]
        pen_training = pen_training[: arguments.limit]
    validation_size = min(VALIDATION_SIZE, len(x_train) // 10)
    (x_train, y_train), (x_validation, y_validation) = split_validation(
        x_train, y_train, rng, validation_size
    )
    x_train, y_train = add_writing_styles(x_train, y_train, rng)
    mnist_training_images = len(x_train)
    # Other writers' pen strokes, drawn as the page draws and preprocessed as the server does.
    x_pen, y_pen, _ = drawn_for_the_model(pen_training, arguments.pen_drawings, arguments.seed)
    x_train = np.concatenate([x_train, x_pen])
    y_train = np.concatenate([y_train, y_pen])
    # People's corrections, split by client: the held-out clients' are only measured on.
    if arguments.corrections:
        (x_corrected, y_corrected), (x_held_out, y_held_out) = split_by_client(
            *read_corrections(arguments.corrections)
        )
        x_train = np.concatenate([x_train, *[x_corrected] * arguments.corrections_weight])
        y_train = np.concatenate([y_train, *[y_corrected] * arguments.corrections_weight])
        print(f"Corrections: {len(y_corrected):,} trained on ({arguments.corrections_weight} times each), "
              f"{len(y_held_out):,} of held-out clients measured on")
    training_writers = sorted({digit.writer for digit in pen_training})
    print(
        f"Training on {len(x_train):,} images: {mnist_training_images:,} from MNIST and "
        f"{len(x_pen):,} drawings of {len(pen_training):,} pen digits by {len(training_writers)} "
        f"writers; validating on {len(x_validation):,} MNIST images and {len(x_writers):,} "
        f"drawings by writers {', '.join(map(str, VALIDATION_WRITERS))}; {arguments.epochs} epochs"
    )

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

    callbacks = [
        # With --ema, the averaged weights are put in place at the end of each epoch, before the
        # callbacks below judge them and EarlyStopping keeps the best.
        *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if arguments.ema else []),
        # Before the callbacks that read its figures.
        ValidationScore(x_writers, y_writers, x_validation, y_validation),
        keras.callbacks.LearningRateScheduler(
            lambda epoch: arguments.learning_rate * 0.9**epoch
        ),
        # Never stops early (patience = all epochs): it keeps the best epoch's weights.
        keras.callbacks.EarlyStopping(
            monitor="val_score", mode="max", patience=arguments.epochs, restore_best_weights=True
        ),
    ]
    started = time.monotonic()
    network.fit(
        AugmentedBatches(
            x_train, y_train, arguments.batch_size, arguments.seed, arguments.distortion,
            one_hot=bool(arguments.label_smoothing), bend=arguments.bend,
            curve=arguments.curve,
        ),
        epochs=arguments.epochs,
        callbacks=callbacks,
        verbose=arguments.verbose,
    )
    training_seconds = time.monotonic() - started

    accuracy, per_digit = evaluate(network, x_test, y_test)
    writers_report = accuracy_report(y_writers, predicted_digits(network, x_writers), writer_ids)
    trained_at = datetime.datetime.now(datetime.timezone.utc)
    metadata = {
        "version": trained_at.strftime("%Y%m%d-%H%M%S") + f"-s{arguments.seed}",
        "trained_at": trained_at.isoformat(timespec="seconds"),
        # The headline figure readers of older metadata know; the rest is under "evaluation".
        "test_accuracy": round(accuracy, 6),
        "evaluation": {
            "mnist_test": {
                "accuracy": round(accuracy, 6),
                "per_digit": [round(value, 6) for value in per_digit],
                "images": len(y_test),
            },
            "validation_writers": rounded(writers_report),
            **({"held_out_corrections": held_out_figures(network, x_held_out, y_held_out)}
               if arguments.corrections else {}),
        },
        "parameters": network.count_params(),
        "filters": next(
            layer.filters for layer in network.layers if isinstance(layer, keras.layers.Conv2D)
        ),
        "epochs": arguments.epochs,
        "distortion": arguments.distortion,
        "label_smoothing": arguments.label_smoothing,
        "bend_pixels": arguments.bend,
        "curve_pixels": arguments.curve,
        "ema_momentum": arguments.ema,
        "initial_model": initial_version,
        "batch_size": arguments.batch_size,
        "learning_rate": arguments.learning_rate,
        "seed": arguments.seed,
        "training_samples": len(x_train),
        "training_seconds": round(training_seconds, 1),
        "seconds_per_epoch": round(training_seconds / arguments.epochs, 1),
        "data": {
            "mnist": {
                "file": Path(arguments.data).name if arguments.data else "mnist.npz",
                "sha256": mnist_sha256,
                "training_images": mnist_training_images,
            },
            "pendigits": {
                "file": pen_file.name,
                "sha256": file_sha256(pen_file),
                "training_digits": len(pen_training),
                "drawings_per_digit": arguments.pen_drawings,
                "training_drawings": len(x_pen),
            },
        },
        "writer_split": {"training": training_writers, "validation": list(VALIDATION_WRITERS)},
        **({"corrections": {
            "source": "database" if "://" in arguments.corrections else Path(arguments.corrections).name,
            "trained_on": len(y_corrected),
            "weight": arguments.corrections_weight,
            "held_out": len(y_held_out),
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
    written = save_network(network, arguments.out, metadata)
    print(f"Wrote {', '.join(written)} in {arguments.out}")
    print(f"Training took {training_seconds:.0f} s ({metadata['seconds_per_epoch']} s per epoch)")
    print_evaluation(accuracy, per_digit)
    print_writer_evaluation(writers_report)
    return network


def held_out_figures(network, images, labels):
    """Accuracy on the held-out clients' corrections (none yet: accuracy None)."""
    if len(labels) == 0:
        return {"accuracy": None, "images": 0}
    accuracy = float((predicted_digits(network, images) == labels).mean())
    return {"accuracy": round(accuracy, 6), "images": int(len(labels))}


def backend_version():
    """The version of the library under Keras (TensorFlow, PyTorch or JAX)."""
    return __import__(keras.backend.backend()).__version__


if __name__ == "__main__":
    main()
