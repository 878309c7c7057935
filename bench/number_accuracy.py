"""How well whole numbers are read: numbers written by writers the model never saw.

    .venv/bin/python -m bench.number_accuracy [--count 1000] [--writers validation|training]
        [--form page|large|small|photo] [--strokes]

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

`--strokes` sends each number three ways, as the page will: its PNG alone, and as JSON with the
strokes it was drawn with (handwriting.numbers.sent_strokes), read once by the image network
alone on the stroke groups and once by the served classifier (with the stroke network where it
is loaded): exact and count accuracy of each side by side, so that the grouping's gain is told
from the stroke network's.
"""

import argparse
import base64
import copy
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from app import create_app
from bench.writer_accuracy import loaded_classifier
from handwriting.numbers import GAPS, by_writer_and_label, numbers_for_writers, sent_strokes
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


def with_strokes(number, rng):
    """The JSON body the page sends for a written number: its PNG and the strokes it drew."""
    png = base64.b64encode(encode(number.image)).decode("ascii")
    return {"image": f"data:image/png;base64,{png}",
            "strokes": [stroke.tolist() for stroke in sent_strokes(number, rng)]}


def strokes_compared(classifier, numbers, seed, make_app):
    """Each number read from its PNG alone, with its strokes by the image network alone, and with
    its strokes by `classifier` (with the stroke network where it is loaded), through an app each
    (`make_app(classifier)`): (exact, counted, server times) by the way read, then by row key,
    and the misread with strokes."""
    image_alone = copy.copy(classifier)
    image_alone.stroke_network = None  # the same networks, but the stroke network's
    clients = {"strokes": make_app(classifier).test_client(), "strokes, image network": make_app(image_alone).test_client()}
    clients["pixels"] = clients["strokes"]
    rng = np.random.default_rng(seed)
    exact, counted = defaultdict(lambda: defaultdict(list)), defaultdict(lambda: defaultdict(list))
    milliseconds, misread = defaultdict(lambda: defaultdict(list)), []
    for number in numbers:
        body = with_strokes(number, rng)
        for way, client in clients.items():
            if way == "pixels":
                response = client.post("/predict/number", data=encode(number.image), content_type="image/png")
            else:
                response = client.post("/predict/number", json=body)
            answer = response.get_json()
            length = len(number.text)
            milliseconds[way][length].append(server_milliseconds(response))
            for key in ("all", f"{length} digits", f"{number.gap} gaps"):
                exact[way][key].append(answer["number"] == number.text)
                counted[way][key].append(len(answer["number"]) == length)
            if way == "strokes" and answer["number"] != number.text:
                misread.append((number, answer))
            if way != "pixels":
                exact[way]["read from pixels"].append(answer["read_from"] == "pixels")
    return exact, counted, milliseconds, misread


def print_strokes_compared(exact, counted, milliseconds, reads_strokes):
    ways = ["pixels", "strokes, image network"] + (["strokes"] if reads_strokes else [])
    names = {"pixels": "pixels alone", "strokes, image network": "strokes, image network alone",
             "strokes": "strokes, both networks"}
    print(f"{'':16} " + "  ".join(f"{names[way]:>30}" for way in ways))
    print(f"{'':16} " + "  ".join(f"{'exact':>22} {'count':>7}" for _ in ways) + "  numbers")
    keys = ["all"] + [f"{length} digits" for length in range(2, 7)] + [f"{gap} gaps" for gap in GAPS]
    for key in keys:
        print(f"{key:16} " + "  ".join(f"{share(exact[way][key]):>22} {share(counted[way][key])}" for way in ways)
              + f"  {len(exact['pixels'][key]):>7,}")
    if not reads_strokes:
        print("(the stroke network is not loaded: the served classifier reads with the image network alone)")
    for way in ways[1:]:
        print(f"{names[way]}: {np.mean(exact[way]['read from pixels']):.1%} read from the pixels "
              "(strokes that did not match the image)")
    for way in ways:
        print(f"{names[way]}, server time (Server-Timing), ms: " + "  ".join(
            f"{length} digits p50 {np.median(times):.2f} p90 {np.percentile(times, 90):.2f}"
            for length, times in sorted(milliseconds[way].items())))


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


def arguments_parser():
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
    parser.add_argument("--strokes", action="store_true",
                        help="compare reading each number from its PNG alone and with its strokes (page form only)")
    parser.add_argument("--plain", action="store_true",
                        help="measure the plain approach (connected ink grouped where it overlaps) instead")
    parser.add_argument("--sheet", type=Path, default=RESULTS / "number_misreads.png",
                        help="where to write the contact sheet of misread numbers")
    parser.add_argument("--threads", type=int, default=None,
                        help="LiteRT threads for a number's candidate digits "
                             "(DIGITPAD_NUMBER_INFERENCE_THREADS; default: the server's)")
    return parser


def main(argv=None):
    parser = arguments_parser()
    arguments = parser.parse_args(argv)
    if not arguments.pendigits:
        parser.error("give --pendigits PATH or set PENDIGITS_PATH")
    if arguments.strokes and (arguments.plain or arguments.form != "page"):
        parser.error("--strokes measures the page's form with the reader: leave out --plain and --form")

    classifier = loaded_classifier(parser, arguments.model_dir, number_inference_threads=arguments.threads)
    with tempfile.TemporaryDirectory() as folder:
        def make_app(served):
            return create_app({
                "CLASSIFIER": served, "RATE_LIMIT": "",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/unused.sqlite3",
            })

        client = make_app(classifier).test_client()

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
        if arguments.strokes:
            *compared, misread = strokes_compared(classifier, numbers, arguments.seed, make_app)
            print_strokes_compared(*compared, classifier.reads_strokes)
            write_sheet(misread, arguments.sheet)
            return
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
    write_sheet(misread, arguments.sheet)


def write_sheet(misread, path):
    if misread:
        path.parent.mkdir(parents=True, exist_ok=True)
        misread_sheet(misread[:SHEET_ROWS]).save(path)
        print(f"contact sheet of the first {min(len(misread), SHEET_ROWS)} misread: {path}")


if __name__ == "__main__":
    main()
