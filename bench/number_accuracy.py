"""How well whole numbers are read: numbers written by writers the model never saw.

    .venv/bin/python -m bench.number_accuracy [--count 1000] [--writers validation|training]

Numbers of 2 to 6 digits are composed from one writer's pen digits each
(handwriting.numbers: one slant and pen a number, a drifting baseline, gaps between the inks
from wide to touching, every length and kind of gap equally often, the same every run), drawn
as the page draws them on its number pad and posted to /predict/number as a PNG, through the
app as it serves (the Flask app in this process, its Server-Timing header read for the
server's time). By default the writers are the validation writers, never trained on; the
segmentation's settings were chosen on the training writers (`--writers training`), whose
digits the network has seen, so the validation figures are not tuned to. Prints exact-number
and digit-count accuracy, overall, by length and by gap, the server's time by length, and
writes a contact sheet of misread numbers. `--plain` measures instead the plain approach the
reader replaced: connected ink, pieces that overlap left to right grouped into one digit, each
group read by the network as a lone digit.
"""

import argparse
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from app import create_app
from bench.writer_accuracy import loaded_classifier
from handwriting.numbers import GAPS, by_writer_and_label, numbers_for_writers
from handwriting.pendigits import read_pendigits, split_by_writer
from handwriting.render import encode
from model.loader import DEFAULT_MODEL_DIR
from model.numbers import measure_line
from model.preprocessing import ink_of, to_mnist

RESULTS = Path(__file__).resolve().parent / "results"
SHEET_ROWS = 24


def server_milliseconds(response):
    """The app's own time for the request, from its Server-Timing header (app;dur=...)."""
    return float(response.headers["Server-Timing"].split("dur=")[1])


def share(hits):
    return f"{np.mean(hits):6.1%}" if hits else "     -"


def misread_sheet(misread):
    """The misread numbers with what was read and the boxes found, one a row."""
    width = max(number.image.width for number, _ in misread)
    height = max(number.image.height for number, _ in misread) + 14
    sheet = Image.new("RGB", (width, height * len(misread)), "white")
    for row, (number, answer) in enumerate(misread):
        picture = number.image.convert("RGB")
        draw = ImageDraw.Draw(picture)
        for x, y, box_width, box_height in (digit["box"] for digit in answer["digits"]):
            draw.rectangle([x, y, x + box_width - 1, y + box_height - 1], outline=(220, 0, 0))
        sheet.paste(picture, (0, row * height + 14))
        ImageDraw.Draw(sheet).text(
            (2, row * height), f"{number.text} read as {answer['number'] or '(nothing)'}, {number.gap} gaps",
            fill=(0, 0, 160),
        )
    return sheet


def plain_reading(classifier, data):
    """The number as the plain approach reads it: connected ink grouped where it overlaps left to
    right, each group brought to MNIST's form and read."""
    ink = ink_of(data)
    line = measure_line(ink)
    if line is None:
        return ""
    groups = []
    for rows, columns, values in sorted(line.strokes, key=lambda stroke: stroke[1].min()):
        if groups and columns.min() <= groups[-1]["right"]:
            groups[-1]["strokes"].append((rows, columns, values))
            groups[-1]["right"] = max(groups[-1]["right"], columns.max())
        else:
            groups.append({"strokes": [(rows, columns, values)], "right": columns.max()})
    digits = []
    for group in groups:
        alone = np.zeros_like(ink)
        for rows, columns, values in group["strokes"]:
            alone[rows, columns] = values
        digits.append(to_mnist(alone))
    return "".join(str(digit) for digit in classifier.predict(np.stack(digits)).argmax(axis=1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", default=DEFAULT_MODEL_DIR, help="the model to measure")
    parser.add_argument("--pendigits", default=os.environ.get("PENDIGITS_PATH"),
                        help="pendigits-orig.tra (default $PENDIGITS_PATH)")
    parser.add_argument("--writers", choices=("validation", "training"), default="validation",
                        help="whose digits the numbers are made of (default: the validation writers)")
    parser.add_argument("--count", type=int, default=1000, help="how many numbers (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plain", action="store_true",
                        help="measure the plain approach (connected ink grouped where it overlaps) instead")
    parser.add_argument("--sheet", type=Path, default=RESULTS / "number_misreads.png",
                        help="where to write the contact sheet of misread numbers")
    parser.add_argument("--threads", type=int, default=None,
                        help="LiteRT threads for a number's candidate digits "
                             "(DIGITPAD_NUMBER_INFERENCE_THREADS; default: the server's)")
    arguments = parser.parse_args(argv)
    if not arguments.pendigits:
        parser.error("give --pendigits PATH or set PENDIGITS_PATH")

    classifier = loaded_classifier(parser, arguments.model_dir, number_inference_threads=arguments.threads)
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({
            "CLASSIFIER": classifier, "RATE_LIMIT": "",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/unused.sqlite3",
        })
        client = app.test_client()

        training, validation = split_by_writer(read_pendigits(arguments.pendigits))
        digits = validation if arguments.writers == "validation" else training
        started = time.monotonic()
        numbers = numbers_for_writers(by_writer_and_label(digits), arguments.count, arguments.seed)
        writers = sorted({digit.writer for digit in digits})
        print(f"Model {classifier.version} ({classifier.number_inference_threads} LiteRT threads for "
              f"a number's candidates); {len(numbers):,} numbers of 2-6 digits by the {arguments.writers} "
              f"writers ({', '.join(map(str, writers))}), composed in {time.monotonic() - started:.0f} s\n")

        exact, counted = defaultdict(list), defaultdict(list)
        milliseconds = defaultdict(list)
        misread = []
        for number in numbers:
            if arguments.plain:
                started = time.perf_counter()
                answer = {"number": plain_reading(classifier, encode(number.image)), "digits": []}
                milliseconds[len(number.text)].append((time.perf_counter() - started) * 1000)
            else:
                response = client.post("/predict/number", data=encode(number.image), content_type="image/png")
                answer = response.get_json()
                milliseconds[len(number.text)].append(server_milliseconds(response))
            length = len(number.text)
            right, right_count = answer["number"] == number.text, len(answer["number"]) == length
            for key in ("all", f"{length} digits", f"{number.gap} gaps"):
                exact[key].append(right)
                counted[key].append(right_count)
            if not right:
                misread.append((number, answer))

    print(f"{'':16} {'exact':>7} {'count':>7}  numbers")
    keys = ["all"] + [f"{length} digits" for length in range(2, 7)] + [f"{gap} gaps" for gap in GAPS]
    for key in keys:
        print(f"{key:16} {share(exact[key])} {share(counted[key])}  {len(exact[key]):>7,}")
    print(f"\n{'time in process' if arguments.plain else 'server time (Server-Timing)'}, ms: " + "  ".join(
        f"{length} digits p50 {np.median(times):.2f} p90 {np.percentile(times, 90):.2f}"
        for length, times in sorted(milliseconds.items())
    ))
    if misread:
        arguments.sheet.parent.mkdir(parents=True, exist_ok=True)
        misread_sheet(misread[:SHEET_ROWS]).save(arguments.sheet)
        print(f"contact sheet of the first {min(len(misread), SHEET_ROWS)} misread: {arguments.sheet}")


if __name__ == "__main__":
    main()
