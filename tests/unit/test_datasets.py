"""Loading the data sets: local files, and downloads where no path is given."""

import gzip
import hashlib

import keras
import numpy as np
import pytest

from handwriting.datasets import HELD_OUT_PERCENT, file_sha256, load_mnist, pendigits_path, split_by_client
from handwriting.pendigits import read_pendigits
from harness.strokes import pen_digit_text


def test_without_a_path_the_pen_strokes_are_downloaded_and_uncompressed(tmp_path, monkeypatch):

    text = pen_digit_text(7, 3, [[(100, 400), (300, 400), (200, 100)]])
    folder = tmp_path / "pendigits"
    folder.mkdir()
    # Unix compress (.Z) and gzip are both read by `gzip -d`; the archive may hold either.
    (folder / "pendigits-orig.tra.Z").write_bytes(gzip.compress(text.encode()))
    requested = {}

    def get_file(name, origin, extract):
        requested.update(name=name, origin=origin, extract=extract)
        return str(folder)  # As if downloaded and extracted into Keras's cache.

    monkeypatch.setattr(keras.utils, "get_file", get_file)
    monkeypatch.delenv("PENDIGITS_PATH", raising=False)
    path = pendigits_path(None)
    assert requested["origin"].startswith("https://archive.ics.uci.edu/") and requested["extract"]
    assert path.name == "pendigits-orig.tra" and path.read_text() == text
    assert [digit.label for digit in read_pendigits(path)] == [7]


def test_without_a_path_mnist_comes_from_keras_download(small_mnist, monkeypatch):
    requested = {}

    def get_file(name, origin, file_hash):
        requested.update(name=name, origin=origin, file_hash=file_hash)
        return str(small_mnist)  # As if downloaded into Keras's cache.

    monkeypatch.setattr(keras.utils, "get_file", get_file)
    monkeypatch.delenv("MNIST_PATH", raising=False)
    (x_train, _), (x_test, _), sha256 = load_mnist(None)
    assert requested["origin"].endswith("/mnist.npz") and len(requested["file_hash"]) == 64
    assert x_train.shape == (300, 28, 28) and x_test.shape == (100, 28, 28)
    assert sha256 == file_sha256(small_mnist)


def test_a_path_that_is_not_there_ends_with_a_message(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "nowhere.npz"))
    with pytest.raises(SystemExit, match="MNIST file not found"):
        load_mnist()
    with pytest.raises(SystemExit, match="pendigits file not found"):
        pendigits_path(tmp_path / "nowhere.tra")


def test_the_environment_names_the_files_where_no_path_is_given(small_mnist, small_pendigits, monkeypatch):
    monkeypatch.setenv("MNIST_PATH", str(small_mnist))
    monkeypatch.setenv("PENDIGITS_PATH", str(small_pendigits))
    assert load_mnist()[2] == file_sha256(small_mnist)
    assert pendigits_path() == small_pendigits


def test_a_clients_corrections_stay_on_one_side_of_the_split():
    clients = np.array([hashlib.sha256(str(number).encode()).hexdigest()[:32] for number in range(300)] * 3)
    # Each correction's label is its index here, to find its client after the split.
    indexes = np.arange(len(clients))
    (_, trained), (_, held) = split_by_client(np.zeros((len(clients), 28, 28), np.uint8), indexes, clients)
    assert len(trained) + len(held) == len(clients)
    assert not set(clients[trained]) & set(clients[held])
    assert abs(len(set(clients[held])) / 300 - HELD_OUT_PERCENT / 100) < 0.07
