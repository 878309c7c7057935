"""Which fine-tuning recipe lets honest corrections improve the shared network?

    python -m bench.retrain_recipes [--confirm-every N] [--seeds 1 2 3] [--recipes NAME ...]

The honest sessions of bench/poisoning.py (each validation writer draws the first half of their
digits: predict, correct each wrong answer, confirm every fifth right one, or every one with
--confirm-every 1), and the rows `models retrain` would train on (trusted, not held out for
the gate, no writer or address above the share). Each recipe fine-tunes the served network on
them, and on nothing (the replay alone: what the fine-tuning itself does), from each seed; each
network is read as served (test-time augmentation where unsure) on the writers' second half,
drawings no correction came from. Printed: its accuracy and errors there, and on the validation
writers' drawings and MNIST's test set (the gate's sets).

The recipes: "last layer", training/fine_tune.py's (the committed one); "every layer", the one
before it (the committed network's last stage, shortened: every layer, a learning rate of 5e-5,
distortion 0.3, weight averaging at 0.999, 20,000 MNIST images and one drawing of each training
writer's pen digits replayed); "every layer, half and half", the same with the replay of
fine_tune.py; "every layer, batch norm frozen"; and "every layer, distilled", whose replayed
images are trained towards the served network's probabilities instead of their labels.
"""

import argparse
import tempfile
from pathlib import Path

import keras
import numpy as np

from bench.personal_accuracy import CONFIRM_EVERY, new_app, writer_sessions
from bench.poisoning import honest_sessions
from handwriting.datasets import pendigits_path
from model.loader import DEFAULT_MODEL_DIR
from model.preprocessing import preprocess, to_model_input
from model.test_time_augmentation import TTA_BELOW, with_test_time_augmentation
from training import fine_tune as recipe
from training.augmentation import AugmentedBatches

EVERY_LAYER = {"learning_rate": 5e-5, "distortion": 0.3, "ema": 0.999, "mnist": 20_000, "pen_drawings": 1}
RECIPES = {
    "last layer": None,
    "every layer": EVERY_LAYER,
    "every layer, half and half": {**EVERY_LAYER, "mnist": recipe.REPLAY_MNIST, "pen_drawings": recipe.PEN_DRAWINGS},
    "every layer, batch norm frozen": {**EVERY_LAYER, "freeze_batch_norm": True},
    "every layer, distilled": {**EVERY_LAYER, "mnist": recipe.REPLAY_MNIST, "pen_drawings": recipe.PEN_DRAWINGS,
                               "distilled": True},
}


def honest_rows(confirm_every):
    """(images, labels) `models retrain` would train on, and the second half (images, labels)."""
    from web.retrain import read_and_checked, training_rows

    with tempfile.TemporaryDirectory() as folder:
        app = new_app(Path(folder))
        pngs, labels = honest_sessions(app, writer_sessions(pendigits_path()), confirm_every)
        with app.app_context():
            rows, images, statuses, _, _ = read_and_checked(dry_run=True)
            chosen = training_rows(rows, statuses, no_filter=False)
    second = np.stack([preprocess(png) for png in pngs])
    return images[chosen], np.array([rows[index].label for index in chosen]), second, labels


def replay(options, seed):
    """The replayed images, labels and the evaluation sets, in the recipe's proportions."""
    return recipe.replay_data(seed, mnist=options["mnist"], pen_drawings=options["pen_drawings"])[:3]


def every_layer(network, images, labels, corrected, options, seed):
    """Train every layer (the recipe before the last-layer one), from the served weights."""
    if options.get("freeze_batch_norm"):
        for layer in network.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    batches = AugmentedBatches(images, labels, recipe.BATCH_SIZE, seed, options["distortion"])
    loss = "sparse_categorical_crossentropy"
    if options.get("distilled"):
        # The replayed images towards what the served network reads; the corrections one-hot.
        targets = np.eye(10, dtype=np.float32)[labels]
        targets[: len(labels) - corrected] = network.predict(to_model_input(images[: len(labels) - corrected]),
                                                             batch_size=512, verbose=0)
        batches.labels, loss = targets, "categorical_crossentropy"
    keras.utils.set_random_seed(seed)
    network.compile(optimizer=keras.optimizers.Adam(options["learning_rate"], use_ema=True,
                                                    ema_momentum=options["ema"]), loss=loss)
    network.fit(batches, epochs=recipe.EPOCHS, verbose=0, callbacks=[keras.callbacks.SwapEMAWeights(swap_on_epoch=True)])


def as_served(network, images):
    def read(batch):
        return network.predict(to_model_input(batch), batch_size=512, verbose=0)

    return with_test_time_augmentation(images, read(images), read, TTA_BELOW).argmax(axis=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--confirm-every", type=int, default=CONFIRM_EVERY)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    arguments = parser.parse_args(argv)
    corrected_images, corrected_labels, second, second_labels = honest_rows(arguments.confirm_every)
    print(f"{len(corrected_labels):,} honest corrections trained on; second half: {len(second_labels):,} drawings")
    print(f"{'recipe':<32} {'corrections':>11} {'seed':>4} {'second half':>11} {'errors':>6} "
          f"{'validation writers':>18} {'MNIST test':>10}")
    served = recipe.loaded_for_fine_tuning(DEFAULT_MODEL_DIR)
    for name in ["served", *arguments.recipes]:
        options = RECIPES.get(name) or {"mnist": recipe.REPLAY_MNIST, "pen_drawings": recipe.PEN_DRAWINGS}
        for seed in arguments.seeds if name != "served" else [1]:
            images, labels, evaluation = replay(options, seed)
            for corrected in ((0,) if name == "served" else (len(corrected_labels), 0)):
                network = served if name == "served" else recipe.loaded_for_fine_tuning(DEFAULT_MODEL_DIR, seed)
                train_images, train_labels = recipe.with_corrections(
                    images, labels, corrected_images[:corrected], corrected_labels[:corrected],
                    recipe.CORRECTIONS_WEIGHT) if corrected else (images, labels)
                if name == "last layer":
                    recipe.fine_tune(network, train_images, train_labels, seed=seed, verbose=0)
                elif name != "served":
                    every_layer(network, train_images, train_labels, corrected * recipe.CORRECTIONS_WEIGHT,
                                options, seed)
                right = as_served(network, second) == second_labels
                figures = recipe.measured(network, evaluation)
                print(f"{name:<32} {corrected if name != 'served' else '-':>11} {seed:>4} {right.mean():>11.2%} "
                      f"{int((~right).sum()):>6} {figures['validation_writers']['accuracy']:>18.2%} "
                      f"{figures['mnist_test']['accuracy']:>10.2%}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
