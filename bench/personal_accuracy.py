"""Personal examples: does a writer's own correcting make their next digits read right?

    python -m bench.personal_accuracy [--pendigits PATH] [--grid]

Each validation writer (never trained on) is one browser session with a writer token: the app
as the factory makes it, on a fresh SQLite database, through its HTTP routes. The writer's
digits (each drawn twice: the page's default and one with random size, place, slant and pen)
are split in two, every digit in both halves, both drawings of a pen digit on the same side.
First half, in the writer's order: predict; correct each wrong answer ("wrong", the right
digit); confirm every fifth right one ("right"). Second half: read each drawing with the
writer's token and without. Printed per writer: corrections made, accuracy without and with,
then overall, the worst writer, per digit, the cost of a prediction with a token against one
without (medians over interleaved requests, in one process), and whether the anonymous answers
moved at all (every byte compared with a server that never saw a correction).

--grid instead replays the same sessions in one process for several settings of the blend
(model/writer_examples.py: NEAREST_FROM, WEIGHT), the way the settings were chosen.
"""

import argparse
import base64
import os
import tempfile
import time

import numpy as np

from handwriting.datasets import pendigits_path
from handwriting.pendigits import PAGE_DRAWING, VALIDATION_WRITERS, draw, random_drawing, read_pendigits
from handwriting.render import encode
from model.writer_examples import NEAREST_FROM, WEIGHT

CONFIRM_EVERY = 5
SEED = 0  # the validation drawings' random variety, as bench/writer_accuracy.py draws them
COST_ROUNDS = 300


def writer_sessions(path, writers=VALIDATION_WRITERS):
    """{writer: (first half, second half)}, each a list of (PNG bytes, label) in the writer's order."""
    rng = np.random.default_rng(SEED)
    by_writer = {writer: [] for writer in writers}
    for digit in read_pendigits(path):
        if digit.writer in by_writer:
            by_writer[digit.writer].append(digit)
    sessions = {}
    for writer, digits in by_writer.items():
        seen, halves = {}, ([], [])
        for digit in digits:
            half = seen.get(digit.label, 0) % 2  # alternately, so every digit is in both halves
            seen[digit.label] = seen.get(digit.label, 0) + 1
            for drawing in (PAGE_DRAWING, random_drawing(rng)):
                halves[half].append((encode(draw(digit, drawing)), digit.label))
        sessions[writer] = halves
    return sessions


def data_url(png):
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def new_app(database_folder):
    os.environ["DIGITPAD_MODEL_POLL_SECONDS"] = "0"
    from flask_migrate import upgrade

    from app import create_app

    app = create_app({"TESTING": True, "RATE_LIMIT": "", "CORRECTIONS_RATE_LIMIT": "", "BATCH_RATE_LIMIT": "",
                      "CORRECTIONS_QUOTA": "", "CLIENT_SALT": "bench",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database_folder}/personal.sqlite3"})
    with app.app_context():
        upgrade()
    client = app.test_client()
    deadline = time.monotonic() + 120
    while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    return app


def run_session(app, first, second):
    """(corrections made, second half right without a token, with it, anonymous answers as text)."""
    browser = app.test_client()
    browser.get("/")  # the page: the server issues the writer's token in a cookie
    anonymous = app.test_client()
    corrections, right_answers = 0, 0
    for png, label in first:
        answer = browser.post("/predict/", json={"image": data_url(png)}).get_json()
        if answer["digit"] != label:
            kind = "wrong"
        else:
            right_answers += 1
            if right_answers % CONFIRM_EVERY:
                continue
            kind = "right"
        reply = browser.post("/api/corrections", json={"image": data_url(png), "label": label, "kind": kind})
        assert reply.status_code in (200, 201), reply.get_data(as_text=True)
        corrections += kind == "wrong"
    with_token, without, texts, labels = [], [], [], []
    for png, label in second:
        mine = browser.post("/predict/", json={"image": data_url(png)}).get_json()
        plain = anonymous.post("/predict/", json={"image": data_url(png)})
        with_token.append(mine["digit"])
        without.append(plain.get_json()["digit"])
        texts.append(plain.get_data(as_text=True))
        labels.append(label)
    return corrections, np.array(labels), np.array(without), np.array(with_token), texts


def cost_ratio(app, pngs):
    """Median time of a prediction with a token whose writer has examples, over one without."""
    with_token, without = app.test_client(), app.test_client()
    with_token.get("/")
    for png in pngs[:40]:  # examples to vote
        with_token.post("/api/corrections", json={"image": data_url(png), "label": 1, "kind": "wrong"})
    times = {"token": [], "anonymous": []}
    for index in range(COST_ROUNDS):
        body = {"image": data_url(pngs[index % len(pngs)])}
        for name, client in (("token", with_token), ("anonymous", without)):
            started = time.perf_counter()
            client.post("/predict/", json=body)
            times[name].append(time.perf_counter() - started)
    token, anonymous = np.median(times["token"]) * 1000, np.median(times["anonymous"]) * 1000
    return token, anonymous


def print_table(rows):
    print(f"{'writer':>8} {'corrected':>9} {'second half':>11} {'without':>8} {'with':>8}")
    for writer, corrections, count, without, with_token in rows:
        print(f"{writer:>8} {corrections:>9} {count:>11} {without:>8.2%} {with_token:>8.2%}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pendigits", default=None, help="pendigits-orig.tra (default: $PENDIGITS_PATH)")
    parser.add_argument("--grid", action="store_true", help="replay in one process for several blend settings")
    arguments = parser.parse_args(argv)
    sessions = writer_sessions(pendigits_path(arguments.pendigits))
    if arguments.grid:
        from bench.personal_grid import print_grid

        return print_grid(sessions)
    print(f"Validation writers {', '.join(map(str, VALIDATION_WRITERS))}; blend from cosine {NEAREST_FROM}, "
          f"weight {WEIGHT}; a correction of every wrong answer and a confirmation of every "
          f"{CONFIRM_EVERY}th right one in the first half")
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as untouched_folder:
        app, untouched = new_app(folder), new_app(untouched_folder)
        rows, all_labels, all_without, all_with, moved = [], [], [], [], 0
        for writer, (first, second) in sessions.items():
            corrections, labels, without, with_token, texts = run_session(app, first, second)
            fresh = untouched.test_client()
            moved += sum(fresh.post("/predict/", json={"image": data_url(png)}).get_data(as_text=True) != text
                         for (png, _), text in zip(second, texts))
            rows.append((writer, corrections, len(labels), (without == labels).mean(), (with_token == labels).mean()))
            all_labels.append(labels), all_without.append(without), all_with.append(with_token)
        print_table(rows)
        labels, without, with_token = (np.concatenate(part) for part in (all_labels, all_without, all_with))
        print(f"overall: {len(labels):,} drawings, without {(without == labels).mean():.2%}, "
              f"with {(with_token == labels).mean():.2%}")
        worst = min(rows, key=lambda row: row[4])
        print(f"worst writer with their corrections: {worst[0]} at {worst[4]:.2%}; "
              f"writers worse than without: {sum(row[4] < row[3] for row in rows)}")
        print("per digit, without / with: " + "  ".join(
            f"{digit}: {(without[labels == digit] == digit).mean():.1%}/{(with_token[labels == digit] == digit).mean():.1%}"
            for digit in range(10)))
        print(f"anonymous answers that moved: {moved} of {len(labels):,}")
        token_ms, anonymous_ms = cost_ratio(app, [png for png, _ in sessions[VALIDATION_WRITERS[0]][1]])
        print(f"a prediction, median of {COST_ROUNDS} interleaved: with a token (40 examples) {token_ms:.2f} ms, "
              f"without {anonymous_ms:.2f} ms: {token_ms / anonymous_ms:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
