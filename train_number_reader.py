"""Fit the judge of the number reader (model/numbers.py) and write model/number_reader.json.

    python train_number_reader.py --pendigits PATH/TO/pendigits-orig.tra [--count 6000]

Reading a number means deciding which pieces of ink make each digit. The reader tries every
plausible group of neighbouring pieces with the digit network; a small judge says how likely
each group is one whole digit. This script writes numbers with the pen digits of the 25
training writers (handwriting/numbers.py: the digit network was trained on these writers, the
five validation writers stay unseen by both), lists every group the reader could try in each
(every wide piece cut at its thin places), labels it by the ink of the digits the number was
written with (a group is a digit when at least 85 % of its ink belongs to one digit and it
holds at least 80 % of that digit's ink), fits the judge on four numbers in five, and on the
fifth chooses the bonus per digit with which the reader, as it serves, reads the most numbers
exactly. The judge is a Keras network of one hidden layer over the group's
features (model.numbers.FEATURES); its weights are written as JSON, which the server evaluates
in NumPy. One of the features is the whole-digit check's: a small convolutional network that tells from a
group's 28x28 image whether it is one whole digit, fitted first on the same groups and written
as LiteRT (model/whole_digit_check.tflite, beside the JSON). The judge is fitted on what checks fitted
on the other half of the numbers make of each group, so that it trusts the whole-digit check as much as it
deserves on groups the whole-digit check has not seen.
"""

import argparse
import datetime
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from handwriting.datasets import file_sha256, pendigits_path  # noqa: E402
from handwriting.numbers import by_writer_and_label, numbers_for_writers  # noqa: E402
from handwriting.pendigits import read_pendigits, split_by_writer  # noqa: E402
from handwriting.render import encode  # noqa: E402
from model.classifier import DigitClassifier  # noqa: E402
from model.loader import DEFAULT_MODEL_DIR, litert_flatbuffer, write_atomically  # noqa: E402
from model.number_answers import number_digits  # noqa: E402
from model.number_judge import (  # noqa: E402
    FEATURES,
    NUMBER_READER_FILE,
    WHOLE_DIGIT_CHECK_FILE,
    GroupJudge,
    group_features,
    whole_digit_check_runtime,
)
from model.numbers import NumberReader  # noqa: E402
from model.preprocessing import ink_of, to_model_input  # noqa: E402

HIDDEN_UNITS = 24
LOOK_BATCH_SIZE = 128
PURITY, COVERAGE = 0.85, 0.80
DIGIT_BONUSES = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pendigits", default=os.environ.get("PENDIGITS_PATH"),
                        help="pendigits-orig.tra (default $PENDIGITS_PATH, else downloaded)")
    parser.add_argument("--model-dir", default=DEFAULT_MODEL_DIR, help="the digit network the reader uses")
    parser.add_argument("--count", type=int, default=6000, help="numbers to write (default 6000)")
    parser.add_argument("--epochs", type=int, default=40, help="the judge's epochs (default 40)")
    parser.add_argument("--check-epochs", type=int, default=6, help="the whole-digit check's epochs (default 6)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=NUMBER_READER_FILE, help="where to write the judge")
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------------------------
# Every group the reader could try, labelled
# ---------------------------------------------------------------------------------------------


def is_one_digit(reading, digit_inks):
    """Whether the group's ink is (nearly all) one digit's and holds (nearly all) of it."""
    pieces = reading.group.pieces
    rows = np.concatenate([piece.rows for piece in pieces])
    columns = np.concatenate([piece.columns for piece in pieces])
    values = np.concatenate([piece.values for piece in pieces]).astype(np.float64)
    owned = digit_inks[:, rows, columns]
    digit = int(np.argmax(owned @ values))
    purity = owned[digit] @ values / values.sum()
    coverage = owned[digit].sum() / max(1, digit_inks[digit].sum())
    return purity >= PURITY and coverage >= COVERAGE


def labelled_candidates(numbers, reader, predict):
    """For each number: ({key: Reading}, line, {key: is one digit})."""
    listed = []
    for number in numbers:
        read, line = reader.candidates(ink_of(encode(number.image)), predict)
        inks = number.digit_inks()
        listed.append((read, line, {key: is_one_digit(reading, inks) for key, reading in read.items()}))
    return listed


def check_table(listed):
    """Every group's 28x28 image and whether it is one digit: (images, targets)."""
    images = [reading.digit_image for read, _, _ in listed for reading in read.values()]
    targets = [labels[key] for read, _, labels in listed for key in read]
    return np.stack(images), np.array(targets, dtype=np.float32)


def feature_table(listed):
    features, targets = [], []
    for read, line, labels in listed:
        for key, reading in read.items():
            features.append(group_features(reading, line.height))
            targets.append(labels[key])
    return np.array(features), np.array(targets, dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# The judge
# ---------------------------------------------------------------------------------------------


def check_network():
    """Whether a 28x28 group is one whole digit, as a logit: a small convolutional network (23 k
    weights), which sees what the digit network, sure of an 8 with a 1 touching it, does not."""
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(1),
    ])


def fit_whole_digit_check(listed, epochs, seed):
    keras.utils.set_random_seed(seed)
    images, targets = check_table(listed)
    network = check_network()
    network.compile(optimizer=keras.optimizers.Adam(2e-3), loss=keras.losses.BinaryCrossentropy(from_logits=True))
    network.fit(to_model_input(images), targets, batch_size=LOOK_BATCH_SIZE, epochs=epochs, verbose=0, shuffle=True)
    return network


def set_checks(listed, check):
    """Give every group of these numbers the whole-digit check's logit (`check`: digits to logits)."""
    for read, _, _ in listed:
        readings = list(read.values())
        for reading, logit in zip(readings, check(np.stack([reading.digit_image for reading in readings]))):
            reading.whole_digit_check = float(logit)


def keras_check(network):
    return lambda digits: np.asarray(network.predict_on_batch(to_model_input(digits)))[:, 0]


def fit_judge(features, targets, epochs, seed):
    keras.utils.set_random_seed(seed)
    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    network = keras.Sequential([
        keras.Input((len(FEATURES),)),
        keras.layers.Dense(HIDDEN_UNITS, activation="tanh", kernel_regularizer=keras.regularizers.L2(1e-4)),
        keras.layers.Dense(1),
    ])
    network.compile(optimizer=keras.optimizers.Adam(3e-3),
                    loss=keras.losses.BinaryCrossentropy(from_logits=True), metrics=["binary_accuracy"])
    network.fit((features - mean) / scale, targets, batch_size=256, epochs=epochs, verbose=0, shuffle=True)
    (hidden_weights, hidden_bias), (output_weights, output_bias) = (layer.get_weights() for layer in network.layers)
    return {
        "features": list(FEATURES),
        "mean": mean.tolist(), "scale": scale.tolist(),
        "hidden_weights": hidden_weights.tolist(), "hidden_bias": hidden_bias.tolist(),
        "output_weights": output_weights[:, 0].tolist(), "output_bias": float(output_bias[0]),
        "digit_bonus": 0.0,
    }


def exact_share(numbers, judge, classifier):
    """How many of the numbers the reader, as it serves, reads exactly with this judge."""
    reader, exact = NumberReader(judge), []
    for number in numbers:
        _, probabilities = number_digits(classifier, ink_of(encode(number.image)), reader)
        exact.append("".join(map(str, probabilities.argmax(axis=1))) == number.text)
    return np.mean(exact)


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def main(argv=None):
    arguments = parse_arguments(argv)
    started = time.monotonic()
    path = pendigits_path(arguments.pendigits)
    training, _ = split_by_writer(read_pendigits(path))
    # The reader is fitted here: the served one (the files being replaced) is not loaded.
    classifier = DigitClassifier(model_dir=arguments.model_dir, runtime="litert", reads_numbers=False)
    classifier.load()
    if not classifier.ready:
        raise SystemExit(f"The digit network cannot be loaded: {classifier.load_error}")

    numbers = numbers_for_writers(by_writer_and_label(training), arguments.count, arguments.seed)
    # The judge sees what the server's reader sees: the network alone on every candidate.
    listed = labelled_candidates(numbers, NumberReader(), classifier.predict_number_candidates)
    held_out = len(listed) // 5
    fitting = listed[held_out:]
    print(f"{len(numbers):,} numbers by {len({digit.writer for digit in training})} training writers, "
          f"{sum(len(read) for read, _, _ in fitting):,} groups to judge, {time.monotonic() - started:.0f} s")

    # The whole-digit check: each half of the fitting numbers' groups looked at by a look fitted on the other
    # half, for the judge to learn from; then the whole-digit check that serves, fitted on all of them.
    halves = (fitting[0::2], fitting[1::2])
    for half, other in zip(halves, reversed(halves)):
        set_checks(half, keras_check(fit_whole_digit_check(other, arguments.check_epochs, arguments.seed)))
    check_model = litert_flatbuffer(fit_whole_digit_check(fitting, arguments.check_epochs, arguments.seed))
    check = whole_digit_check_runtime(check_model)
    set_checks(listed[:held_out], check)
    print(f"the whole-digit check fitted, {time.monotonic() - started:.0f} s")

    features, targets = feature_table(fitting)
    settings = fit_judge(features, targets, arguments.epochs, arguments.seed)
    held_out_features, held_out_targets = feature_table(listed[:held_out])
    held_out_check = held_out_features[:, FEATURES.index("whole-digit check")]
    judged = GroupJudge(settings, check).log_probabilities(held_out_features)
    accuracy = {
        "whole_digit_check": float(np.mean((held_out_check > 0) == held_out_targets)),
        "judge": float(np.mean((judged > np.log(0.5)) == held_out_targets)),
    }
    print(f"held-out groups one digit or not: the whole-digit check alone {accuracy['whole_digit_check']:.1%}, the judge {accuracy['judge']:.1%}")
    shares = {}
    for bonus in DIGIT_BONUSES:
        settings["digit_bonus"] = bonus
        shares[bonus] = exact_share(numbers[:held_out], GroupJudge(settings, check), classifier)
    for bonus, share in shares.items():
        print(f"digit bonus {bonus:4.2f}: {share:.1%} of {held_out} held-out numbers read exactly")
    settings["digit_bonus"] = max(shares, key=shares.get)
    settings["fitted"] = {
        "at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "pendigits": {"file": path.name, "sha256": file_sha256(path)},
        "writers": sorted({digit.writer for digit in training}),
        "digit_network": classifier.version,
        "numbers": len(numbers), "seed": arguments.seed, "groups": int(len(targets)),
        "held_out_numbers": held_out, "held_out_exact": round(float(shares[settings["digit_bonus"]]), 4),
        "held_out_groups_accuracy": {name: round(value, 4) for name, value in accuracy.items()},
    }
    check_path = arguments.out.with_name(WHOLE_DIGIT_CHECK_FILE)
    settings["whole_digit_check"] = {"file": check_path.name, "sha256": hashlib.sha256(check_model).hexdigest(),
                        "epochs": arguments.check_epochs}
    # The whole-digit check first: the judge names it by its SHA-256.
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(check_path, check_model)
    write_atomically(arguments.out, json.dumps(settings, indent=1).encode())
    print(f"digit bonus {settings['digit_bonus']}; wrote {arguments.out} and {check_path.name} "
          f"in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
