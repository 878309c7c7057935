"""How long `flask --app app models retrain` takes with many corrections.

    python -m bench.retrain_time [--corrections 10000]

A fresh SQLite database gets N corrections: MNIST training images (each the network's input
as the server keeps it) with their right labels, from 200 writers and addresses, nine in ten
confirmed right and one in ten labelled another digit. Then the whole command runs once, as a
scheduler runs it; printed: its stages and the time it took in all.
"""

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.personal_accuracy import new_app
from handwriting.datasets import load_mnist
from web.database import Correction, Writer, db, utc_now

WRITERS = 200


def store_corrections(app, count, seed=0):
    rng = np.random.default_rng(seed)
    (images, labels), _, _ = load_mnist()
    chosen = rng.choice(len(images), size=count, replace=False)
    now = utc_now()
    with app.app_context():
        for number, index in enumerate(chosen):
            label = int(labels[index]) if number % 10 else int((labels[index] + 1) % 10)
            writer = hashlib.sha256(f"writer-{number % WRITERS}".encode()).hexdigest()
            db.session.add(Correction(
                created_at=now, label=label, kind="right" if number % 10 else "wrong", predicted=int(labels[index]),
                confidence=0.99, model_version="bench", model_input=images[index].tobytes(), drawing=b"",
                drawing_sha256=f"{number:064x}", client=writer[:32], writer=writer,
            ))
        for number in range(WRITERS):
            writer = hashlib.sha256(f"writer-{number}".encode()).hexdigest()
            db.session.add(Writer(id=writer, revision=1, created_at=now, updated_at=now))
        db.session.commit()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corrections", type=int, default=10_000)
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        app = new_app(folder)
        store_corrections(app, arguments.corrections)
        started = time.monotonic()
        result = app.test_cli_runner().invoke(args=["models", "retrain", "--out", str(Path(folder) / "models")])
        seconds = time.monotonic() - started
    print("\n".join(line for line in result.output.splitlines() if line.startswith(("[", "      ", "Promoted", "Not"))))
    print(f"{arguments.corrections:,} corrections: `models retrain` took {seconds:.0f} s (exit {result.exit_code})")
    return result.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
