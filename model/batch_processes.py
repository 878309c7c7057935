"""What runs in a worker's batch processes (web/batch.py starts them): a share of a large batch
read on the CPU, each image answered as /predict/ answers it."""

import ctypes
import os
import signal
import sys
import threading
import time

from model.classifier import DigitClassifier, ModelNotReady
from model.preprocessing import preprocess_each

# In a batch process: the classifier of each model folder, loaded on its first batch.
_batch_classifiers = {}


PR_SET_PDEATHSIG = 1  # linux/prctl.h
WATCH_SECONDS = 1.0


def start_batch_process(worker_pid, started_by_main_thread):
    """A batch process's start (the pool's initializer): it ignores SIGTERM and dies with its
    worker, whose pid the worker passes."""
    ignore_termination_signal()
    die_with_worker(worker_pid, started_by_main_thread)


def ignore_termination_signal():
    """Heroku sends SIGTERM to every process of the dyno; a batch process finishes the batch in
    hand and ends with its worker, which shuts it down."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def die_with_worker(worker_pid, started_by_main_thread):
    """A worker that is killed (SIGKILL, the out-of-memory killer) cannot shut its batch
    processes down, and they lived on, each holding a model, under init. Now:

    - on Linux, where the worker's main thread started this process (every gunicorn worker:
      web/batch.py), the kernel sends it SIGKILL the moment the worker dies (PR_SET_PDEATHSIG,
      which follows the thread that started the process, so it is not set where that was a
      passing thread, such as a request's under the development server);
    - a thread here checks every WATCH_SECONDS that the worker is still its parent, and ends the
      process when it is not (every system, any starting thread);
    - if the worker died before this, the process has another parent already and no signal
      will come: it ends now.
    """
    if started_by_main_thread and sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != worker_pid:
        os._exit(1)
    threading.Thread(target=watch_worker, args=(worker_pid,), name="watch-worker", daemon=True).start()


def watch_worker(worker_pid):
    while os.getppid() == worker_pid:
        time.sleep(WATCH_SECONDS)
    os._exit(1)


def classify_each(images, settings):
    """Each image's answer as /predict/ gives it, or ("error", status, message), for a share of
    a large batch on the CPU; `settings` are the worker's classifier's batch_settings()."""
    model_dir = settings["model_dir"]
    classifier = _batch_classifiers.get(model_dir)
    # Loaded again for another version of the folder's model, or other settings.
    if classifier is None or classifier.batch_settings() != settings:
        classifier = DigitClassifier(
            model_dir, unsure_below=settings["unsure_below"], image_limits=settings["image_limits"],
            tta_below=settings["tta_below"], runtime="litert", number_inference_threads=1, reads_numbers=False,
        )
        classifier.load()
        if not classifier.ready:
            raise ModelNotReady(f"The model failed to load: {classifier.load_error}")
        _batch_classifiers[model_dir] = classifier
    return classifier.answer_each(preprocess_each(images, classifier.image_limits))
