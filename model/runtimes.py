"""The runtimes that run the network, and which one serves which request size.

Two runtimes serve the same network, each for the sizes it is fastest at. LiteRT (model.tflite,
converted from model.json + model.h5 when they were saved) runs one image on a CPU core in about
0.3 ms, where Keras takes milliseconds per call even on a GPU: lone images and the small batches
of concurrent requests always go to LiteRT, GPU or not. Large batches (/predict/batch) are
shared out among the worker's batch processes, each with its own LiteRT (web/batch.py). Where a
GPU is visible to Keras's backend (TensorFlow, PyTorch or JAX: the Keras path runs on any of
them), Keras runs large batches on it from the size where it was measured faster at warm-up.
DIGITPAD_RUNTIME=litert or keras serves every size with one.
"""

import logging
import os
import threading
import time
from pathlib import Path

import numpy as np

from model.loader import ModelFilesError, litert_interpreter, load_network, read_litert_model
from model.preprocessing import to_model_input

log = logging.getLogger(__name__)

RUNTIMES = ("auto", "litert", "keras")
# The Keras path was named after its only backend before it ran on PyTorch and JAX too.
RUNTIME_ALIASES = {"tensorflow": "keras"}
# Batch sizes timed on both runtimes at warm-up, where a GPU could take the large batches.
CROSSOVER_SIZES = (1, 8, 32, 128, 512, 2048)
# About as many candidate digits as a 4-digit number written with gaps has.
NUMBER_CANDIDATES_TIMED = 5


class LiteRTInference:
    """A LiteRT model (model.tflite, or the number reader's whole-digit check) through its
    interpreter (XNNPACK kernels on the CPU): a float32 batch in, the model's outputs for it out."""

    runtime = "litert"
    device = "cpu"

    def __init__(self, interpreter, threads=1):
        self._interpreter = interpreter
        self.threads = threads
        self._input = interpreter.get_input_details()[0]["index"]
        self._output = interpreter.get_output_details()[0]["index"]
        self._batch_size = None
        # One interpreter is not safe to call from two threads at once.
        self._lock = threading.Lock()

    def __call__(self, batch):
        with self._lock:
            return self._invoke(batch)

    def _invoke(self, batch):
        if batch.shape[0] != self._batch_size:
            self._interpreter.resize_tensor_input(self._input, batch.shape)
            self._interpreter.allocate_tensors()
            self._batch_size = batch.shape[0]
        self._interpreter.set_tensor(self._input, batch)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output).copy()

    def describe(self):
        return {"runtime": self.runtime, "device": self.device, "threads": self.threads}


class LiteRTFeatures(LiteRTInference):
    """The same LiteRT model, also giving the network's penultimate features: the input of its
    last layer, kept by an interpreter that preserves its intermediate tensors (the same
    kernels: its probabilities equal the plain interpreter's to the bit, at the same cost).
    Called with a float32 batch: (probabilities (N, 10), features (N, F))."""

    def __init__(self, model, threads=1):
        import warnings

        from ai_edge_litert.interpreter import Interpreter

        with warnings.catch_warnings():
            # LiteRT warns that preserving tensors is meant for debugging; the network is small
            # and one tensor is read.
            warnings.simplefilter("ignore", UserWarning)
            interpreter = Interpreter(model_content=model, num_threads=threads,
                                      experimental_preserve_all_tensors=True)
        super().__init__(interpreter, threads)
        self._features = penultimate_tensor(interpreter)

    def __call__(self, batch):
        with self._lock:
            probabilities = self._invoke(batch)
            return probabilities, self._interpreter.get_tensor(self._features).copy()


def penultimate_tensor(interpreter):
    """The index of the tensor the network's last layer reads: the input of the fully connected
    operation that makes the output (through its softmax)."""
    operations = interpreter._get_ops_details()  # The public API names no operation's inputs.
    producer = {int(output): operation for operation in operations for output in operation["outputs"]}
    tensor = int(interpreter.get_output_details()[0]["index"])
    while tensor in producer:
        operation = producer[tensor]
        if operation["op_name"] == "FULLY_CONNECTED":
            return int(operation["inputs"][0])
        tensor = int(operation["inputs"][0])
    raise ValueError("The network has no fully connected last layer to take features from.")


class KerasInference:
    """The Keras network on its backend's device (TensorFlow, PyTorch or JAX), through
    predict_on_batch, which each backend compiles its own way."""

    runtime = "keras"

    def __init__(self, network):
        import keras

        self._network = network
        self.backend = keras.backend.backend()
        self.device = keras_device(self.backend)
        self.on_gpu = any(name in self.device.lower() for name in ("gpu", "cuda"))

    def __call__(self, batch):
        return np.asarray(self._network.predict_on_batch(batch))

    def describe(self):
        return {"runtime": self.runtime, "backend": self.backend, "device": self.device}


class Runtimes:
    """The network on the runtimes that serve it: lone images and small batches (`lone`), a
    number's candidate digits (`number`, on their own LiteRT threads), the readings of writers
    with examples, which need the network's features too (`features`, LiteRT only) and, where
    a GPU won at warm-up, large batches (`gpu`)."""

    def __init__(self, requested="auto", threads=1, number_threads=1, max_batch_size=32, gpu_batch_from=None):
        self.requested = RUNTIME_ALIASES.get(requested, requested)
        self.threads = threads
        self.number_threads = number_threads
        self.max_batch_size = max_batch_size
        # Where set, the GPU takes batches from this size up; else the size is measured.
        self.gpu_batch_from = gpu_batch_from
        self.lone = self.number = self.gpu = self.features = None
        self.choice = {}

    def load(self, model_dir):
        if self.requested not in RUNTIMES:
            raise ValueError(f"Unknown runtime {self.requested!r}: use auto, litert or keras")
        if self.requested == "keras":
            self.lone = self.number = KerasInference(load_network(model_dir))
            return
        try:
            # One read and one check of model.tflite for both interpreters.
            litert_model = read_litert_model(model_dir)
            self.lone = LiteRTInference(litert_interpreter(litert_model, self.threads), self.threads)
        except ModelFilesError as error:
            if self.requested == "litert":
                raise
            log.warning("Not using LiteRT (%s); serving with Keras instead", error)
            self.lone = self.number = KerasInference(load_network(model_dir))
            return
        self.number = (
            self.lone if self.number_threads == self.threads
            else LiteRTInference(litert_interpreter(litert_model, self.number_threads), self.number_threads)
        )
        self.features = LiteRTFeatures(litert_model, self.threads)
        if self.requested == "auto" and nvidia_gpu_present():
            keras_runtime = KerasInference(load_network(model_dir))
            if keras_runtime.on_gpu:
                self.gpu = keras_runtime
            else:
                log.warning(
                    "An NVIDIA driver is loaded but Keras's %s backend sees no GPU (%s): "
                    "LiteRT serves every size", keras_runtime.backend, keras_runtime.device,
                )

    def for_size(self, size, on_the_cpu=None):
        """The runtime for a batch of `size` images (on the CPU, `on_the_cpu` where given)."""
        return self.gpu if self.gpu_takes(size) else on_the_cpu or self.lone

    def gpu_takes(self, size):
        """Whether a batch of `size` images runs on the GPU: never a lone image, nor the small
        batches that concurrent single requests make, whatever the timing said."""
        return (
            self.gpu is not None
            and self.gpu_batch_from is not None
            and size > self.max_batch_size
            and size >= self.gpu_batch_from
        )

    def choose(self):
        """Warm every runtime up on the sizes it will see, time them, and record which serves what
        (`choice`, reported by /api/model)."""
        cores = available_cores()
        blank = np.zeros((max(CROSSOVER_SIZES), 28, 28), dtype=np.uint8)
        single_ms = {size: median_ms(self.lone, blank[:size]) for size in (1, self.max_batch_size)}
        sizes = [
            {"images": f"1-{self.max_batch_size}", "where": "the worker", **self.lone.describe(),
             "ms_per_image": {str(size): round(ms / size, 4) for size, ms in single_ms.items()}},
            {"images": f"{self.max_batch_size + 1}+", "where": f"{cores} batch processes",
             **self.lone.describe(), "threads": 1},
        ]
        number_ms = median_ms(self.number, blank[:NUMBER_CANDIDATES_TIMED])
        self.choice = {
            "sizes": sizes,
            # /predict/number reads all of a number's candidate digits in one call.
            "number_candidates": {
                "where": "the worker", **self.number.describe(),
                "ms_per_image": {str(NUMBER_CANDIDATES_TIMED): round(number_ms / NUMBER_CANDIDATES_TIMED, 4)},
            },
        }
        if self.gpu is None:
            self.choice["why"] = (
                f"No GPU visible to Keras: LiteRT on the CPU. Lone images and the small batches of "
                f"concurrent requests run in the worker ({single_ms[1]:.2f} ms for one image); large "
                f"batches are shared among {cores} processes, one per core, that decode, preprocess and "
                f"run the network each on their own share, so they never hold up a lone image."
            )
            return self.choice
        self._choose_the_gpu_from(blank, cores, sizes)
        return self.choice

    def _choose_the_gpu_from(self, blank, cores, sizes):
        timed = {
            # Estimated for the batch processes: one core's time for the whole batch, shared out.
            size: {"cpu_ms_estimated": median_ms(self.lone, blank[:size]) / cores,
                   "gpu_ms": median_ms(self.gpu, blank[:size])}
            for size in CROSSOVER_SIZES
        }
        if self.gpu_batch_from is None:
            faster = [size for size in CROSSOVER_SIZES if all(
                timed[larger]["gpu_ms"] < timed[larger]["cpu_ms_estimated"]
                for larger in CROSSOVER_SIZES if larger >= size
            )]
            self.gpu_batch_from = faster[0] if faster else None
        if self.gpu_batch_from is not None:
            first = max(self.gpu_batch_from, self.max_batch_size + 1)  # As gpu_takes() has it.
            sizes[1]["images"] = f"{self.max_batch_size + 1}-{first - 1}"
            sizes.append({"images": f"{first}+", "where": "the worker", **self.gpu.describe()})
        self.choice["measured_ms_per_batch"] = {
            str(size): {key: round(value, 3) for key, value in times.items()} for size, times in timed.items()
        }
        self.choice["why"] = (
            f"A GPU is visible to Keras ({self.gpu.device}); at warm-up it ran a batch faster than "
            f"LiteRT on {cores} cores from {self.gpu_batch_from} images (times above)."
            if self.gpu_batch_from is not None
            else "A GPU is visible to Keras but was slower than LiteRT at every size timed (above)."
        )


def nvidia_gpu_present():
    """Whether the NVIDIA driver is loaded, told without importing TensorFlow."""
    return Path("/proc/driver/nvidia/version").exists()


def keras_device(backend):
    """Where Keras's backend runs the network: its first GPU, or the CPU."""
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return gpus[0].name if gpus else "/device:CPU:0"
    if backend == "torch":
        import torch

        return f"cuda:0 ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "cpu"
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return f"{device.platform}:{device.id} ({device.device_kind})"
    return backend


def available_cores():
    """The cores this process may run on (a container's share, not the machine's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def median_ms(infer, batch, repeats=5):
    """Median milliseconds of `infer` on `batch` (after one untimed call that warms it up)."""
    model_input = to_model_input(batch)
    infer(model_input)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        infer(model_input)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times))
