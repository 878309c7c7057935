"""Accuracy on digits drawn in a real Chromium, digitpad's preprocessing against the naive one.

    .venv/bin/python -m bench.drawn_accuracy [--model-dir model]

Every example in tests/strokes.py is drawn with mouse strokes on the page, at four sizes and
places (as drawn, small, large, small and off-centre). The digit the page shows is digitpad's
answer, and the probability it gave the right digit measures its margin; the canvas's own PNG
is then also shrunk whole to 28x28, as the original tutorial did, and given to the same network:
the naive answer on the very same drawing.
"""

import argparse
import logging
import threading
from collections import defaultdict

import numpy as np
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

from app import create_app
from model.loader import DEFAULT_MODEL_DIR
from model.preprocessing import decode_data_url, naive_resize
from model.service import DigitClassifier
from tests.conftest import CHROMIUM_FLAGS, DEBIAN_CHROMIUM
from tests.strokes import STROKE_DIGITS
from tests.test_e2e import draw_with_mouse

VARIANTS = {
    "as drawn": (1.0, (0.0, 0.0)),
    "small": (0.45, (0.0, 0.0)),
    "large": (1.3, (0.0, 0.0)),
    "small, off-centre": (0.45, (0.22, -0.2)),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", default=DEFAULT_MODEL_DIR, help="the model to measure")
    arguments = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    classifier = DigitClassifier(model_dir=arguments.model_dir)
    classifier.load()
    application = create_app({"CLASSIFIER": classifier, "RATE_LIMIT": ""})
    server = make_server("127.0.0.1", 0, application, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    correct = defaultdict(lambda: [0, 0])  # variant -> [digitpad, naive]
    right_probabilities = defaultdict(list)  # variant -> digitpad's probability of the label
    least_sure = []  # (probability of the label, drawing)
    misses = []
    with sync_playwright() as playwright:
        launch = {"executable_path": str(DEBIAN_CHROMIUM), "args": CHROMIUM_FLAGS} if DEBIAN_CHROMIUM.exists() else {}
        browser = playwright.chromium.launch(**launch)
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        answers = []
        page.on("response", lambda response: answers.append(response) if "/predict/" in response.url else None)
        page.goto(f"http://127.0.0.1:{server.server_port}/")
        for variant, (scale, offset) in VARIANTS.items():
            for name, label, strokes in STROKE_DIGITS:
                page.get_by_test_id("clear").click()
                draw_with_mouse(page, strokes, scale, offset)
                expect(page.locator("body")).to_have_attribute("data-state", "done")
                shown = page.get_by_test_id("prediction").text_content()
                probability = answers[-1].json()["probabilities"][label]
                right_probabilities[variant].append(probability)
                least_sure.append((probability, f"{name} ({variant})"))
                canvas_png = decode_data_url(
                    page.get_by_test_id("canvas").evaluate("canvas => canvas.toDataURL('image/png')")
                )
                naive = int(np.argmax(classifier.predict(naive_resize(canvas_png)[np.newaxis])[0]))
                correct[variant][0] += shown == str(label)
                correct[variant][1] += naive == label
                if shown != str(label):
                    misses.append(f"{name} ({variant}): shown {shown!r}")
        browser.close()
    server.shutdown()

    count = len(STROKE_DIGITS)
    print(f"{count} example digits drawn with the mouse in Chromium, {len(VARIANTS)} ways each\n")
    print(f"{'drawn':<20} {'digitpad':>10} {'naive resize':>13}   digitpad's probability of the "
          "right digit: mean, lowest")
    for variant, (ours, naive) in correct.items():
        probabilities = right_probabilities[variant]
        print(f"{variant:<20} {ours:>4}/{count} {ours / count:>4.0%} {naive:>6}/{count} "
              f"{naive / count:>4.0%}   {np.mean(probabilities):.3f}, {min(probabilities):.3f}")
    total = count * len(VARIANTS)
    ours = sum(value[0] for value in correct.values())
    naive = sum(value[1] for value in correct.values())
    probabilities = [value for values in right_probabilities.values() for value in values]
    print(f"{'all':<20} {ours:>4}/{total} {ours / total:>4.0%} {naive:>6}/{total} "
          f"{naive / total:>4.0%}   {np.mean(probabilities):.3f}, {min(probabilities):.3f}")
    print("\nLeast sure of the right digit: " + "; ".join(
        f"{drawing} {probability:.3f}" for probability, drawing in sorted(least_sure)[:4]))
    if misses:
        print("digitpad's misses: " + "; ".join(misses))


if __name__ == "__main__":
    main()
