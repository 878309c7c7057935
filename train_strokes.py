"""Train the stroke network, which reads a digit from the pen's path; write it to model/.

    python train_strokes.py --pendigits PATH/TO/pendigits-orig.tra
    python train_strokes.py --export-litert     # convert and judge model/stroke_network.keras again

The page sends, with the picture of a digit, the strokes it was drawn with; the stroke network
(model/strokes.py) reads them, and its probabilities are combined with the picture network's.
It is trained on the pen strokes of pendigits' 25 training writers, each digit drawn afresh for
every batch with the variety of the page (training/stroke_network.py), and keeps an exponential
moving average of its weights, which evens out the swings from epoch to epoch; the last epoch's
averaged weights are kept, none is chosen. The five validation writers, never trained on, are
drawn as bench/writer_accuracy.py draws them and choose the weight of the strokes in the
combination with the picture network as served (test-time augmentation and all).

It writes model/stroke_network.keras (the network in Keras's own format: one file, any backend),
model/stroke_network.tflite (served by LiteRT; converted with TensorFlow) and
model/stroke_network.json (what it scored, alone and combined, and the weight chosen).
"""

import argparse
import datetime
import json
import os
import sys
import hashlib
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from handwriting.datasets import pendigits_path  # noqa: E402
from handwriting.pendigits import (  # noqa: E402
    VALIDATION_WRITERS,
    accuracy_report,
    read_pendigits,
    split_by_writer,
    validation_drawings_with_strokes,
)
from model.classifier import DigitClassifier  # noqa: E402
from model.loader import DEFAULT_MODEL_DIR, litert_flatbuffer, litert_interpreter, write_atomically  # noqa: E402
from model.runtimes import LiteRTInference  # noqa: E402
from model.strokes import (  # noqa: E402
    CHANNELS,
    STROKE_METADATA_FILE,
    STROKE_NETWORK_FILE,
    STROKE_POINTS,
    combined,
    pen_trajectories,
)
from training.network import print_writer_evaluation, rounded  # noqa: E402
from training.stroke_network import (  # noqa: E402
    StrokeBatches,
    StrokeValidation,
    build_stroke_network,
    chosen_stroke_weight,
)

KERAS_FILE = "stroke_network.keras"


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pendigits", default=os.environ.get("PENDIGITS_PATH"),
                        help="pendigits-orig.tra (default: $PENDIGITS_PATH, else download from UCI)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--ema", type=float, default=0.995, metavar="MOMENTUM",
                        help="momentum of the moving average of the weights that is kept (default 0.995)")
    parser.add_argument("--reorder", type=float, default=0.1,
                        help="chance that a drawing's strokes come in another order, and that one is "
                        "drawn backwards (default 0.1)")
    parser.add_argument("--filters", type=int, default=64, help="filters of the first convolutions")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--image-model-dir", type=Path, default=DEFAULT_MODEL_DIR,
                        help="the picture network the strokes are combined with (default: the committed one)")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR, help="output folder")
    parser.add_argument("--export-litert", action="store_true",
                        help="do not train: convert --out's stroke_network.keras and judge it again")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras verbosity")
    return parser.parse_args(argv)


def main(argv=None):
    arguments = parse_arguments(argv)
    arguments.out.mkdir(parents=True, exist_ok=True)
    training, validation = split_by_writer(read_pendigits(pendigits_path(arguments.pendigits)))
    images, labels, writers, strokes = validation_drawings_with_strokes(validation)
    trajectories = pen_trajectories(strokes)
    if arguments.export_litert:
        network = keras.models.load_model(arguments.out / KERAS_FILE)
        metadata = json.loads((arguments.out / STROKE_METADATA_FILE).read_text())
    else:
        network, metadata = trained(arguments, argv, training, trajectories, labels)
    try:
        import tensorflow  # noqa: F401 (the converter)
    except ImportError:
        print(f"TensorFlow is not installed: no {STROKE_NETWORK_FILE} written. Run "
              f"`python train_strokes.py --export-litert --out {arguments.out}` where it is.")
        return network
    litert_model = litert_flatbuffer(network)
    write_atomically(arguments.out / STROKE_NETWORK_FILE, litert_model)
    # Judged as served: the LiteRT model that was written, and the picture network with its
    # test-time augmentation.
    stroke_probabilities = LiteRTInference(litert_interpreter(litert_model))(trajectories)
    pictures = DigitClassifier(model_dir=arguments.image_model_dir, reads_numbers=False, stroke_network_dir=None)
    pictures.load()
    image_probabilities = pictures.predict(images)
    stroke_weight, by_weight = chosen_stroke_weight(image_probabilities, stroke_probabilities, labels)
    reports = {
        "strokes": accuracy_report(labels, stroke_probabilities.argmax(axis=1), writers),
        "picture": accuracy_report(labels, image_probabilities.argmax(axis=1), writers),
        "both": accuracy_report(labels, combined(image_probabilities, stroke_probabilities, stroke_weight)
                                .argmax(axis=1), writers),
    }
    metadata.update(
        sha256=hashlib.sha256(litert_model).hexdigest(),
        image_network_version=pictures.version,
        combination={"method": "weighted geometric mean", "stroke_weight": stroke_weight,
                     "validation_accuracy_by_stroke_weight": {str(w): round(a, 6) for w, a in by_weight.items()}},
        evaluation={**{name: rounded(report) for name, report in reports.items()},
                    "summary": {name: {"accuracy": round(report["accuracy"], 6),
                                       "worst_digit": round(min(report["per_digit"]), 6),
                                       "worst_writer": round(report["per_writer"][report["worst_writer"]], 6)}
                                for name, report in reports.items()}},
    )
    write_atomically(arguments.out / STROKE_METADATA_FILE, (json.dumps(metadata, indent=2) + "\n").encode())
    print(f"Wrote {KERAS_FILE}, {STROKE_NETWORK_FILE} and {STROKE_METADATA_FILE} in {arguments.out}")
    for name, report in reports.items():
        print(f"\n{name}:")
        print_writer_evaluation(report)
    print(f"\nstroke weight {stroke_weight} (accuracy by weight: "
          + ", ".join(f"{weight}: {accuracy:.2%}" for weight, accuracy in by_weight.items()) + ")")
    return network


def trained(arguments, argv, training, trajectories, labels):
    """(the network trained on the training writers' strokes, its metadata so far), both written."""
    keras.utils.set_random_seed(arguments.seed)
    network = build_stroke_network(arguments.filters)
    network.compile(
        optimizer=keras.optimizers.Adam(arguments.learning_rate, use_ema=True, ema_momentum=arguments.ema),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    network.summary()
    print(f"Training on {len(training):,} digits of {len({digit.writer for digit in training})} writers, "
          f"drawn afresh every epoch; validating on {len(labels):,} drawings by writers "
          f"{', '.join(map(str, VALIDATION_WRITERS))}; {arguments.epochs} epochs")
    validation = StrokeValidation(trajectories, labels)
    started = time.monotonic()
    network.fit(
        StrokeBatches(training, arguments.batch_size, arguments.seed, arguments.reorder),
        epochs=arguments.epochs,
        callbacks=[
            # The averaged weights judged after each epoch; fit() leaves them in place at the end.
            keras.callbacks.SwapEMAWeights(swap_on_epoch=True),
            validation,
            keras.callbacks.LearningRateScheduler(lambda epoch: arguments.learning_rate * 0.9**epoch),
        ],
        verbose=arguments.verbose,
    )
    training_seconds = time.monotonic() - started
    print(f"Training took {training_seconds:.0f} s")
    save_keras(network, arguments.out / KERAS_FILE)
    trained_at = datetime.datetime.now(datetime.timezone.utc)
    metadata = {
        "version": trained_at.strftime("%Y%m%d-%H%M%S") + f"-s{arguments.seed}",
        "trained_at": trained_at.isoformat(timespec="seconds"),
        "command": "python train_strokes.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "points": STROKE_POINTS,
        "channels": list(CHANNELS),
        "parameters": network.count_params(),
        "epochs": arguments.epochs,
        "batch_size": arguments.batch_size,
        "learning_rate": arguments.learning_rate,
        "ema_momentum": arguments.ema,
        "reorder": arguments.reorder,
        "filters": arguments.filters,
        "seed": arguments.seed,
        "training_seconds": round(training_seconds, 1),
        "writer_split": {"training": sorted({digit.writer for digit in training}),
                         "validation": list(VALIDATION_WRITERS)},
        # Strokes alone after each epoch (averaged weights): how steady training was.
        "validation_strokes_by_epoch": validation.history,
        "versions": {"keras": keras.__version__, "backend": keras.backend.backend(), "numpy": np.__version__},
    }
    write_atomically(arguments.out / STROKE_METADATA_FILE, (json.dumps(metadata, indent=2) + "\n").encode())
    return network, metadata


def save_keras(network, path):
    """The network alone (a compiled one would also keep its optimizer's moments and weight
    averages: four times the weights' bytes) saved under a temporary name beside `path` (Keras
    wants the .keras suffix), then renamed into place, so a reader never sees half a file."""
    plain = type(network).from_config(network.get_config())
    plain.set_weights(network.get_weights())
    temporary = path.with_name(f".{path.stem}.tmp-{os.getpid()}.keras")
    try:
        plain.save(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
