"""bench/number_accuracy.py: the forms a number is sent in, and a short run of the benchmark."""

import io
import re

import numpy as np
from PIL import Image

from bench import number_accuracy
from handwriting.numbers import GAPS, write_digits
from handwriting.render import encode
from harness.strokes import strokes_named

NAMES = ["2-plain", "0-oval", "3-round", "7-plain"]


def test_a_photographed_number_is_grey_paper_with_darker_ink_and_reads_as_drawn(client):
    number = write_digits([strokes_named(name) for name in NAMES], "2037", [0.3, 0.25, 0.3],
                          image_height=number_accuracy.FORMS["photo"][1])
    data, content_type = number_accuracy.sent_as(number, "photo", np.random.default_rng(0))
    photo = Image.open(io.BytesIO(data))
    assert (photo.format, content_type, photo.size) == ("JPEG", "image/jpeg", number.image.size)
    pixels = np.asarray(photo.convert("L"), dtype=np.float64)
    drawn = np.asarray(number.image) < 128
    paper, ink = np.median(pixels[~drawn]), np.median(pixels[drawn])
    assert 150 <= paper <= 250 and 30 <= ink <= 90  # grey paper, dark grey ink: not the page's black on white
    assert pixels[~drawn].std() > 5  # unevenly lit and noisy
    for sent, kind in ((data, content_type), (encode(number.image), "image/png")):
        assert client.post("/predict/number", data=sent, content_type=kind).get_json()["number"] == "2037"


def test_the_benchmark_sends_numbers_in_the_form_asked(pendigits_file, tmp_path, capsys):
    # 20 numbers: every length (2-6) with every kind of gap.
    number_accuracy.main(["--pendigits", str(pendigits_file), "--count", "20", "--form", "large",
                          "--sheet", str(tmp_path / "sheet.png")])
    printed = capsys.readouterr().out
    assert "20 numbers of 2-6 digits by the validation writers" in printed
    assert "sent as large: PNG drawn three times as large" in printed and "1008 x 336" in printed
    rows = ["all", *(f"{length} digits" for length in range(2, 7)), *(f"{gap} gaps" for gap in GAPS)]
    for row in rows:  # exact and count
        assert re.search(rf"^{row} +[0-9.]+% +[0-9.]+% +[0-9]+$", printed, re.MULTILINE), row
    assert "server time (Server-Timing), ms: 2 digits p50" in printed


def test_the_benchmark_compares_numbers_read_with_and_without_their_strokes(pendigits_file, tmp_path, capsys):
    number_accuracy.main(["--pendigits", str(pendigits_file), "--count", "20", "--strokes",
                          "--sheet", str(tmp_path / "sheet.png")])
    printed = capsys.readouterr().out
    ways = 3 if "strokes, both networks" in printed else 2
    for row in ["all", *(f"{length} digits" for length in range(2, 7)), *(f"{gap} gaps" for gap in GAPS)]:
        # exact and count, for the pixels alone and each way with strokes
        assert re.search(rf"^{row} +(?:[0-9.]+% +[0-9.]+% +){{{ways}}}[0-9]+$", printed, re.MULTILINE), row
    assert "strokes, image network alone: 0.0% read from the pixels" in printed
    assert "pixels alone, server time (Server-Timing), ms: 2 digits p50" in printed
