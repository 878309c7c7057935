"""Accuracy on the digits of writers the model never saw: pen strokes drawn as the page draws.

    .venv/bin/python -m bench.writer_accuracy [--model-dir model] [--pendigits PATH] [--data PATH]
    .venv/bin/python -m bench.writer_accuracy --strokes     # the picture, the strokes, and both

The validation writers' digits of pendigits (handwriting.pendigits.VALIDATION_WRITERS, never
trained on) are drawn as the page draws them, twice each (the page's default drawing and one
with random size, place, slant and pen, the same every run), sent through the server's own
preprocessing and classified by the model folder as the server runs it (LiteRT on a CPU). It
prints accuracy overall, per digit and per writer, the ten most frequent confusions, with a
contact sheet of examples (what the network saw), and the MNIST test accuracy; overall and on
MNIST also the network alone, without the server's test-time augmentation at the images it is unsure of
(model/service.py), with how many images got one. Any model
folder works, the committed one of any earlier version too, so before and after is one
command each.

With --strokes it measures instead the same drawings read with the strokes they were drawn with,
as the page sends them: the picture alone, the strokes alone (model/strokes.py) and both
combined, as DigitClassifier.predict_with_strokes serves them, per digit and per writer.
"""

import argparse
import os
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from handwriting.pendigits import (
    VALIDATION_WRITERS,
    accuracy_report,
    read_pendigits,
    split_by_writer,
    validation_drawings,
    validation_drawings_with_strokes,
)
from model.classifier import DigitClassifier
from model.loader import DEFAULT_MODEL_DIR

RESULTS = Path(__file__).resolve().parent / "results"
EXAMPLES_PER_CONFUSION = 8
ZOOM = 3


def percentages(named_values):
    return "  ".join(f"{name}: {value:.1%}" for name, value in named_values)


def contact_sheet(confusions, images, labels, predicted):
    """One row per confusion: 'true -> shown (count)' and examples of what the network saw."""
    cell = 28 * ZOOM + 4
    label_width = 110
    sheet = Image.new("L", (label_width + EXAMPLES_PER_CONFUSION * cell, len(confusions) * cell), 255)
    draw = ImageDraw.Draw(sheet)
    for row, ((true, shown), count) in enumerate(confusions):
        draw.text((6, row * cell + cell // 2 - 6), f"{true} read as {shown} ({count})", fill=0)
        examples = np.flatnonzero((labels == true) & (predicted == shown))[:EXAMPLES_PER_CONFUSION]
        for column, index in enumerate(examples):
            picture = ImageOps.invert(Image.fromarray(images[index])).resize((28 * ZOOM,) * 2)
            sheet.paste(picture, (label_width + column * cell + 2, row * cell + 2))
    return sheet


def without_test_time_augmentation(classifier, alone, labels):
    """A line with the accuracy of the network alone, and how many images the server would
    look at again."""
    looked_again = float((alone.max(axis=1) < classifier.tta_below).mean())
    return (f"  network alone {(alone.argmax(axis=1) == labels).mean():.2%}  (test-time augmentation of "
            f"{looked_again:.1%} of the images, those under {classifier.tta_below:.0%} sure)")


def loaded_classifier(parser, model_dir, **settings):
    """The model folder's classifier, loaded as the server loads it (with these DigitClassifier
    settings); the command stops with the reason if it does not load."""
    classifier = DigitClassifier(model_dir=model_dir, **settings)
    classifier.load()
    if not classifier.ready:
        parser.error(f"the model cannot be loaded: {classifier.load_error}")
    return classifier


def print_with_strokes(classifier, validation):
    """Accuracy with the picture alone, the strokes alone and both, through the classifier as
    served, on the validation writers' drawings and the strokes they were drawn with."""
    images, labels, writers, strokes = validation_drawings_with_strokes(validation)
    picture = classifier.predict(images)
    readings = {
        "picture": picture,
        "strokes": classifier.stroke_network.probabilities(strokes),
        "both": classifier.with_strokes(picture, strokes)[0],
    }
    print(f"Model {classifier.version} ({classifier.runtime}), stroke network {classifier.stroke_network.version} "
          f"(stroke weight {classifier.stroke_network.stroke_weight})")
    print(f"Validation writers {', '.join(map(str, VALIDATION_WRITERS))}: {len(validation):,} digits, "
          f"{len(labels):,} drawings with their strokes\n")
    for name, probabilities in readings.items():
        predicted = probabilities.argmax(axis=1)
        report = accuracy_report(labels, predicted, writers)
        worst = report["worst_writer"]
        print(f"{name:<8} overall {report['accuracy']:.2%} ({int((predicted != labels).sum())} wrong), "
              f"worst digit {min(report['per_digit']):.2%}, worst writer {report['per_writer'][worst]:.2%} "
              f"(writer {worst})")
        print("         per digit  " + percentages(enumerate(report["per_digit"])))
        print("         per writer " + percentages(sorted(report["per_writer"].items())))
        confusions = Counter((int(true), int(shown)) for true, shown in zip(labels, predicted) if true != shown)
        print("         confusions " + (", ".join(f"{true} -> {shown}: {count}"
                                                  for (true, shown), count in confusions.most_common(6)) or "none"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", default=DEFAULT_MODEL_DIR, help="the model to measure")
    parser.add_argument("--pendigits", default=os.environ.get("PENDIGITS_PATH"),
                        help="pendigits-orig.tra (default $PENDIGITS_PATH)")
    parser.add_argument("--data", default=os.environ.get("MNIST_PATH"),
                        help="mnist.npz for the MNIST test accuracy (default $MNIST_PATH)")
    parser.add_argument("--sheet", type=Path, default=RESULTS / "writer_confusions.png",
                        help="where to write the contact sheet of confusions")
    parser.add_argument("--strokes", action="store_true",
                        help="the picture alone, the strokes alone and both, per digit and per writer")
    arguments = parser.parse_args(argv)
    if not arguments.pendigits:
        parser.error("give --pendigits PATH or set PENDIGITS_PATH")

    classifier = loaded_classifier(parser, arguments.model_dir)
    _, validation = split_by_writer(read_pendigits(arguments.pendigits))
    if arguments.strokes:
        if not classifier.reads_strokes:
            parser.error(classifier.stroke_network_error)
        print_with_strokes(classifier, validation)
        return
    images, labels, writers = validation_drawings(validation)
    # LiteRT takes the whole set as one batch (a few megabytes of pixels).
    alone = classifier.network_alone(images)
    predicted = classifier.test_time_augmented(images, alone).argmax(axis=1)
    report = accuracy_report(labels, predicted, writers)

    print(f"Model {classifier.version} ({classifier.runtime}), {arguments.model_dir}")
    writer_names = ", ".join(map(str, VALIDATION_WRITERS))
    print(f"Validation writers {writer_names}: {len(validation):,} digits, "
          f"{report['images']:,} drawings\n")
    print(f"overall         {report['accuracy']:.2%}  ({int((labels != predicted).sum())} wrong)")
    print(without_test_time_augmentation(classifier, alone, labels))
    print("per digit       " + percentages(enumerate(report["per_digit"])))
    by_accuracy = sorted(report["per_writer"].items(), key=lambda item: item[1])
    (worst, lowest), (best, highest) = by_accuracy[0], by_accuracy[-1]
    median_writer, median = by_accuracy[len(by_accuracy) // 2]
    print(f"per writer      min {lowest:.2%} (writer {worst}), median {median:.2%} "
          f"(writer {median_writer}), max {highest:.2%} (writer {best})")
    print("                " + percentages(sorted(report["per_writer"].items())))

    confusions = Counter(
        (int(true), int(shown)) for true, shown in zip(labels, predicted) if true != shown
    ).most_common(10)
    listed = ", ".join(f"{true} -> {shown}: {count}" for (true, shown), count in confusions)
    print(f"\nmost frequent confusions (true -> read as: count): {listed or 'none'}")
    if confusions:
        arguments.sheet.parent.mkdir(parents=True, exist_ok=True)
        contact_sheet(confusions, images, labels, predicted).save(arguments.sheet)
        print(f"contact sheet of examples: {arguments.sheet}")

    if arguments.data:
        with np.load(arguments.data) as mnist:
            x_test, y_test = mnist["x_test"], mnist["y_test"]
        alone = classifier.network_alone(x_test)
        mnist_accuracy = float((classifier.test_time_augmented(x_test, alone).argmax(axis=1) == y_test).mean())
        errors = int(round((1 - mnist_accuracy) * len(y_test)))
        print(f"\nMNIST test      {mnist_accuracy:.2%}  ({errors} errors in {len(y_test):,})")
        print(without_test_time_augmentation(classifier, alone, y_test))
    else:
        print("\nMNIST test      not measured (give --data or set MNIST_PATH)")


if __name__ == "__main__":
    main()
