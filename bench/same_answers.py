"""The served answers, recorded to be compared byte for byte across a change of the code.

    python -m bench.same_answers inputs OUT.npz [--digits 300 --numbers 100]  # drawings to send
    python -m bench.same_answers record INPUTS.npz OUT.json   # the answers of the code on the path
    python -m bench.same_answers compare A.json B.json       # every answer the same to the byte?

The drawings are the validation writers' digits drawn as the page draws them (half with random
variety: size, place, slant, pen, image size) and their numbers on the number pad. `record`
imports nothing but the app factory, so the same inputs can be recorded by an older checkout
(`PYTHONPATH=OLD_CHECKOUT python -m bench.same_answers record ...`, run from that checkout).
"""

import argparse
import base64
import hashlib
import json
import os
import sys
import tempfile
import time

import numpy as np

BATCH_SIZE = 50


def make_inputs(arguments):
    from handwriting.datasets import pendigits_path
    from handwriting.numbers import by_writer_and_label, numbers_for_writers
    from handwriting.pendigits import PAGE_DRAWING, draw, random_drawing, read_pendigits, split_by_writer
    from handwriting.render import encode

    _, validation = split_by_writer(read_pendigits(pendigits_path(arguments.pendigits)))
    rng = np.random.default_rng(arguments.seed)
    chosen = rng.choice(len(validation), size=arguments.digits, replace=False)
    digits = [
        encode(draw(validation[index], PAGE_DRAWING if order % 2 == 0 else random_drawing(rng)))
        for order, index in enumerate(chosen)
    ]
    numbers = [encode(number.image) for number in
               numbers_for_writers(by_writer_and_label(validation), arguments.numbers, seed=arguments.seed)]
    np.savez_compressed(arguments.out, digits=np.array(digits, dtype=object),
                        numbers=np.array(numbers, dtype=object))
    print(f"Wrote {len(digits)} digits and {len(numbers)} numbers to {arguments.out}")


def data_url(png):
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def record(arguments):
    # The served model as a fresh server loads it: the committed model/, no registry.
    os.environ["DIGITPAD_MODEL_POLL_SECONDS"] = "0"
    from app import create_app

    with np.load(arguments.inputs, allow_pickle=True) as inputs:
        digits, numbers = list(inputs["digits"]), list(inputs["numbers"])
    database = tempfile.mkdtemp(prefix="same-answers-")
    app = create_app({"TESTING": True, "RATE_LIMIT": "", "CORRECTIONS_RATE_LIMIT": "", "BATCH_RATE_LIMIT": "", "CORRECTIONS_QUOTA": "",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}/answers.sqlite3"})
    client = app.test_client()
    deadline = time.monotonic() + 120
    while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    answers = {"predict": [], "predict_png": [], "number": [], "batch": []}
    for png in digits:
        answers["predict"].append(client.post("/predict/", json={"image": data_url(png)}).get_data(as_text=True))
        answers["predict_png"].append(
            client.post("/predict/", data=png, content_type="image/png").get_data(as_text=True))
    for png in numbers:
        answers["number"].append(client.post("/predict/number", json={"image": data_url(png)}).get_data(as_text=True))
    for start in range(0, len(digits), BATCH_SIZE):
        images = [data_url(png) for png in digits[start : start + BATCH_SIZE]]
        answers["batch"].append(client.post("/predict/batch", json={"images": images}).get_data(as_text=True))
    with open(arguments.out, "w") as out:
        json.dump(answers, out)
    digest = hashlib.sha256(json.dumps(answers, sort_keys=True).encode()).hexdigest()
    print(f"Recorded {sum(map(len, answers.values()))} answers to {arguments.out}: sha256 {digest[:16]}")


def compare(arguments):
    with open(arguments.first) as first, open(arguments.second) as second:
        a, b = json.load(first), json.load(second)
    differing = 0
    for route in a:
        same = sum(x == y for x, y in zip(a[route], b[route]))
        total = max(len(a[route]), len(b[route]))
        differing += total - same
        print(f"{route:>12}: {same} of {total} answers the same to the byte")
    print("every answer the same" if differing == 0 else f"{differing} answers differ")
    return 1 if differing else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    inputs = commands.add_parser("inputs")
    inputs.add_argument("out")
    inputs.add_argument("--pendigits", default=os.environ.get("PENDIGITS_PATH"))
    inputs.add_argument("--digits", type=int, default=300)
    inputs.add_argument("--numbers", type=int, default=100)
    inputs.add_argument("--seed", type=int, default=5)
    recorded = commands.add_parser("record")
    recorded.add_argument("inputs")
    recorded.add_argument("out")
    compared = commands.add_parser("compare")
    compared.add_argument("first")
    compared.add_argument("second")
    arguments = parser.parse_args(argv)
    return {"inputs": make_inputs, "record": record, "compare": compare}[arguments.command](arguments) or 0


if __name__ == "__main__":
    sys.exit(main())
