"""Writing and reading the model files: model.json, model.h5 and metadata.json.

The network is kept as the two files the original project used: the architecture as
`model.to_json()` in model.json, and the weights in model.h5, an HDF5 file. Keras 3's
`save_weights()` insists on the suffix `.weights.h5` and a new internal layout, so the weights
are written with `model.save("....h5", include_optimizer=False)`, Keras's documented legacy HDF5
format. That file holds the weights in the classic `model_weights` layout, which Keras 3's
`load_weights()` reads for any name ending in `.h5`, so `model_from_json(model.json)` followed
by `load_weights(model.h5)` rebuilds the network exactly.

For serving on a CPU the same network is also written as model.tflite, converted with
TensorFlow's LiteRT converter: LiteRT runs one image several times faster than TensorFlow and
does not need TensorFlow imported. metadata.json records the SHA-256 of model.json + model.h5 +
model.tflite together, and `load_litert()` refuses a model.tflite that was not converted from
the model.json and model.h5 beside it, or any of the three replaced on its own.

Every file is written to a temporary name in the same folder and moved into place with
`os.replace`, so a server reading the folder never sees a half-written file.
"""

import hashlib
import json
import os
import tempfile
from pathlib import Path

ARCHITECTURE_FILE = "model.json"
WEIGHTS_FILE = "model.h5"
METADATA_FILE = "metadata.json"
LITERT_FILE = "model.tflite"

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent


class ModelFilesError(RuntimeError):
    """The model files are missing, damaged or do not belong together."""


def save_network(network, directory, metadata):
    """Write the network, its LiteRT conversion and its metadata to `directory`, atomically.

    Returns the names of the files written (model.tflite only where TensorFlow is installed).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights_path = _temporary_path(directory, WEIGHTS_FILE)
    try:
        # Keras picks the legacy HDF5 writer from the ".h5" suffix the temporary name keeps.
        network.save(weights_path, include_optimizer=False)
        os.replace(weights_path, directory / WEIGHTS_FILE)
    finally:
        weights_path.unlink(missing_ok=True)
    # The architecture alone: a compiled network's JSON also names its optimizer's class, which
    # under the PyTorch or JAX backend is a backend module that the other backends cannot load.
    architecture = json.loads(network.to_json())
    architecture.pop("compile_config", None)
    write_atomically(directory / ARCHITECTURE_FILE, json.dumps(architecture, indent=1).encode())
    converted = save_litert(network, directory, metadata)
    return [ARCHITECTURE_FILE, WEIGHTS_FILE, *([LITERT_FILE] if converted else []), METADATA_FILE]


def save_litert(network, directory, metadata):
    """Convert the network for LiteRT, and record in the metadata what it was converted from.

    The converter is TensorFlow's. Where TensorFlow is not installed (a GPU machine training
    under Keras's PyTorch or JAX backend), only the metadata is written, and model.tflite is
    made later with `python train_mnist.py --export-litert` where TensorFlow is. Returns whether
    model.tflite was written.
    """
    directory = Path(directory)
    try:
        import tensorflow as tf
    except ImportError:
        tf = None
    if tf is None:
        (directory / LITERT_FILE).unlink(missing_ok=True)
        metadata = {key: value for key, value in metadata.items() if key != "model_files_sha256"}
        print(
            f"TensorFlow is not installed: no {LITERT_FILE} written. Run "
            f"`python train_mnist.py --export-litert --out {directory}` where it is."
        )
    else:
        write_atomically(directory / LITERT_FILE, litert_flatbuffer(network))
        metadata = {**metadata, "model_files_sha256": model_files_sha256(directory)}
    write_atomically(directory / METADATA_FILE, (json.dumps(metadata, indent=2) + "\n").encode())
    return tf is not None


def litert_flatbuffer(network):
    """The Keras network converted for LiteRT (bytes), by TensorFlow's converter."""
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_keras_model(network).convert()


def model_files_sha256(directory, litert_model=None):
    """SHA-256 of model.json, model.h5 and model.tflite in turn: the files that belong together
    (model.tflite's bytes as given, where they were read already)."""
    digest = hashlib.sha256()
    for name in (ARCHITECTURE_FILE, WEIGHTS_FILE):
        digest.update(_read_existing(Path(directory) / name, binary=True))
    digest.update(litert_model if litert_model is not None else _read_existing(Path(directory) / LITERT_FILE, binary=True))
    return digest.hexdigest()


def read_litert_model(directory=DEFAULT_MODEL_DIR):
    """model.tflite's bytes, read once, if it was converted from the model files here: every
    interpreter made from them (litert_interpreter) runs the very network that was checked."""
    directory = Path(directory)
    path = directory / LITERT_FILE
    model = _read_existing(path, binary=True)
    recorded = read_metadata(directory).get("model_files_sha256")
    if recorded != model_files_sha256(directory, model):
        raise ModelFilesError(
            f"{path} was not converted from the model.json and model.h5 beside it "
            "(retrain, or re-export with `python train_mnist.py --export-litert`)"
        )
    return model


def litert_interpreter(model, threads=1):
    """A LiteRT interpreter on `threads` threads for read_litert_model()'s bytes."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        return Interpreter(model_content=model, num_threads=threads)
    except (ValueError, RuntimeError) as error:
        raise ModelFilesError(f"{LITERT_FILE} is not a LiteRT model: {error}") from error




def load_litert(directory=DEFAULT_MODEL_DIR, threads=1):
    """A LiteRT interpreter for model.tflite, if it was converted from the model files here."""
    return litert_interpreter(read_litert_model(directory), threads)


def load_network(directory=DEFAULT_MODEL_DIR):
    """Rebuild the network from model.json and model.h5 in `directory`.

    Raises ModelFilesError naming the file and what is wrong with it.
    """
    import keras  # Imported here so that reading metadata does not start TensorFlow.

    directory = Path(directory)
    architecture_path = directory / ARCHITECTURE_FILE
    weights_path = directory / WEIGHTS_FILE
    architecture_text = _read_existing(architecture_path, binary=False)
    try:
        network = keras.models.model_from_json(architecture_text)
    except Exception as error:
        raise ModelFilesError(
            f"{architecture_path} does not describe a Keras model "
            f"(truncated or not written by model.to_json()): {error}"
        ) from error

    _require_file(weights_path)
    try:
        network.load_weights(weights_path)
    except (OSError, KeyError) as error:
        # h5py raises OSError for truncated or non-HDF5 files, KeyError for missing groups.
        raise ModelFilesError(
            f"{weights_path} is truncated or is not a Keras HDF5 weights file: {error}"
        ) from error
    except ValueError as error:
        raise ModelFilesError(
            f"{weights_path} does not match the architecture in {architecture_path}: {error}"
        ) from error
    return network


def read_metadata(directory=DEFAULT_MODEL_DIR):
    """Return metadata.json as a dict, or ModelFilesError if it is missing or damaged."""
    path = Path(directory) / METADATA_FILE
    try:
        return json.loads(_read_existing(path, binary=False))
    except json.JSONDecodeError as error:
        raise ModelFilesError(f"{path} is not valid JSON: {error}") from error


def _require_file(path):
    if not path.is_file():
        raise ModelFilesError(
            f"{path} is missing: train a model with `python train_mnist.py` "
            "or restore the committed files with `git checkout model/`"
        )
    if path.stat().st_size == 0:
        raise ModelFilesError(f"{path} is empty")


def _read_existing(path, binary):
    _require_file(path)
    return path.read_bytes() if binary else path.read_text(encoding="utf-8")


def _temporary_path(directory, final_name):
    stem, suffix = os.path.splitext(final_name)
    handle, name = tempfile.mkstemp(dir=directory, prefix=f"{stem}.tmp-", suffix=suffix)
    os.close(handle)
    # mkstemp creates the file readable by its owner only; model files are for everyone to read.
    os.chmod(name, 0o644)
    return Path(name)


def write_atomically(path, content):
    """Write bytes under a temporary name beside `path` and rename it into place, so a reader
    never sees half a file."""
    temporary = _temporary_path(path.parent, path.name)
    try:
        temporary.write_bytes(content)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
