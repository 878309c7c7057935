"""Fine-tuning a served network on people's corrections, replaying MNIST and the pen strokes so
that nothing it knew is forgotten (`flask --app app models retrain`, web/retrain_cli.py).

The recipe is the committed model's last stage, shortened and gentler: from the served weights,
a learning rate of 5e-5, distortion 0.3 and an exponential moving average of the weights
(momentum 0.999), chosen on the validation writers among three (docs/experiments/poisoning.md); each epoch sees a
random share of MNIST's training images (with the writing styles it lacks), one drawing of each
training writer's pen digits, and the corrections trained on, each CORRECTIONS_WEIGHT times (one
person's correction says what the network got wrong; it is one drawing among thousands).
"""

import time

import keras
import numpy as np

from handwriting.datasets import load_mnist, pendigits_path
from handwriting.pendigits import drawn_for_the_model, read_pendigits, split_by_writer, validation_drawings
from model.loader import load_network
from training.augmentation import AugmentedBatches
from training.network import predicted_digits
from training.writing_styles import add_writing_styles

REPLAY_MNIST = 20_000
EPOCHS = 2
LEARNING_RATE = 5e-5
DISTORTION = 0.3
EMA_MOMENTUM = 0.999
CORRECTIONS_WEIGHT = 5
BATCH_SIZE = 128


def replay_data(seed, limit=None):
    """(images, labels) to replay, and the evaluation sets {name: (images, labels)}: MNIST's test
    set and the validation writers' drawings, as the registry measures every version."""
    rng = np.random.default_rng(seed)
    (x_train, y_train), (x_test, y_test), _ = load_mnist()
    pen_training, pen_validation = split_by_writer(read_pendigits(pendigits_path()))
    mnist_count, pen_count = (limit, limit) if limit else (REPLAY_MNIST, len(pen_training))
    chosen = rng.choice(len(x_train), size=min(mnist_count, len(x_train)), replace=False)
    x_mnist, y_mnist = add_writing_styles(x_train[chosen], y_train[chosen], rng)
    x_pen, y_pen, _ = drawn_for_the_model(pen_training[:pen_count], 1, seed)
    x_writers, y_writers, _ = validation_drawings(pen_validation[:limit] if limit else pen_validation)
    evaluation = {"mnist_test": (x_test[:limit] if limit else x_test, y_test[:limit] if limit else y_test),
                  "validation_writers": (x_writers, y_writers)}
    return np.concatenate([x_mnist, x_pen]), np.concatenate([y_mnist, y_pen]), evaluation, x_train[chosen]


def loaded_for_fine_tuning(folder, seed=1):
    """The network in `folder`, built after seeding: its dropout layers draw their own seeds
    when built, so the same seed and images give the same network (deterministic())."""
    keras.utils.set_random_seed(seed)
    deterministic()
    return load_network(folder)


def fine_tune(network, images, labels, epochs=EPOCHS, seed=1, verbose=2):
    """Train `network` (from loaded_for_fine_tuning) in place on the images; the seconds it
    took. The same images and seed give the same network: a retrain's result is then the
    corrections' doing, not chance."""
    keras.utils.set_random_seed(seed)
    network.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE, use_ema=True, ema_momentum=EMA_MOMENTUM),
        loss="sparse_categorical_crossentropy", metrics=["accuracy"],
    )
    started = time.monotonic()
    network.fit(AugmentedBatches(images, labels, BATCH_SIZE, seed, DISTORTION), epochs=epochs, verbose=verbose,
                callbacks=[keras.callbacks.SwapEMAWeights(swap_on_epoch=True)])
    return time.monotonic() - started


def measured(network, evaluation):
    """{set: {"accuracy", "images"}} of the Keras network, as metadata.json records them."""
    figures = {}
    for name, (images, labels) in evaluation.items():
        accuracy = float((predicted_digits(network, images) == labels).mean())
        figures[name] = {"accuracy": round(accuracy, 6), "images": int(len(labels))}
    return figures


def with_corrections(images, labels, corrected_images, corrected_labels, weight=CORRECTIONS_WEIGHT):
    return (np.concatenate([images, *[corrected_images] * weight]),
            np.concatenate([labels, *[np.asarray(corrected_labels, dtype=labels.dtype)] * weight]))



def deterministic():
    """Ask the backend for the same result from the same inputs (TensorFlow's kernels choose
    their reduction order freely otherwise: two runs on the same data were 0.24 points apart on
    the validation writers)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
