"""The stroke network (model/strokes.py), its training batches and how it is judged.

The network is a 1-D convolution along the pen's path: six convolutions over the STROKE_POINTS
points of pen_trajectory (two of them halving the points), then one dense layer over what every
part of the path holds, so that where along the path a feature comes (a 5's bar drawn last, a
4's first stroke) counts. It is written with Keras layers only and takes its batches from NumPy,
so it trains under any Keras backend.

Training digits are the 25 training writers' pendigits strokes, drawn afresh for every batch
with the variety the page brings: random_drawing's size, place, slant, tilt, width and image
size, then more slant, rotation and width, points dropped (a mouse samples more sparsely than a
pen), jitter of the hand, coordinates rounded to the sent image's pixels and, now and then,
strokes in another order or one stroke drawn the other way. Speed needs no augmentation:
pen_trajectory spaces its points along the path, not in time.
"""

import math

import keras
import numpy as np

from handwriting.pendigits import page_strokes, random_drawing, timed
from model.strokes import CHANNELS, STROKE_POINTS, combined, pen_trajectory

NUM_CLASSES = 10
# More than random_drawing's: the page's writers slant and turn their digits more than the
# tablet's did, and the network must not lean on the exact angle.
EXTRA_ROTATION_DEGREES = 12
EXTRA_SLANT = 0.2
EXTRA_WIDTH = 0.2  # log of the width's factor, either way
# Each point's jitter: a normal spread of up to this share of the pad's side.
MOST_JITTER = 0.008
# The share of a stroke's inner points dropped: from none to this.
MOST_POINTS_DROPPED = 0.5
# Stroke weights tried for `combined` on the validation writers.
STROKE_WEIGHTS = tuple(round(weight, 2) for weight in np.arange(0.0, 1.01, 0.1))


def build_stroke_network(filters=64):
    """The stroke network: trajectories (N, STROKE_POINTS, len(CHANNELS)) in, probabilities out."""

    def convolution(x, filters, kernel_size, strides=1):
        x = keras.layers.Conv1D(filters, kernel_size, strides=strides, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        return keras.layers.Activation("relu")(x)

    trajectory = keras.Input(shape=(STROKE_POINTS, len(CHANNELS)), name="trajectory")
    x = convolution(trajectory, filters, 5)
    x = convolution(x, filters, 5)
    x = convolution(x, 3 * filters // 2, 3, strides=2)
    x = convolution(x, 3 * filters // 2, 3)
    x = convolution(x, 2 * filters, 3, strides=2)
    x = convolution(x, 2 * filters, 3)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.4)(x)
    probabilities = keras.layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(trajectory, probabilities, name="digitpad_strokes")


def augmented_strokes(digit, rng, reorder=0.1):
    """One training drawing of a pendigits digit: its strokes as the page would send them (x, y
    in the sent image's pixels, t), with the variety described above. `reorder`: the chance that
    a digit of several strokes has them in another order, and that one stroke is drawn backwards."""
    drawing = random_drawing(rng)
    strokes = page_strokes(digit, drawing)
    angle = math.radians(rng.uniform(-EXTRA_ROTATION_DEGREES, EXTRA_ROTATION_DEGREES))
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    shape = np.array([[math.exp(rng.uniform(-EXTRA_WIDTH, EXTRA_WIDTH)), rng.uniform(-EXTRA_SLANT, EXTRA_SLANT)],
                      [0.0, 1.0]])
    transform = rotation @ shape
    jitter = rng.uniform(0, MOST_JITTER)
    dropped = rng.uniform(0, MOST_POINTS_DROPPED)
    changed = []
    for stroke in strokes:
        if len(stroke) > 2:
            inner = rng.random(len(stroke) - 2) >= dropped
            stroke = stroke[np.concatenate([[True], inner, [True]])]
        stroke = (stroke - 0.5) @ transform.T + 0.5 + rng.normal(0, jitter, stroke.shape)
        changed.append(stroke * drawing.image_size)
    if rng.random() < 0.5:  # a page may send whole pixels
        changed = [np.round(stroke) for stroke in changed]
    if len(changed) > 1 and rng.random() < reorder:
        changed = [changed[index] for index in rng.permutation(len(changed))]
    if rng.random() < reorder:
        backwards = rng.integers(len(changed))
        changed[backwards] = changed[backwards][::-1]
    return timed(changed, rng)


class StrokeBatches(keras.utils.PyDataset):
    """Shuffled batches of freshly augmented trajectories of pendigits digits, for any backend."""

    def __init__(self, digits, batch_size, seed, reorder=0.1):
        super().__init__()
        self.digits = digits
        self.labels = np.array([digit.label for digit in digits], dtype=np.int64)
        self.batch_size, self.reorder = batch_size, reorder
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(digits))

    def __len__(self):
        return -(-len(self.digits) // self.batch_size)

    def __getitem__(self, index):
        batch = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        trajectories = np.stack([
            pen_trajectory(augmented_strokes(self.digits[row], self.rng, self.reorder)) for row in batch
        ])
        return trajectories, self.labels[batch]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.digits))


class StrokeValidation(keras.callbacks.Callback):
    """After each epoch (on the averaged weights, where SwapEMAWeights put them in place):
    the validation writers' accuracy with strokes alone. Printed only: no epoch is chosen by it."""

    def __init__(self, trajectories, labels):
        super().__init__()
        self.trajectories, self.labels = trajectories, labels
        self.history = []

    def on_epoch_end(self, epoch, logs=None):
        predicted = self.model.predict(self.trajectories, batch_size=1000, verbose=0).argmax(axis=1)
        accuracy = float((predicted == self.labels).mean())
        self.history.append(round(accuracy, 6))
        if logs is not None:
            logs["val_strokes_accuracy"] = accuracy
        print(f"Epoch {epoch + 1}: validation writers, strokes alone {accuracy:.2%}")


def chosen_stroke_weight(image_probabilities, stroke_probabilities, labels):
    """(the stroke weight for `combined`, accuracy at each weight tried): the middle of the
    weights within 0.05 point of the best, a choice that does not hang on one drawing."""
    accuracy = {
        weight: float((combined(image_probabilities, stroke_probabilities, weight).argmax(axis=1) == labels).mean())
        for weight in STROKE_WEIGHTS
    }
    best = max(accuracy.values())
    near_best = [weight for weight in STROKE_WEIGHTS if accuracy[weight] >= best - 0.0005]
    return near_best[len(near_best) // 2], accuracy
