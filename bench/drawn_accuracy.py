"""Accuracy on digits drawn in a real Chromium, digitpad's preprocessing against the naive one.

    .venv/bin/python -m bench.drawn_accuracy [--model-dir model]

Every example in harness/strokes.py is drawn with mouse strokes on the page, at four sizes and
places (as drawn, small, large, small and off-centre). The digit the page shows is digitpad's
answer, and the probability it gave the right digit measures its margin; the canvas's own PNG
is then also shrunk whole to 28x28, as the original tutorial did, and given to the same network:
the naive answer on the very same drawing.
"""

import argparse
import logging
import tempfile

import numpy as np
from playwright.sync_api import sync_playwright

from bench.writer_accuracy import loaded_classifier
from harness.apps import serving_in_background
from harness.browser import DESKTOP, chromium_launch_options, draw_with_mouse, expect_state
from harness.strokes import STROKE_DIGITS
from model.loader import DEFAULT_MODEL_DIR
from model.preprocessing import decode_data_url, naive_resize

VARIANTS = {
    "as drawn": (1.0, (0.0, 0.0)),
    "small": (0.45, (0.0, 0.0)),
    "large": (1.3, (0.0, 0.0)),
    "small, off-centre": (0.45, (0.22, -0.2)),
}


def draw_every_example(page, classifier):
    """One record per drawing: variant, name, label, digit shown, its probability, naive digit."""
    answers = []
    page.on("response", lambda response: "/predict/" in response.url and answers.append(response))
    records = []
    for variant, (scale, offset) in VARIANTS.items():
        for name, label, strokes in STROKE_DIGITS:
            page.get_by_test_id("clear").click()
            draw_with_mouse(page, strokes, scale, offset)
            expect_state(page, "done")
            shown = page.get_by_test_id("prediction").text_content()
            probability = answers[-1].json()["probabilities"][label]
            canvas_png = decode_data_url(
                page.get_by_test_id("canvas").evaluate("canvas => canvas.toDataURL('image/png')")
            )
            naive = int(np.argmax(classifier.predict(naive_resize(canvas_png)[np.newaxis])[0]))
            records.append((variant, name, label, shown, probability, naive))
    return records


def print_row(title, records):
    count = len(records)
    ours = sum(shown == str(label) for _, _, label, shown, _, _ in records)
    naive = sum(naive == label for _, _, label, _, _, naive in records)
    probabilities = [probability for *_, probability, _ in records]
    print(f"{title:<20} {ours:>4}/{count} {ours / count:>4.0%} {naive:>6}/{count} "
          f"{naive / count:>4.0%}   {np.mean(probabilities):.3f}, {min(probabilities):.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", default=DEFAULT_MODEL_DIR, help="the model to measure")
    arguments = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    classifier = loaded_classifier(parser, arguments.model_dir)

    with (
        tempfile.TemporaryDirectory() as database_folder,
        serving_in_background(classifier, database_folder) as (url, _),
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(**chromium_launch_options())
        page = browser.new_page(viewport=DESKTOP)
        page.goto(url)
        records = draw_every_example(page, classifier)
        browser.close()

    print(f"{len(STROKE_DIGITS)} example digits drawn with the mouse in Chromium, "
          f"{len(VARIANTS)} ways each\n")
    print(f"{'drawn':<20} {'digitpad':>10} {'naive resize':>13}   digitpad's probability of the "
          "right digit: mean, lowest")
    for variant in VARIANTS:
        print_row(variant, [record for record in records if record[0] == variant])
    print_row("all", records)
    least_sure = sorted(records, key=lambda record: record[4])[:4]
    print("\nLeast sure of the right digit: " + "; ".join(
        f"{name} ({variant}) {probability:.3f}" for variant, name, _, _, probability, _ in least_sure))
    misses = [f"{name} ({variant}): shown {shown!r}"
              for variant, name, label, shown, _, _ in records if shown != str(label)]
    if misses:
        print("digitpad's misses: " + "; ".join(misses))


if __name__ == "__main__":
    main()
