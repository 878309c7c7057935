"""People's corrections as training and evaluation data, split by who sent them.

A correction is a drawing someone told us the right digit for (web/corrections.py keeps them:
the network's 28x28 input, the label, a salted hash of the client). A share of the clients is
held out: their corrections are never trained on (train_mnist.py --corrections) and measure each
model version (flask models evaluate), so one person's drawings stay on one side.
"""

from pathlib import Path

import numpy as np
from sqlalchemy import Engine, create_engine, text

HELD_OUT_PERCENT = 20
SIDE = 28


def held_out(client):
    """Whether the corrections of this client (its hash, hex) are kept for evaluation."""
    return int(client[:8], 16) % 100 < HELD_OUT_PERCENT


def read_corrections(source):
    """(images uint8 N x 28 x 28, labels, clients) from an export file (`flask corrections
    export --out F.npz`), a database URL (DATABASE_URL, as the server is given it) or an engine."""
    if isinstance(source, Engine) or "://" in source:
        from web.database import sqlalchemy_url  # The same URL rules as the server.

        engine = source if isinstance(source, Engine) else create_engine(sqlalchemy_url(source))
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    text("SELECT model_input, label, client FROM corrections ORDER BY id")
                ).all()
        finally:
            if engine is not source:
                engine.dispose()
        images = np.array(
            [np.frombuffer(model_input, np.uint8).reshape(SIDE, SIDE) for model_input, _, _ in rows],
            dtype=np.uint8,
        ).reshape(-1, SIDE, SIDE)
        return images, np.array([label for _, label, _ in rows], np.int64), np.array([c for _, _, c in rows])
    with np.load(Path(source)) as export:
        return export["images"], export["labels"].astype(np.int64), export["clients"]


def split_by_client(images, labels, clients):
    """((training images, labels), (held-out images, labels))."""
    kept = np.array([held_out(client) for client in clients], dtype=bool)
    return (images[~kept], labels[~kept]), (images[kept], labels[kept])
