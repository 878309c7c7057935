"""The model behind one class: preprocess, predict, postprocess.

The routes call `DigitClassifier.classify(bytes)` and nothing else. The network is loaded and
compiled once per process, warmed up before it is reported ready, and never run through
`model.predict()` (whose fixed cost per call is larger than the whole request should be).

Two runtimes serve the same network. On a CPU, LiteRT (model.tflite, converted from model.json +
model.h5 when they were saved) runs one image several times faster than a compiled
TensorFlow function, starts without importing TensorFlow and takes a fraction of the memory.
Where an NVIDIA GPU is present, TensorFlow runs the network from model.json + model.h5 on it,
and batching pays off most. DIGITPAD_RUNTIME picks one explicitly.
"""

import base64
import logging
import threading
import time
from pathlib import Path

import numpy as np

from model.loader import (
    DEFAULT_MODEL_DIR,
    ModelFilesError,
    load_litert,
    load_network,
    read_metadata,
)
from model.preprocessing import preprocess, to_model_input, to_png

log = logging.getLogger(__name__)

NO_INK_REASON = "No ink found: draw a digit (or upload a picture of one) and try again."


class ModelNotReady(RuntimeError):
    """The network is still loading, or failed to load (the message says which)."""


class DigitClassifier:
    def __init__(
        self,
        model_dir=DEFAULT_MODEL_DIR,
        unsure_below=0.6,
        max_batch_size=32,
        image_limits=None,
        runtime="auto",
        inference_threads=1,
    ):
        self.model_dir = model_dir
        self.requested_runtime = runtime
        self.inference_threads = inference_threads
        self.unsure_below = unsure_below
        self.max_batch_size = max_batch_size
        self.image_limits = image_limits or {}
        self.metadata = {}
        self.seconds_to_ready = None
        self.load_error = None
        self._infer = None
        self._ready = threading.Event()
        self._finished_loading = threading.Event()

    # --- Loading -------------------------------------------------------------------------

    def load(self):
        """Load, compile and warm up the network; records the error instead of raising it."""
        started = time.monotonic()
        try:
            self._infer = self._load_inference()
            self.metadata = read_metadata(self.model_dir)
            # Trace and run every batch shape once, so no request pays for it.
            for size in sorted({1, self.max_batch_size}):
                self.predict(np.zeros((size, 28, 28), dtype=np.uint8))
            self.seconds_to_ready = time.monotonic() - started
            self._ready.set()
            log.info(
                "Model %s ready (%s on %s) in %.1f s",
                self.version,
                self.runtime,
                self.device,
                self.seconds_to_ready,
            )
        except ModelFilesError as error:
            self.load_error = str(error)
            log.error("The model cannot be loaded: %s", error)
        except Exception as error:  # A broken install must still be reported, not hang.
            self.load_error = f"{type(error).__name__}: {error}"
            log.exception("The model cannot be loaded")
        finally:
            self._finished_loading.set()

    def _load_inference(self):
        runtime = self.requested_runtime
        if runtime == "auto":
            runtime = "tensorflow" if nvidia_gpu_present() else "litert"
        if runtime == "litert":
            try:
                return LiteRTInference(load_litert(self.model_dir, self.inference_threads))
            except ModelFilesError as error:
                if self.requested_runtime == "litert":
                    raise
                log.warning("Not using LiteRT (%s); serving with TensorFlow instead", error)
        elif runtime != "tensorflow":
            raise ValueError(f"Unknown runtime {runtime!r}: use auto, litert or tensorflow")
        return TensorFlowInference(load_network(self.model_dir))

    def load_in_background(self):
        threading.Thread(target=self.load, name="model-loader", daemon=True).start()

    @property
    def ready(self):
        return self._ready.is_set()

    @property
    def runtime(self):
        return self._infer.runtime if self._infer else None

    @property
    def device(self):
        return self._infer.device if self._infer else None

    @property
    def version(self):
        return self.metadata.get("version", "unknown")

    def wait_until_ready(self, timeout):
        """Block up to `timeout` seconds for the model; ModelNotReady if it is not there."""
        self._finished_loading.wait(timeout)
        if self.load_error:
            raise ModelNotReady(f"The model failed to load: {self.load_error}")
        if not self.ready:
            raise ModelNotReady("The model is still loading; try again in a few seconds.")

    # --- Preprocess, predict, postprocess ------------------------------------------------

    def preprocess(self, data):
        return preprocess(data, **self.image_limits)

    def predict(self, digits):
        """Probabilities (N, 10) for uint8 digits (N, 28, 28)."""
        return self._infer(to_model_input(digits))

    def postprocess(self, digit_image, probabilities):
        if probabilities is None:
            return {
                "digit": None,
                "confidence": None,
                "probabilities": None,
                "unsure": False,
                "reason": NO_INK_REASON,
                "input_image": None,
                "model_version": self.version,
            }
        best = int(np.argmax(probabilities))
        confidence = float(probabilities[best])
        return {
            "digit": best,
            "confidence": round(confidence, 6),
            "probabilities": [round(float(value), 6) for value in probabilities],
            "unsure": confidence < self.unsure_below,
            "input_image": "data:image/png;base64,"
            + base64.b64encode(to_png(digit_image)).decode("ascii"),
            "model_version": self.version,
        }

    def classify(self, data, predict=None):
        """The whole path for one image's bytes. `predict` may be a batcher's submit()."""
        return self.read(data, predict)[1]

    def read(self, data, predict=None):
        """(the network's 28x28 input or None when there is no ink, the answer) for one image."""
        digit_image = self.preprocess(data)
        if digit_image is None:
            return None, self.postprocess(None, None)
        probabilities = (predict or self.predict)(digit_image[np.newaxis])[0]
        return digit_image, self.postprocess(digit_image, probabilities)

    def describe(self):
        """What /api/model reports."""
        writers = self.metadata.get("evaluation", {}).get("validation_writers", {})
        worst = writers.get("worst_writer")
        return {
            "version": self.version,
            "test_accuracy": self.metadata.get("test_accuracy"),
            # Digits of people the model never saw, drawn as the page draws (bench/writer_accuracy.py).
            "validation_writers_accuracy": writers.get("accuracy"),
            "worst_validation_writer_accuracy": writers.get("per_writer", {}).get(str(worst)),
            "validation_writers": self.metadata.get("writer_split", {}).get("validation"),
            "parameters": self.metadata.get("parameters"),
            "trained_at": self.metadata.get("trained_at"),
            "runtime": self.runtime,
            "device": self.device,
            "ready": self.ready,
            "seconds_to_ready": self.seconds_to_ready,
            "error": self.load_error,
        }


def nvidia_gpu_present():
    """Whether the NVIDIA driver is loaded, told without importing TensorFlow."""
    return Path("/proc/driver/nvidia/version").exists()


class LiteRTInference:
    """model.tflite through the LiteRT interpreter (XNNPACK kernels on the CPU)."""

    runtime = "litert"
    device = "cpu"

    def __init__(self, interpreter):
        self._interpreter = interpreter
        self._input = interpreter.get_input_details()[0]["index"]
        self._output = interpreter.get_output_details()[0]["index"]
        self._batch_size = None
        # One interpreter is not safe to call from two threads at once.
        self._lock = threading.Lock()

    def __call__(self, batch):
        with self._lock:
            if batch.shape[0] != self._batch_size:
                self._interpreter.resize_tensor_input(self._input, batch.shape)
                self._interpreter.allocate_tensors()
                self._batch_size = batch.shape[0]
            self._interpreter.set_tensor(self._input, batch)
            self._interpreter.invoke()
            return self._interpreter.get_tensor(self._output).copy()


class TensorFlowInference:
    """The Keras network as one compiled TensorFlow function, for batches of any size."""

    runtime = "tensorflow"

    def __init__(self, network):
        import tensorflow as tf

        @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32)])
        def infer(batch):
            return network(batch, training=False)

        self._infer = infer
        gpus = tf.config.list_logical_devices("GPU")
        self.device = gpus[0].name if gpus else "/device:CPU:0"

    def __call__(self, batch):
        return self._infer(batch).numpy()
