"""Serving a model version: the classifier and its batcher, swapped together, and the watcher
thread that follows the registry.

Every worker of every server that shares the database asks which version is served every
DIGITPAD_MODEL_POLL_SECONDS; on a change it writes that version's files into
instance/model-versions/VERSION/, loads and warms a new classifier in a thread of its own and
only then swaps it in, so requests already running finish on the old one (every answer names the
`model_version` that produced it). With an empty registry the committed model/ is served.
"""

import logging
import threading
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from model.batching import Batcher
from model.classifier import DigitClassifier
from web.database import db
from web.metrics import BATCH_SIZES, SERVED_MODEL
from web.model_registry import RegistryError, served_version, version_folder

log = logging.getLogger("digitpad")


RETIRED_BATCHER_SECONDS = 90


@dataclass(frozen=True)
class ServedModel:
    classifier: DigitClassifier
    batcher: Batcher


def served_model():
    """The classifier and batcher serving now; a request takes them once and keeps them."""
    return current_app.extensions["digitpad.served"]


def build_served_model(config, model_dir, classifier=None):
    """A classifier for the model folder (or the one given, as tests give theirs) with its batcher."""
    classifier = classifier or DigitClassifier(
        model_dir=model_dir,
        unsure_below=config["UNSURE_BELOW"],
        tta_below=config["TTA_BELOW"],
        max_batch_size=config["BATCH_MAX_SIZE"],
        runtime=config["RUNTIME"],
        inference_threads=config["INFERENCE_THREADS"],
        number_inference_threads=config["NUMBER_INFERENCE_THREADS"],
        gpu_batch_from=config["GPU_BATCH_FROM"],
        image_limits={"max_side": config["MAX_IMAGE_SIDE"], "max_pixels": config["MAX_IMAGE_PIXELS"]},
    )
    batcher = Batcher(
        classifier.predict,
        max_batch_size=config["BATCH_MAX_SIZE"],
        max_wait_seconds=config["BATCH_MAX_WAIT_MS"] / 1000,
        on_batch=BATCH_SIZES.observe,
    )
    return ServedModel(classifier, batcher)


def serve(app, served):
    """Swap in the classifier and batcher that serve from now on (one assignment: a request
    takes both or neither), and say so in the Prometheus gauge once it has loaded."""
    previous = app.extensions.get("digitpad.served")
    app.extensions["digitpad.served"] = served
    if previous is not None and previous.classifier.ready and previous.classifier.version != served.classifier.version:
        SERVED_MODEL.labels(previous.classifier.version).set(0)
    if served.classifier.ready:
        SERVED_MODEL.labels(served.classifier.version).set(1)


class ModelWatcher:
    """A worker's thread that loads the served version at start and follows every promotion."""

    def __init__(self, app, poll_seconds):
        self.app = app
        self.poll_seconds = poll_seconds
        self._failed = set()  # Versions that would not load here: not tried again and again.
        self._retired = []  # (when, ServedModel) replaced, whose batchers end a minute later.
        threading.Thread(target=self._run, name="model-watcher", daemon=True).start()

    def _run(self):
        # At start the registry's version, where there is one: the classifier that requests
        # already wait for is pointed at its files before it loads.
        classifier = self.app.extensions["digitpad.served"].classifier
        folder = self._folder_of(self._registry_version())
        if folder is not None:
            classifier.model_dir = str(folder)
        classifier.load()
        serve(self.app, self.app.extensions["digitpad.served"])
        # A real thread's pause (time.sleep would be gevent's in a gevent worker).
        pause = threading.Event()
        while not pause.wait(self.poll_seconds):
            self._follow()
            self._close_retired()

    def _close_retired(self):
        # A request that took the old model just before the switch may still use its batcher:
        # it is ended once no request can be that old (gunicorn's timeout is a minute).
        while self._retired and time.monotonic() - self._retired[0][0] > RETIRED_BATCHER_SECONDS:
            self._retired.pop(0)[1].batcher.close()

    def _registry_version(self):
        """The registry's served version (one small query), or None while it is empty or unreadable."""
        with self.app.app_context():
            try:
                version = served_version()
            except SQLAlchemyError as error:
                log.warning("The model registry could not be read: %s", error)
                return None
            finally:
                db.session.remove()
        return None if version in self._failed else version

    def _folder_of(self, version):
        """The version's files here, written from the registry if they are not (None: unreadable)."""
        if version is None:
            return None
        with self.app.app_context():
            try:
                return version_folder(self.app, version)
            except (SQLAlchemyError, OSError, RegistryError) as error:
                log.warning("Model version %s could not be written here: %s", version, error)
                return None
            finally:
                db.session.remove()

    def _follow(self):
        """Switch to the registry's served version if it is not the one served."""
        version = self._registry_version()
        if version is None or version == self.app.extensions["digitpad.served"].classifier.version:
            return
        folder = self._folder_of(version)
        if folder is None:
            return
        candidate = build_served_model(self.app.config, str(folder))
        candidate.classifier.load()  # Loaded and warmed before it takes a request.
        if not candidate.classifier.ready:
            log.error("Model version %s did not load: %s", version, candidate.classifier.load_error)
            self._failed.add(version)
            return
        self._retired.append((time.monotonic(), self.app.extensions["digitpad.served"]))
        serve(self.app, candidate)
        log.info("Serving model version %s", version)
