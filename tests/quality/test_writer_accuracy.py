"""bench/writer_accuracy.py on a few pen digits by validation writers, with the committed model."""

import numpy as np
from PIL import Image

from bench import writer_accuracy
from handwriting.pendigits import VALIDATION_WRITERS
from harness.strokes import pen_digit_text


def test_report_names_writers_confusions_and_mnist(tmp_path, capsys):
    # Three writers: two validation writers, whose digits are measured, and one that is not.
    one = [[(250, 450), (250, 50)]]  # a plain vertical stroke
    seven = [[(100, 450), (400, 450), (200, 50)]]  # a seven with no crossbar
    # The last is labelled 7 but drawn as a one: a confusion the report must show.
    examples = [(1, one), (7, seven), (7, one)]
    digits = [
        pen_digit_text(label, writer, strokes)
        for writer in (*VALIDATION_WRITERS[:2], 3)
        for label, strokes in examples
    ]
    pendigits = tmp_path / "pendigits-orig.tra"
    pendigits.write_text("\n".join(digits) + "\n")
    mnist = tmp_path / "mnist.npz"
    x_test = np.zeros((20, 28, 28), dtype=np.uint8)
    x_test[:, 4:24, 13:15] = 255  # twenty ones
    np.savez_compressed(mnist, x_test=x_test, y_test=np.ones(20, dtype=np.uint8))
    sheet = tmp_path / "sheet.png"

    writer_accuracy.main(["--pendigits", str(pendigits), "--data", str(mnist), "--sheet", str(sheet)])

    printed = capsys.readouterr().out
    assert "6 digits, 12 drawings" in printed
    assert f"writer {VALIDATION_WRITERS[0]}" in printed
    assert "per digit" in printed and "per writer" in printed
    assert "MNIST test      100.00%" in printed
    assert printed.count("network alone") == 2 and "test-time augmentation of" in printed
    assert "7 -> 1: 4" in printed  # two writers, two drawings each
    assert Image.open(sheet).size[1] >= 28
