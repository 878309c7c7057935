"""The digit classifier: preprocess, predict, postprocess.

The routes call `DigitClassifier.classify(bytes)` (or `read`, which also gives the network's
input). The network is loaded once per process on the runtimes that serve it (model/runtimes.py),
warmed up before it is reported ready, and never run through `model.predict()`, whose fixed
cost per call is larger than the whole request should be. Images the network is unsure of are
read again with test-time augmentation (model/test_time_augmentation.py). Whole numbers are
answered by model/number_answers.py, what /api/model says by model/report.py, and the shares of
large batches by model/batch_processes.py. Where the page sends the strokes it drew, the stroke
network (model/strokes.py) reads them too, and its probabilities are combined with the picture's.
"""

import base64
import logging
import threading
import time

import numpy as np

from model.loader import DEFAULT_MODEL_DIR, ModelFilesError, read_metadata
from model.number_judge import GroupJudge
from model.numbers import NumberReader
from model.preprocessing import preprocess, to_model_input, to_png
from model.runtimes import Runtimes, available_cores
from model.strokes import StrokeNetwork, combined, pen_trajectories
from model.test_time_augmentation import TTA_BELOW, with_test_time_augmentation

log = logging.getLogger(__name__)

NO_INK_REASON = "No ink found: draw a digit (or upload a picture of one) and try again."
# Below this confidence an answer says it is unsure (the page then names the two likeliest digits).
UNSURE_BELOW = 0.6
MAX_BATCH_SIZE = 32


class ModelNotReady(RuntimeError):
    """The network is still loading, or failed to load (the message says which)."""


class DigitClassifier:
    def __init__(
        self,
        model_dir=DEFAULT_MODEL_DIR,
        unsure_below=UNSURE_BELOW,
        max_batch_size=MAX_BATCH_SIZE,
        image_limits=None,
        runtime="auto",
        inference_threads=1,
        number_inference_threads=None,
        gpu_batch_from=None,
        tta_below=TTA_BELOW,
        reads_numbers=True,
        stroke_network_dir=DEFAULT_MODEL_DIR,
    ):
        self.model_dir = model_dir
        # Whether load() loads the number reader (its judge and whole-digit check): a batch
        # process, or the script that fits the reader, reads no numbers with the served one.
        self.reads_numbers = reads_numbers
        # A number's candidate digits are one call of several images, where a second thread
        # halves the time (same answers); lone images keep one thread, so that concurrent
        # requests on few cores do not fight over them. Default: two, where there are two cores.
        self.number_inference_threads = number_inference_threads or min(2, available_cores())
        self.runtimes = Runtimes(runtime, inference_threads, self.number_inference_threads, max_batch_size,
                                 gpu_batch_from)
        self.unsure_below = unsure_below
        self.tta_below = tta_below
        self.max_batch_size = max_batch_size
        self.image_limits = image_limits or {}
        self.metadata = {}
        self.feature_mean = np.float32(0.0)
        self.seconds_to_ready = None
        self.load_error = None
        self.number_reader = None
        self.number_reader_error = None if reads_numbers else "This classifier was loaded to read no numbers."
        # The stroke network is the code's, like the number reader's judge: loaded from the code's
        # model folder whatever version serves the pictures (None: no stroke network).
        self.stroke_network_dir = stroke_network_dir
        self.stroke_network = None
        self.stroke_network_error = None if stroke_network_dir else "This classifier was loaded to read no strokes."
        self._ready = threading.Event()
        self._finished_loading = threading.Event()

    # --- Loading -------------------------------------------------------------------------

    def load(self):
        """Load, compile and warm up the network; records the error instead of raising it."""
        started = time.monotonic()
        try:
            self.runtimes.load(self.model_dir)
            self.metadata = read_metadata(self.model_dir)
            # What writers' examples are compared around (model/writer_examples.py): zero for a
            # model trained before it was recorded.
            self.feature_mean = np.asarray(self.metadata.get("feature_mean", 0.0), dtype=np.float32)
            if self.reads_numbers:
                self._load_number_reader()
            if self.stroke_network_dir:
                self._load_stroke_network()
            # Trace and run every batch shape once, so no request pays for it, and time them.
            self.runtimes.choose()
            self.seconds_to_ready = time.monotonic() - started
            self._ready.set()
            log.info("Model %s ready (%s on %s) in %.1f s", self.version, self.runtime, self.device,
                     self.seconds_to_ready)
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

    def _load_stroke_network(self):
        # A missing or broken stroke network costs the strokes only: pictures are read as before.
        try:
            self.stroke_network = StrokeNetwork.from_directory(self.stroke_network_dir)
            self.stroke_network.probabilities([[]])  # its tensors allocated before any request
        except (OSError, ValueError, KeyError, TypeError, ModelFilesError) as error:
            self.stroke_network = None
            self.stroke_network_error = f"The stroke network cannot be loaded: {error}"
            log.warning(self.stroke_network_error)

    @property
    def reads_strokes(self):
        """Whether the stroke network is loaded: strokes sent with a drawing are read too."""
        return self.stroke_network is not None

    def load_in_background(self):
        threading.Thread(target=self.load, name="model-loader", daemon=True).start()

    @property
    def ready(self):
        return self._ready.is_set()

    @property
    def runtime(self):
        """The runtime of lone images."""
        return self.runtimes.lone.runtime if self.runtimes.lone else None

    @property
    def device(self):
        return self.runtimes.lone.device if self.runtimes.lone else None

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
        the CPU, `on_the_cpu` where given, else the lone images'), with test-time augmentation
        of those the network is unsure of."""
        return self.test_time_augmented(digits, self.network_alone(digits, on_the_cpu), on_the_cpu)

    def network_alone(self, digits, on_the_cpu=None):
        """The network's probabilities (N, 10), without test-time augmentation."""
        return self.runtimes.for_size(len(digits), on_the_cpu)(to_model_input(digits))

    def test_time_augmented(self, digits, probabilities, on_the_cpu=None):
        """The network's probabilities for `digits`, where it is unsure averaged over variants."""
        return with_test_time_augmentation(
            digits, probabilities, lambda variants: self.network_alone(variants, on_the_cpu), self.tta_below)

    def predict_with_features(self, digits):
        """(probabilities as predict() gives them, the network's penultimate features (N, F),
        centred), or (probabilities, None) where the runtime gives no features (Keras)."""
        if self.runtimes.features is None:
            return self.predict(digits), None
        alone, features = self.runtimes.features(to_model_input(digits))
        return self.test_time_augmented(digits, alone), features - self.feature_mean

    def features_of(self, digits):
        """The network's penultimate features (N, F) for uint8 digits, centred on their mean over
        MNIST's training images (recorded in metadata.json; zero for a model trained before it
        was), or None where the runtime gives none (Keras)."""
        if self.runtimes.features is None:
            return None
        return self.runtimes.features(to_model_input(digits))[1] - self.feature_mean


    def predict_with_strokes(self, digits, strokes_per_digit, on_the_cpu=None):
        """Probabilities (N, 10) for uint8 digits (N, 28, 28) and the strokes each was drawn with
        (N lists of (M, 3) arrays of x, y, t): predict()'s, combined with the stroke network's
        where it is loaded and a digit's strokes have ink to read."""
        return self.with_strokes(self.predict(digits, on_the_cpu), strokes_per_digit)[0]

    def with_strokes(self, probabilities, strokes_per_digit):
        """(the picture's probabilities (N, 10) combined with the stroke network's reading of
        each digit's strokes, whether each row read its strokes (N,) bool). A digit with no
        strokes, or strokes of one point or all in one place, keeps the picture's reading."""
        read = np.zeros(len(probabilities), dtype=bool)
        if self.stroke_network is None or not len(probabilities):
            return probabilities, read
        trajectories = pen_trajectories(strokes_per_digit)
        read = np.any(trajectories != 0, axis=(1, 2))  # all zeros: no extent to read
        if not read.any():
            return probabilities, read
        probabilities = np.array(probabilities, dtype=np.float32)
        probabilities[read] = combined(probabilities[read], self.stroke_network(trajectories[read]),
                                       self.stroke_network.stroke_weight)
        return probabilities, read

    @staticmethod
    def networks(read_strokes):
        """The answer's "networks": which networks read the drawing."""
        return ["image", "strokes"] if read_strokes else ["image"]

    def predict_number_candidates(self, digits):
        """The network alone on the number reader's candidate digits, on their own LiteRT
        threads: its judge was fitted on what the network alone reads, and most candidates are
        not digits, which test-time augmentation would only make slower."""
        return self.network_alone(digits, self.runtimes.number)

    def gpu_takes(self, size):
        return self.runtimes.gpu_takes(size)

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

    def classify(self, data, predict=None, strokes=None):
        """The whole path for one image's bytes. `predict` may be a batcher's submit()."""
        return self.read(data, predict, strokes)[1]

    def read(self, data, predict=None, strokes=None):
        """(the network's 28x28 input or None when there is no ink, the answer) for one image.

        With `strokes` (the drawing's strokes, a list of (M, 3) arrays; not None), the stroke
        network reads them too and the answer names the networks that read the drawing
        (`"networks"`: none where the picture has no ink); without, the answer is as it always was.
        """
        digit_image = self.preprocess(data)
        if digit_image is None:
            answer = self.postprocess(None, None)
            return None, answer if strokes is None else {**answer, "networks": []}
        probabilities = (predict or self.predict)(digit_image[np.newaxis])
        if strokes is None:
            return digit_image, self.postprocess(digit_image, probabilities[0])
        probabilities, read = self.with_strokes(probabilities, [strokes])
        return digit_image, {**self.postprocess(digit_image, probabilities[0]), "networks": self.networks(read[0])}

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
            "tta_below": self.tta_below,
            "image_limits": self.image_limits,
        }
