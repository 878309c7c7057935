"""Poisoning: can one client's wrong labels move the shared network through `models retrain`?

    python -m bench.poisoning [--pendigits PATH] [--epochs N] [--limit N] [--confirm-every N]

Honest sessions: each validation writer (never trained on) draws the first half of their digits
on the page as bench/personal_accuracy.py has them, with a writer token and an address of their
own: predict, correct each wrong answer, confirm every fifth right one (every one with
--confirm-every 1: a writer who tells us about every drawing). The attacker: 300
corrections of clean sevens (training writers' pen digits, drawn as the page draws them) all
labelled 1, posted from 30 writer tokens, and again the same 300 from one address with no token.
Then `flask --app app models retrain` on each database: the honest corrections alone, with each
attack, and with the first attack and the filter off (`--no-filter`). Printed: poisoned rows
quarantined (recall), honest rows quarantined (false alarms), and each retrained network's
accuracy on the validation writers' second half (drawings no correction came from) and on its
sevens, against the served network; and whether the gate refuses the network trained with the
filter off. Rate limits and quotas are off.
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
from sqlalchemy import select

from bench.personal_accuracy import CONFIRM_EVERY, data_url, new_app, writer_sessions
from handwriting.datasets import held_out, pendigits_path
from handwriting.pendigits import draw, random_drawing, read_pendigits, split_by_writer
from handwriting.render import encode
from model.classifier import DigitClassifier
from web.database import Correction, client_hash, db

ATTACKED, ATTACK_LABEL, ATTACK_ROWS, ATTACK_TOKENS = 7, 1, 300, 30


def honest_sessions(app, sessions, confirm_every=CONFIRM_EVERY):
    """Post the validation writers' first-half corrections; (second-half images, labels)."""
    for number, (writer, (first, _)) in enumerate(sessions.items()):
        browser = app.test_client()
        browser.environ_base["REMOTE_ADDR"] = f"10.0.{number}.1"
        browser.get("/")
        right = 0
        for png, label in first:
            answer = browser.post("/predict/", json={"image": data_url(png)}).get_json()
            if answer["digit"] == label:
                right += 1
                if right % confirm_every:
                    continue
            kind = "wrong" if answer["digit"] != label else "right"
            browser.post("/api/corrections", json={"image": data_url(png), "label": label, "kind": kind})
    return [png for _, (_, second) in sessions.items() for png, _ in second], \
        np.array([label for _, (_, second) in sessions.items() for _, label in second])


def trained_on_address(app):
    """An attacker's address whose corrections are trained on: not one of the clients held out
    for the gate (their rows would never reach training, and the attack would prove nothing)."""
    with app.app_context():
        for number in range(1, 255):
            address = f"192.0.2.{number}"
            if not held_out(client_hash(address)):
                return address
    raise RuntimeError("every address is held out")


def attack(app, sevens, tokens):
    """The attacker's 300 corrections: from `tokens` writer tokens (0: none), one address."""
    clients, address = [], trained_on_address(app)
    for number in range(max(tokens, 1)):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        if tokens:
            client.get("/")
        clients.append(client)
    for index, png in enumerate(sevens):
        clients[index % len(clients)].post(
            "/api/corrections", json={"image": data_url(png), "label": ATTACK_LABEL, "kind": "wrong"})


def retrain(app, out, *options):
    result = app.test_cli_runner().invoke(args=["models", "retrain", "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    return result.output


def quarantine(app):
    """(poisoned rows quarantined, poisoned rows, honest rows quarantined, honest rows)."""
    with app.app_context():
        rows = db.session.execute(select(Correction.label, Correction.kind, Correction.client, Correction.status)).all()
    attacker = {row.client for row in rows if row.label == ATTACK_LABEL and row.kind == "wrong"} - \
        {row.client for row in rows if row.kind == "right"}
    poisoned = [row for row in rows if row.client in attacker]
    honest = [row for row in rows if row.client not in attacker]
    return (sum(row.status == "quarantined" for row in poisoned), len(poisoned),
            sum(row.status == "quarantined" for row in honest), len(honest))


def accuracy(folder, images, labels):
    classifier = DigitClassifier(model_dir=str(folder), runtime="litert", reads_numbers=False)
    classifier.load()
    predicted = classifier.predict(np.stack([classifier.preprocess(png) for png in images])).argmax(axis=1)
    return (predicted == labels).mean(), (predicted[labels == ATTACKED] == ATTACKED).mean()


def newest(out):
    return max(Path(out).iterdir(), key=lambda folder: folder.stat().st_mtime)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pendigits", default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="replay this many images only (quick runs)")
    parser.add_argument("--confirm-every", type=int, default=CONFIRM_EVERY,
                        help=f"honest writers confirm every N-th right answer (default {CONFIRM_EVERY})")
    arguments = parser.parse_args(argv)
    path = pendigits_path(arguments.pendigits)
    sessions = writer_sessions(path)
    training, _ = split_by_writer(read_pendigits(path))
    rng = np.random.default_rng(11)
    sevens = [encode(draw(digit, random_drawing(rng))) for digit in training if digit.label == ATTACKED][:ATTACK_ROWS]
    options = [*(["--epochs", str(arguments.epochs)] if arguments.epochs else []),
               *(["--limit", str(arguments.limit)] if arguments.limit else [])]
    runs = {"honest corrections only": (0, []), f"+ attack from {ATTACK_TOKENS} tokens": (ATTACK_TOKENS, []),
            "+ attack from one address": (0, []), f"+ attack from {ATTACK_TOKENS} tokens, filter off": (ATTACK_TOKENS,
                                                                                                  ["--no-filter"])}
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        served = None
        for name, (tokens, extra) in runs.items():
            database_folder = Path(folder) / name.replace(" ", "-")
            database_folder.mkdir()
            app = new_app(database_folder)
            images, labels = honest_sessions(app, sessions, arguments.confirm_every)
            if served is None:
                served = accuracy(app.config["MODEL_DIR"], images, labels)
            if name != "honest corrections only":
                attack(app, sevens, tokens)
            out = Path(folder) / (name.replace(" ", "-") + "-models")
            output = retrain(app, out, *options, *extra)
            caught, poisoned, alarms, honest = quarantine(app)
            overall, sevens_read = accuracy(newest(out), images, labels)
            verdict = "promoted" if "\nPromoted" in output else "refused"
            rows.append((name, caught, poisoned, alarms, honest, overall, sevens_read, verdict))
            print(f"{name}: done", flush=True)
    print(f"\nserved network: validation writers' second half {served[0]:.2%}, its sevens {served[1]:.2%}")
    print(f"{'retrained with':<36} {'poisoned quarantined':>21} {'honest quarantined':>19} "
          f"{'second half':>11} {'sevens':>7} {'gate':>9}")
    for name, caught, poisoned, alarms, honest, overall, sevens_read, verdict in rows:
        recall = f"{caught}/{poisoned}" if poisoned else "-"
        print(f"{name:<36} {recall:>21} {f'{alarms}/{honest}':>19} {overall:>11.2%} {sevens_read:>7.2%} {verdict:>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
