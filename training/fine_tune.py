"""Fine-tuning a served network on people's corrections, replaying MNIST and the pen strokes
so that nothing it knew is forgotten (`flask --app app models retrain`, web/retrain.py).

Only the last layer is trained: the ten digits' weights over the network's penultimate
features, from the served weights, on the features of the corrections and of the replayed
images, computed once, without distortion. The replay holds MNIST and the training writers' pen
digits half and half, as the committed network's last stage did. Each correction is trained on
CORRECTIONS_WEIGHT times (one person's correction says what the network got wrong; it is one
drawing among thousands).

Why the last layer alone (docs/experiments/poisoning.md, chosen on the validation writers'
unseen half): training every layer, gently (the committed recipe's last stage, shortened: a
learning rate of 5e-5, distortion, weight averaging), moved the network by the fine-tuning
itself more than the corrections taught it. With no correction at all it read the validation
writers' unseen half 3 to 5 drawings worse than the served network, and two seeds of one
recipe were 3 drawings apart. The last layer over fixed features does not drift so (1 drawing),
learns what many honest corrections teach, and takes seconds where every layer took minutes.
"""

import time

import keras
import numpy as np

from handwriting.datasets import load_mnist, pendigits_path
from handwriting.pendigits import drawn_for_the_model, read_pendigits, split_by_writer, validation_drawings
from model.loader import load_network
from model.preprocessing import to_model_input
from training.network import predicted_digits
from training.writing_styles import add_writing_styles

# The replay, half MNIST and half the training writers' pen digits (two drawings of each: 12,490).
REPLAY_MNIST = 12_500
PEN_DRAWINGS = 2
EPOCHS = 2
LEARNING_RATE = 1e-3
CORRECTIONS_WEIGHT = 5
BATCH_SIZE = 128
# The layer whose weights are trained: the network's last (training/network.py names it).
LAST_LAYER = "probabilities"


def replay_data(seed, limit=None, mnist=REPLAY_MNIST, pen_drawings=PEN_DRAWINGS):
    """(images, labels) to replay (`mnist` MNIST images and `pen_drawings` drawings of each
    training writer's pen digit), the evaluation sets {name: (images, labels)}: MNIST's test set
    and the validation writers' drawings, as the registry measures every version, and the MNIST
    images chosen, as they were."""
    rng = np.random.default_rng(seed)
    (x_train, y_train), (x_test, y_test), _ = load_mnist()
    pen_training, pen_validation = split_by_writer(read_pendigits(pendigits_path()))
    mnist_count, pen_count = (limit, limit) if limit else (mnist, len(pen_training))
    chosen = rng.choice(len(x_train), size=min(mnist_count, len(x_train)), replace=False)
    x_mnist, y_mnist = add_writing_styles(x_train[chosen], y_train[chosen], rng)
    x_pen, y_pen, _ = drawn_for_the_model(pen_training[:pen_count], pen_drawings, seed)
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
    """Train the last layer of `network` (from loaded_for_fine_tuning) in place on the images'
    features; the seconds it took. The same images and seed give the same network: a retrain's
    result is then the corrections' doing, not chance."""
    started = time.monotonic()
    last = network.get_layer(LAST_LAYER)
    features = keras.Model(network.inputs, last.input).predict(to_model_input(images), batch_size=512, verbose=0)
    keras.utils.set_random_seed(seed)
    head = keras.Sequential([keras.Input(features.shape[1:]), keras.layers.Dense(last.units, activation=last.activation)])
    head.layers[-1].set_weights(last.get_weights())
    head.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="sparse_categorical_crossentropy",
                 metrics=["accuracy"])
    head.fit(features, labels, batch_size=BATCH_SIZE, epochs=epochs, shuffle=True, verbose=verbose)
    last.set_weights(head.layers[-1].get_weights())
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
