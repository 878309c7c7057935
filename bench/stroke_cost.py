"""What reading the strokes costs a request: one drawing classified with its strokes and without.

    python -m bench.stroke_cost [--repeats 300]

Drawn digits of harness/strokes.py (each style of every digit), sent as the page sends them: the
112-pixel PNG and its strokes in that image's pixels with times. In one process, on the
committed model and stroke network, the two ways alternate drawing by drawing, so that the
machine's other load falls on both alike; it prints the medians and their ratio for the whole
classify() (decode, preprocess, network(s), answer) and for the networks alone
(predict() against predict_with_strokes()), then the parts the strokes add: pen_trajectory and
one LiteRT prediction of one trajectory. Last, whole requests: `POST /predict/` with JSON, the
image alone against the image and its strokes, through the app (Flask's test client: the
strokes' parsing and checks included, no sockets), rate limits off.
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.personal_accuracy import data_url, new_app
from handwriting.pendigits import timed
from handwriting.render import SENT_SIZE
from harness.strokes import STROKE_DIGITS, encode, render
from model.classifier import DigitClassifier
from model.strokes import pen_trajectory


def milliseconds(function):
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def interleaved(pairs, repeats):
    """Median milliseconds of each of the two functions of every pair, called in turn."""
    without, with_strokes = [], []
    for index in range(repeats):
        alone, both = pairs[index % len(pairs)]
        without.append(milliseconds(alone))
        with_strokes.append(milliseconds(both))
    return statistics.median(without), statistics.median(with_strokes)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=300, help="timings of each way (default 300)")
    arguments = parser.parse_args(argv)
    classifier = DigitClassifier()
    classifier.load()
    if not classifier.reads_strokes:
        parser.error(classifier.stroke_network_error or classifier.load_error)
    drawings = [
        (encode(render(strokes)), timed([np.asarray(stroke) * SENT_SIZE for stroke in strokes]))
        for _, _, strokes in STROKE_DIGITS
    ]
    digits = [(classifier.preprocess(png)[np.newaxis], strokes) for png, strokes in drawings]
    for png, strokes in drawings:  # warm-up: every path taken once
        classifier.classify(png), classifier.classify(png, strokes=strokes)

    print(f"Model {classifier.version}, stroke network {classifier.stroke_network.version}; "
          f"{len(drawings)} drawings, {arguments.repeats} timings each way, interleaved")
    for name, pairs in (
        ("classify()", [(lambda png=png: classifier.classify(png),
                         lambda png=png, strokes=strokes: classifier.classify(png, strokes=strokes))
                        for png, strokes in drawings]),
        ("networks", [(lambda digit=digit: classifier.predict(digit),
                       lambda digit=digit, strokes=strokes: classifier.predict_with_strokes(digit, [strokes]))
                      for digit, strokes in digits]),
    ):
        without, with_strokes = interleaved(pairs, arguments.repeats)
        print(f"{name:<11} without strokes {without:.3f} ms, with strokes {with_strokes:.3f} ms: "
              f"{with_strokes / without:.2f}x")
    trajectory_ms, network_ms = [], []
    for index in range(arguments.repeats):
        strokes = drawings[index % len(drawings)][1]
        trajectory_ms.append(milliseconds(lambda strokes=strokes: pen_trajectory(strokes)))
        trajectory = pen_trajectory(strokes)[np.newaxis]
        network_ms.append(milliseconds(lambda trajectory=trajectory: classifier.stroke_network(trajectory)))
    trajectory_ms, network_ms = statistics.median(trajectory_ms), statistics.median(network_ms)
    print(f"of which    pen_trajectory {trajectory_ms:.3f} ms, the stroke network on LiteRT "
          f"{network_ms:.3f} ms per trajectory (one thread)")
    requests_compared(drawings, arguments.repeats)


def requests_compared(drawings, repeats):
    """Whole /predict/ requests through the app: JSON with the image alone, and with its strokes."""
    with tempfile.TemporaryDirectory() as folder:
        client = new_app(Path(folder)).test_client()
        # Serialised once: what the client spends on its JSON is not the server's cost.
        bodies = [(json.dumps({"image": data_url(png)}),
                   json.dumps({"image": data_url(png), "strokes": [stroke.round(1).tolist() for stroke in strokes]}))
                  for png, strokes in drawings]

        def post(body):
            return client.post("/predict/", data=body, content_type="application/json")

        for alone, both in bodies:  # warm-up
            assert post(alone).status_code == 200 and post(both).get_json()["networks"] == ["image", "strokes"]
        without, with_strokes = interleaved(
            [(lambda body=alone: post(body), lambda body=both: post(body)) for alone, both in bodies], repeats)
    points = statistics.median(sum(len(stroke) for stroke in strokes) for _, strokes in drawings)
    print(f"{'/predict/':<11} without strokes {without:.3f} ms, with strokes ({points:.0f} points) "
          f"{with_strokes:.3f} ms: {with_strokes / without:.2f}x")


if __name__ == "__main__":
    main()
