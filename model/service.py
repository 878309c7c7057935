"""The model behind one class: preprocess, predict, postprocess.

The routes call `DigitClassifier.classify(bytes)` and nothing else. The network is loaded and
compiled once per process, warmed up before it is reported ready, and never run through
`model.predict()` (whose fixed cost per call is larger than the whole request should be).

Two runtimes serve the same network, each for the request sizes it is fastest at. LiteRT
(model.tflite, converted from model.json + model.h5 when they were saved) runs one image on a CPU
core in about 0.3 ms, where Keras takes milliseconds per call even on a GPU: lone images and the
small batches of concurrent requests always go to LiteRT, GPU or not. Large batches
(/predict/batch) are shared out among the worker's batch processes, each with its own LiteRT
(web/batch.py). Where a GPU is visible to Keras's backend (TensorFlow, PyTorch or JAX: the Keras
path runs on any of them), Keras runs large batches on it from the size where it was measured
faster, when the worker warms up. DIGITPAD_RUNTIME=litert or keras serves every size with one.

Where the network is unsure of an image (its best digit under SECOND_LOOK_BELOW), it takes a
second look: it reads the image again turned and scaled a little (SECOND_LOOK_VARIANTS) and the
five readings are averaged. The network is sensitive to a few degrees or a pixel; averaging
over such variants reads other writers' digits and MNIST better (README, "Test-time
variants"), and since about one image in sixty is unsure, a lone image still costs one call.
"""

import base64
import logging
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np

from model.loader import (
    DEFAULT_MODEL_DIR,
    ModelFilesError,
    LiteRTInference,
    litert_interpreter,
    load_network,
    read_litert_model,
    read_metadata,
)
from model.numbers import GroupJudge, NumberReader
from model.preprocessing import ink_of, preprocess, preprocess_each, to_model_input, to_png, turned_and_scaled

log = logging.getLogger(__name__)

NO_INK_REASON = "No ink found: draw a digit (or upload a picture of one) and try again."
NO_NUMBER_REASON = "No ink found: write a number (or upload a picture of one) and try again."

RUNTIMES = ("auto", "litert", "keras")
# The Keras path was named after its only backend before it ran on PyTorch and JAX too.
RUNTIME_ALIASES = {"tensorflow": "keras"}
# Batch sizes timed on both runtimes at warm-up, where a GPU could take the large batches.
CROSSOVER_SIZES = (1, 8, 32, 128, 512, 2048)
# About as many candidate digits as a 4-digit number written with gaps has.
NUMBER_CANDIDATES_TIMED = 5
# The second look: below this confidence an image is read again as each variant, (degrees
# turned clockwise, scale), and the probabilities averaged. Chosen on the validation writers
# and MNIST's validation split together (README), as train_mnist.py chooses its epochs.
SECOND_LOOK_BELOW = 0.8
SECOND_LOOK_VARIANTS = ((-12.0, 1.0), (12.0, 1.0), (0.0, 0.9), (0.0, 1.1))


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
        number_inference_threads=None,
        gpu_batch_from=None,
        second_look_below=SECOND_LOOK_BELOW,
        reads_numbers=True,
    ):
        self.model_dir = model_dir
        # Whether load() loads the number reader (its judge and look): a batch process, or the
        # script that fits the reader, reads no numbers with the served one.
        self.reads_numbers = reads_numbers
        self.requested_runtime = runtime
        self.inference_threads = inference_threads
        # A number's candidate digits are one call of several images, where a second thread
        # halves the time (same answers); lone images keep one thread, so that concurrent
        # requests on few cores do not fight over them. Default: two, where there are two cores.
        self.number_inference_threads = number_inference_threads or min(2, available_cores())
        # Where set, the GPU takes batches from this size up; else the size is measured.
        self.gpu_batch_from = gpu_batch_from
        self.unsure_below = unsure_below
        self.second_look_below = second_look_below
        self.max_batch_size = max_batch_size
        self.image_limits = image_limits or {}
        self.metadata = {}
        self.seconds_to_ready = None
        self.load_error = None
        # Lone images and small batches; large batches on a GPU, where there is one.
        self._infer = None
        self._infer_gpu = None
        self._infer_number = None
        self.runtime_choice = {}
        self.number_reader = None
        self.number_reader_error = None if reads_numbers else "This classifier was loaded to read no numbers."
        self._ready = threading.Event()
        self._finished_loading = threading.Event()

    # --- Loading -------------------------------------------------------------------------

    def load(self):
        """Load, compile and warm up the network; records the error instead of raising it."""
        started = time.monotonic()
        try:
            self._load_runtimes()
            self.metadata = read_metadata(self.model_dir)
            if self.reads_numbers:
                self._load_number_reader()
            # Trace and run every batch shape once, so no request pays for it, and time them.
            self.runtime_choice = self._choose_runtimes()
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

    def _load_number_reader(self):
        # The judge of whole numbers is the code's, not a model version's: a broken one costs
        # /predict/number only.
        try:
            self.number_reader = NumberReader(GroupJudge.from_file())
        except (OSError, ValueError, KeyError, ModelFilesError) as error:
            self.number_reader_error = f"The number reader cannot be loaded: {error}"
            log.error(self.number_reader_error)

    def _load_runtimes(self):
        runtime = RUNTIME_ALIASES.get(self.requested_runtime, self.requested_runtime)
        if runtime not in RUNTIMES:
            raise ValueError(f"Unknown runtime {runtime!r}: use auto, litert or keras")
        if runtime == "keras":
            self._infer = self._infer_number = KerasInference(load_network(self.model_dir))
            return
        try:
            # One read and one check of model.tflite for both interpreters.
            litert_model = read_litert_model(self.model_dir)
            self._infer = LiteRTInference(
                litert_interpreter(litert_model, self.inference_threads), self.inference_threads
            )
        except ModelFilesError as error:
            if runtime == "litert":
                raise
            log.warning("Not using LiteRT (%s); serving with Keras instead", error)
            self._infer = self._infer_number = KerasInference(load_network(self.model_dir))
            return
        threads = self.number_inference_threads
        self._infer_number = (
            self._infer if threads == self.inference_threads
            else LiteRTInference(litert_interpreter(litert_model, threads), threads)
        )
        if runtime == "auto" and nvidia_gpu_present():
            keras_runtime = KerasInference(load_network(self.model_dir))
            if keras_runtime.on_gpu:
                self._infer_gpu = keras_runtime
            else:
                log.warning(
                    "An NVIDIA driver is loaded but Keras's %s backend sees no GPU (%s): "
                    "LiteRT serves every size", keras_runtime.backend, keras_runtime.device,
                )

    def _choose_runtimes(self):
        """Warm every runtime up on the sizes it will see, time them, and say which serves what.

        Large batches (/predict/batch) are read by the worker's batch processes, one per core,
        each running the network on its share of the images in its own LiteRT; on a GPU the
        network sees the whole batch at once instead, from the size where that was faster.
        """
        cores = available_cores()
        blank = np.zeros((max(CROSSOVER_SIZES), 28, 28), dtype=np.uint8)
        single_ms = {size: median_ms(self._infer, blank[:size]) for size in (1, self.max_batch_size)}
        sizes = [
            {"images": f"1-{self.max_batch_size}", "where": "the worker", **self._infer.describe(),
             "ms_per_image": {str(size): round(ms / size, 4) for size, ms in single_ms.items()}},
            {"images": f"{self.max_batch_size + 1}+", "where": f"{cores} batch processes",
             **self._infer.describe(), "threads": 1},
        ]
        number_ms = median_ms(self._infer_number, blank[:NUMBER_CANDIDATES_TIMED])
        choice = {
            "sizes": sizes,
            # /predict/number reads all of a number's candidate digits in one call.
            "number_candidates": {
                "where": "the worker", **self._infer_number.describe(),
                "ms_per_image": {str(NUMBER_CANDIDATES_TIMED): round(number_ms / NUMBER_CANDIDATES_TIMED, 4)},
            },
        }
        if self._infer_gpu is None:
            choice["why"] = (
                f"No GPU visible to Keras: LiteRT on the CPU. Lone images and the small batches of "
                f"concurrent requests run in the worker ({single_ms[1]:.2f} ms for one image); large "
                f"batches are shared among {cores} processes, one per core, that decode, preprocess and "
                f"run the network each on their own share, so they never hold up a lone image."
            )
            return choice
        timed = {
            # Estimated for the batch processes: one core's time for the whole batch, shared out.
            size: {"cpu_ms_estimated": median_ms(self._infer, blank[:size]) / cores,
                   "gpu_ms": median_ms(self._infer_gpu, blank[:size])}
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
            sizes.append({"images": f"{first}+", "where": "the worker", **self._infer_gpu.describe()})
        choice["measured_ms_per_batch"] = {
            str(size): {key: round(value, 3) for key, value in times.items()} for size, times in timed.items()
        }
        choice["why"] = (
            f"A GPU is visible to Keras ({self._infer_gpu.device}); at warm-up it ran a batch faster than "
            f"LiteRT on {cores} cores from {self.gpu_batch_from} images (times above)."
            if self.gpu_batch_from is not None
            else "A GPU is visible to Keras but was slower than LiteRT at every size timed (above)."
        )
        return choice

    def load_in_background(self):
        threading.Thread(target=self.load, name="model-loader", daemon=True).start()

    @property
    def ready(self):
        return self._ready.is_set()

    @property
    def runtime(self):
        """The runtime of lone images."""
        return self._infer.runtime if self._infer else None

    @property
    def device(self):
        return self._infer.device if self._infer else None

    @property
    def version(self):
        return self.metadata.get("version", "unknown")

    def wait_until_ready(self, timeout):
        """Block up to `timeout` seconds for the model; ModelNotReady if it is not there.

        Polled with time.sleep, not a blocking wait: under the gevent worker time.sleep is
        gevent's, so the worker answers other requests (/healthz) while this one waits.
        """
        deadline = time.monotonic() + timeout
        while not self._finished_loading.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.load_error:
            raise ModelNotReady(f"The model failed to load: {self.load_error}")
        if not self.ready:
            raise ModelNotReady("The model is still loading; try again in a few seconds.")

    # --- Preprocess, predict, postprocess ------------------------------------------------

    def preprocess(self, data):
        return preprocess(data, **self.image_limits)

    def predict(self, digits, on_the_cpu=None):
        """Probabilities (N, 10) for uint8 digits (N, 28, 28), on the runtime for N images (on
        the CPU, `on_the_cpu` where given, else the lone images'), with a second look at those
        the network is unsure of."""
        return self.second_look(digits, self.network_alone(digits, on_the_cpu), on_the_cpu)

    def network_alone(self, digits, on_the_cpu=None):
        """The network's probabilities (N, 10), without a second look."""
        return self.runtime_for(len(digits), on_the_cpu)(to_model_input(digits))

    def second_look(self, digits, probabilities, on_the_cpu=None):
        """The probabilities, where the best digit is under second_look_below averaged with the
        network's readings of the image's SECOND_LOOK_VARIANTS (all of them in one call)."""
        unsure = np.flatnonzero(probabilities.max(axis=1) < self.second_look_below)
        if not len(unsure):
            return probabilities
        variants = np.stack([
            turned_and_scaled(digits[index], degrees, scale)
            for index in unsure for degrees, scale in SECOND_LOOK_VARIANTS
        ])
        again = self.network_alone(variants, on_the_cpu).reshape(len(unsure), len(SECOND_LOOK_VARIANTS), -1)
        looked_again = probabilities.copy()
        looked_again[unsure] = (probabilities[unsure] + again.sum(axis=1)) / (1 + len(SECOND_LOOK_VARIANTS))
        return looked_again

    def predict_number_candidates(self, digits):
        """The network alone on the number reader's candidate digits, on their own LiteRT
        threads: its judge was fitted on what the network alone reads, and most candidates are
        not digits, which a second look would only make slower."""
        return self.network_alone(digits, self._infer_number)

    def runtime_for(self, size, on_the_cpu=None):
        return self._infer_gpu if self.gpu_takes(size) else on_the_cpu or self._infer

    def gpu_takes(self, size):
        """Whether a batch of `size` images runs on the GPU: never a lone image, nor the small
        batches that concurrent single requests make, whatever the timing said."""
        return (
            self._infer_gpu is not None
            and self.gpu_batch_from is not None
            and size > self.max_batch_size
            and size >= self.gpu_batch_from
        )

    def postprocess(self, digit_image, probabilities, png=None):
        """The answer for one image; `png` is the digit's PNG when it was made already."""
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
            + base64.b64encode(png or to_png(digit_image)).decode("ascii"),
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

    def read_number(self, data):
        """The answer of /predict/number for one image's bytes: the number, and each digit's
        reading with the box of its ink in the image's pixels, left to right."""
        if self.number_reader is None:
            raise ModelNotReady(self.number_reader_error or "The number reader is not loaded.")
        digits, probabilities = self.number_digits(ink_of(data, **self.image_limits))
        if not digits:
            return {"number": "", "digits": [], "unsure": False, "reason": NO_NUMBER_REASON,
                    "model_version": self.version}
        answers = []
        for read, row in zip(digits, probabilities):
            answer = self.postprocess(read.digit_image, row)
            answers.append({
                "digit": answer["digit"], "confidence": answer["confidence"],
                "probabilities": answer["probabilities"], "unsure": answer["unsure"],
                "box": read.box, "input_image": answer["input_image"],
            })
        return {
            "number": "".join(str(answer["digit"]) for answer in answers),
            "digits": answers,
            "unsure": any(answer["unsure"] for answer in answers),
            "model_version": self.version,
        }

    def number_digits(self, ink, reader=None):
        """The digits of a number in `ink` as the reader (by default the served one) finds them,
        left to right, and their probabilities (digits, 10): each read as /predict/ reads a lone
        digit, with a second look where the network is unsure."""
        digits = (reader or self.number_reader).read(ink, self.predict_number_candidates)
        if not digits:
            return [], np.zeros((0, 10), dtype=np.float32)
        probabilities = np.stack([read.probabilities for read in digits])
        return digits, self.second_look(np.stack([read.digit_image for read in digits]), probabilities,
                                        self._infer_number)

    def answer_each(self, outcomes):
        """Answers for preprocess_each()'s outcomes: the network runs once on every digit (on the
        runtime for that many); a refused image keeps its ("error", status, message)."""
        inked = [index for index, outcome in enumerate(outcomes) if outcome[0] == "digit" and outcome[1] is not None]
        rows = dict(zip(inked, self.predict(np.stack([outcomes[index][1] for index in inked])))) if inked else {}
        return [
            outcome if outcome[0] == "error" else self.postprocess(outcome[1], rows.get(index), outcome[2])
            for index, outcome in enumerate(outcomes)
        ]

    def batch_settings(self):
        """What a batch process needs to answer as this classifier does."""
        return {
            "model_dir": str(self.model_dir),
            "version": self.version,
            "unsure_below": self.unsure_below,
            "second_look_below": self.second_look_below,
            "image_limits": self.image_limits,
        }

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
            # Which runtime serves which request sizes, and the figures it was chosen by.
            "runtimes": self.runtime_choice,
            # Images the network is unsure of are read again as these variants (degrees, scale).
            "second_look": {"below": self.second_look_below,
                            "variants": [list(variant) for variant in SECOND_LOOK_VARIANTS]},
            "ready": self.ready,
            "seconds_to_ready": self.seconds_to_ready,
            "error": self.load_error,
        }


# In a batch process: the classifier of each model folder, loaded on its first batch.
_batch_classifiers = {}


def ignore_termination_signal():
    """A batch process's start (web/batch.py): Heroku sends SIGTERM to every process of the dyno;
    a batch process finishes the batch in hand and ends with its worker, which shuts it down."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def classify_each(images, settings):
    """In a batch process (web/batch.py): each image's answer as /predict/ gives it, or
    ("error", status, message), for a share of a large batch on the CPU."""
    model_dir = settings["model_dir"]
    classifier = _batch_classifiers.get(model_dir)
    # Loaded again for another version of the folder's model, or other settings.
    if classifier is None or classifier.batch_settings() != settings:
        classifier = DigitClassifier(
            model_dir, unsure_below=settings["unsure_below"], image_limits=settings["image_limits"],
            second_look_below=settings["second_look_below"],
            runtime="litert", number_inference_threads=1, reads_numbers=False,
        )
        classifier.load()
        if not classifier.ready:
            raise ModelNotReady(f"The model failed to load: {classifier.load_error}")
        _batch_classifiers[model_dir] = classifier
    return classifier.answer_each(preprocess_each(images, classifier.image_limits))


def nvidia_gpu_present():
    """Whether the NVIDIA driver is loaded, told without importing TensorFlow."""
    return Path("/proc/driver/nvidia/version").exists()


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
