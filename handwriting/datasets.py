"""Loading the data sets: MNIST, UCI's pendigits pen strokes, and people's corrections.

The one loader that training, the model registry, the benchmarks and the tests use. A path comes
from the caller (a command-line option, or MNIST_PATH and PENDIGITS_PATH in the environment);
without one, the file is downloaded once into Keras's cache. Keras is imported only for a
download, so reading a local file needs neither Keras nor TensorFlow.
"""

import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, bindparam, text

# Where keras.datasets.mnist.load_data() downloads MNIST from, with its SHA-256.
MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
# The UCI repository's archive of the pen-based digits; the trajectories inside may be compressed
# with Unix compress (.Z), which gzip reads.
PENDIGITS_URL = "https://archive.ics.uci.edu/static/public/81/pen+based+recognition+of+handwritten+digits.zip"
PENDIGITS_FILE = "pendigits-orig.tra"
# A share of the clients who sent corrections is held out: their corrections are never trained
# on (train_mnist.py --corrections) and measure each model version (flask models evaluate), so
# one person's drawings stay on one side.
HELD_OUT_PERCENT = 20
SIDE = 28


class DataSetMissing(SystemExit):
    """A data file named by the caller is not there (ends a script with the message)."""


def mnist_path(path=None):
    """mnist.npz: the path given (else $MNIST_PATH), else downloaded (once) into Keras's cache."""
    path = path or os.environ.get("MNIST_PATH")
    if path:
        return existing(path, "MNIST file")
    import keras

    return Path(keras.utils.get_file("mnist.npz", origin=MNIST_URL, file_hash=MNIST_SHA256))


def load_mnist(path=None):
    """((x_train, y_train), (x_test, y_test), sha256 of the file read)."""
    path = mnist_path(path)
    with np.load(path) as archive:
        data = (archive["x_train"], archive["y_train"]), (archive["x_test"], archive["y_test"])
    return (*data, file_sha256(path))


def pendigits_path(path=None):
    """pendigits-orig.tra: the path given (else $PENDIGITS_PATH), else downloaded (once) into
    Keras's cache and uncompressed."""
    path = path or os.environ.get("PENDIGITS_PATH")
    if path:
        return existing(path, "pendigits file")
    import keras

    folder = Path(keras.utils.get_file("pendigits.zip", origin=PENDIGITS_URL, extract=True))
    found = sorted(folder.rglob(PENDIGITS_FILE)) or sorted(folder.rglob(PENDIGITS_FILE + ".Z"))
    if not found:
        raise DataSetMissing(f"{PENDIGITS_URL} holds no {PENDIGITS_FILE}; pass --pendigits PATH")
    if found[0].suffix == ".Z":
        plain = found[0].with_suffix("")
        with open(plain, "wb") as output:
            subprocess.run(["gzip", "-dc", str(found[0])], stdout=output, check=True)
        return plain
    return found[0]


def existing(path, what):
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataSetMissing(f"{what} not found: {path}")
    return path


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def held_out(client):
    """Whether the corrections of this client (its hash, hex) are kept for evaluation."""
    return int(client[:8], 16) % 100 < HELD_OUT_PERCENT


# The corrections' statuses that training and the promotion gate use (training/label_quality.py):
# never the quarantined, the rejected, or rows not checked yet.
USABLE_STATUSES = ("trusted", "accepted")


def read_corrections(source, statuses=USABLE_STATUSES):
    """(images uint8 N x 28 x 28, labels, clients) of the corrections with these statuses, from
    an export file (`flask corrections export --out F.npz`) or a SQLAlchemy engine on the
    corrections' database."""
    if isinstance(source, Engine):
        query = text("SELECT model_input, label, client FROM corrections WHERE status IN :statuses ORDER BY id")
        with source.connect() as connection:
            rows = connection.execute(query.bindparams(bindparam("statuses", expanding=True)),
                                      {"statuses": list(statuses)}).all()
        images = np.array(
            [np.frombuffer(model_input, np.uint8).reshape(SIDE, SIDE) for model_input, _, _ in rows],
            dtype=np.uint8,
        ).reshape(-1, SIDE, SIDE)
        return images, np.array([label for _, label, _ in rows], np.int64), np.array([c for _, _, c in rows])
    with np.load(Path(source)) as export:
        # An export made before corrections had statuses holds every row as it came.
        usable = np.isin(export["statuses"], statuses) if "statuses" in export else slice(None)
        return export["images"][usable], export["labels"][usable].astype(np.int64), export["clients"][usable]


def split_by_client(images, labels, clients):
    """((training images, labels), (held-out images, labels))."""
    kept = np.array([held_out(client) for client in clients], dtype=bool)
    return (images[~kept], labels[~kept]), (images[kept], labels[kept])
