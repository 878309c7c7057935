"""How well whole numbers are read: numbers written by writers the model never saw.

    .venv/bin/python -m bench.number_accuracy [--count 1000] [--writers validation|training]
        [--form page|large|small|photo]

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

`--form` sends the same numbers as another program or a camera would (FORMS): drawn three times
as large or half as large, or photographed, since an image alone is what the reader must read.
"""

import argparse
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from app import create_app
from bench.writer_accuracy import loaded_classifier
from handwriting.numbers import GAPS, by_writer_and_label, numbers_for_writers
from handwriting.pendigits import read_pendigits, split_by_writer
from handwriting.render import SENT_SIZE, encode
from model.loader import DEFAULT_MODEL_DIR
from model.numbers import measure_line
from model.preprocessing import ink_of, to_mnist

RESULTS = Path(__file__).resolve().parent / "results"
SHEET_ROWS = 24
# How each number is sent, and the height it is drawn at (its width is three times that).
FORMS = {
    "page": ("PNG, as the page sends it", SENT_SIZE),
    "large": ("PNG drawn three times as large, as from another program or a larger screen", 3 * SENT_SIZE),
    "small": ("PNG drawn half as large", SENT_SIZE // 2),
    "photo": ("JPEG of a photo of it (photographed), three times as large", 3 * SENT_SIZE),
}
PHOTO_QUALITY = 80


def photographed(image, rng):
    """A black-on-white drawing as a phone's photo of ink on paper: a little out of focus, the
    paper grey and lit unevenly (brighter towards one corner), the ink dark grey, sensor noise."""
    ink = 1.0 - np.asarray(image.filter(ImageFilter.GaussianBlur(image.height / 300)), dtype=np.float64) / 255.0
    height, width = ink.shape
    across, down = np.linspace(0.0, 1.0, width), np.linspace(0.0, 1.0, height)
    if rng.integers(2):
        across = across[::-1]
    paper = rng.uniform(150, 200) + rng.uniform(20, 50) * np.outer(0.5 + 0.5 * down, across)
    pixels = paper * (1.0 - ink) + rng.uniform(30, 80) * ink + rng.normal(0.0, 6.0, ink.shape)
    return Image.fromarray(pixels.clip(0, 255).round().astype(np.uint8))


def sent_as(number, form, rng):
    """(the bytes, their content type) of a written number sent in the form named (FORMS)."""
    if form == "photo":
        return encode(photographed(number.image, rng), format="JPEG", quality=PHOTO_QUALITY), "image/jpeg"
    return encode(number.image), "image/png"


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
    parser.add_argument("--form", choices=tuple(FORMS), default="page",
                        help="how each number is sent: " + "; ".join(f"{name}: {description}"
                                                                  for name, (description, _) in FORMS.items()))
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
        description, image_height = FORMS[arguments.form]
        numbers = numbers_for_writers(by_writer_and_label(digits), arguments.count, arguments.seed,
                                      image_height=image_height)
        writers = sorted({digit.writer for digit in digits})
        print(f"Model {classifier.version} ({classifier.number_inference_threads} LiteRT threads for "
              f"a number's candidates); {len(numbers):,} numbers of 2-6 digits by the {arguments.writers} "
              f"writers ({', '.join(map(str, writers))}), composed in {time.monotonic() - started:.0f} s; "
              f"sent as {arguments.form}: {description}, {numbers[0].image.width} x {image_height}\n")
        photo_rng = np.random.default_rng(arguments.seed)

        exact, counted = defaultdict(list), defaultdict(list)
        milliseconds = defaultdict(list)
        misread = []
        for number in numbers:
            data, content_type = sent_as(number, arguments.form, photo_rng)
            if arguments.plain:
                started = time.perf_counter()
                answer = {"number": plain_reading(classifier, data), "digits": []}
                milliseconds[len(number.text)].append((time.perf_counter() - started) * 1000)
            else:
                response = client.post("/predict/number", data=data, content_type=content_type)
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
