"""POST /predict/batch: many images in one request, each answered as /predict/ answers it.

JSON `{"images": [<data URL or base64>, ...]}` or a multipart form with several `file` fields.
The answer keeps the order: `{"results": [...]}`, each exactly /predict/'s answer for that image
or that image's own error (`{"error": {...}}`), so one bad image never fails the others. The
images are shared out among the worker's batch processes, one per core it may use, which decode,
preprocess and run the network on their chunks; where a GPU was measured faster for a batch this
large, they only preprocess, and the network sees the whole batch at once on the GPU.
"""

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from model.batch_processes import classify_each, start_batch_process
from model.preprocessing import ImageRejected, decode_data_url, preprocess_each
from model.runtimes import available_cores
from web.errors import error_body, error_response
from web.gunicorn_worker import off_the_event_loop
from web.image_input import json_object_from_request
from web.metrics import BATCH_REQUEST_IMAGES, PREDICTIONS
from web.model_watcher import served_model
from web.rate_limits import limiter

batch = Blueprint("batch", __name__)


def batch_body_limit():
    """The largest body: the per-image allowance times the most images, so it grows with the
    count a request may carry and stays bounded."""
    config = current_app.config
    return config["BATCH_MAX_IMAGES"] * config["BATCH_IMAGE_BYTES"]


def images_from_request():
    """A list with, for each image, its bytes or the ImageRejected that says why not."""
    if request.mimetype == "multipart/form-data":
        # A part whose name Werkzeug cannot read is named None (it was a 500 to sort or join).
        unknown = sorted(name or "(unnamed)" for name in set(request.form) | (set(request.files) - {"file"}))
        if unknown:
            raise BadRequest(f"Unknown form field(s): {', '.join(unknown)}. Send the images as 'file' fields.")
        images = [upload.read() for upload in request.files.getlist("file")]
    elif request.mimetype == "application/json":
        payload = json_object_from_request()
        unknown = sorted(set(payload) - {"images"})
        if unknown:
            raise BadRequest(f"Unknown field(s): {', '.join(unknown)}. Send {{\"images\": [...]}}.")
        texts = payload.get("images")
        if not isinstance(texts, list):
            raise BadRequest('Send JSON of the form {"images": ["data:image/png;base64,...", ...]}.')
        images = [decoded_text(text) for text in texts]
    else:
        raise UnsupportedMediaType(
            f"Content type {request.mimetype} is not accepted here: send JSON "
            '{"images": [...]} or a multipart form with several \'file\' fields.'
        )
    most = current_app.config["BATCH_MAX_IMAGES"]
    if not images:
        raise BadRequest("The request holds no images.")
    if len(images) > most:
        raise RequestEntityTooLarge(f"The request holds {len(images):,} images; the limit is {most:,} a request.")
    allowance = current_app.config["BATCH_IMAGE_BYTES"]
    if request.content_length and request.content_length > len(images) * allowance:
        raise RequestEntityTooLarge(
            f"{len(images):,} images may take {len(images) * allowance:,} bytes in all "
            f"({allowance:,} an image); this request is {request.content_length:,} bytes."
        )
    per_image = current_app.config["MAX_CONTENT_LENGTH"]
    return [
        ImageRejected(f"This image is larger than the limit of {per_image:,} bytes an image.", status=413)
        if isinstance(image, bytes) and per_image is not None and len(image) > per_image
        else image
        for image in images
    ]


def decoded_text(text):
    if not isinstance(text, str):
        return ImageRejected("Each image must be a data URL or base64 text.")
    try:
        return decode_data_url(text)
    except ImageRejected as error:
        return error


# A few chunks a core, so that one slow chunk does not leave a core idle at the end (4 and 16
# measured the same on 2 cores: 468-623 against 483-514 ms for 1,000 images).
CHUNKS_PER_CORE = 4

# One pool a worker process, started on its first large batch.
_pool = None
_pool_lock = threading.Lock()


def batch_pool():
    """Processes, one per core the worker may use, that read the large batches.

    Processes, not threads: preprocessing is mostly short NumPy and Pillow calls under the GIL,
    and two threads were measured slower than one. They are started fresh (spawn: a clean
    process, not a fork of this worker with its threads and gevent hub) and are shared by the
    worker's batch requests. Not from a fork server: Heroku's SIGTERM to every process of the
    dyno ended the fork server, which alone could report its children's exit, and the worker
    then waited for them until it was killed (measured: 20 s instead of 6 s to stop).
    """
    global _pool
    with _pool_lock:
        if _pool is None:
            context = multiprocessing.get_context("spawn")
            _pool = ProcessPoolExecutor(
                max_workers=available_cores(), mp_context=context,
                # They die with this worker, even when it is killed (model/batch_processes.py).
                initializer=start_batch_process,
                initargs=(os.getpid(), threading.current_thread() is threading.main_thread()),
            )
        return _pool


def replace_broken_pool(broken):
    """Forget a pool one of whose processes died, so that the next batch starts a new one."""
    global _pool
    with _pool_lock:
        if _pool is broken:
            _pool = None
    broken.shutdown(wait=False, cancel_futures=True)


def answers_for(classifier, images):
    """Each image's answer, as /predict/ gives it, or its error body; in order.

    The worker's batch processes, one per core, take a chunk of the images each. On the CPU they
    decode, preprocess and run the network on their chunk; where a GPU takes a batch this large,
    they only preprocess, and the network sees the whole batch at once, on the GPU. A batch too
    small to share out is read here.
    """
    readable = [image for image in images if isinstance(image, bytes)]
    cores = available_cores()
    if cores == 1 or len(readable) < 2 * cores:
        outcomes = classifier.answer_each(preprocess_each(readable, classifier.image_limits))
    elif classifier.gpu_takes(len(readable)):
        outcomes = classifier.answer_each(in_batch_processes(preprocess_each, readable, classifier.image_limits))
    else:
        outcomes = in_batch_processes(classify_each, readable, classifier.batch_settings())
    outcomes = iter(outcomes)
    return [
        error_body(image.status, str(image)) if isinstance(image, ImageRejected) else answer_or_error(next(outcomes))
        for image in images
    ]


def answer_or_error(outcome):
    return error_body(*outcome[1:]) if isinstance(outcome, tuple) else outcome


def in_batch_processes(function, images, settings):
    """function(chunk, settings) for chunks of the images in the batch processes, concatenated."""
    size = -(-len(images) // (CHUNKS_PER_CORE * available_cores()))  # Rounded up.
    chunks = [images[start : start + size] for start in range(0, len(images), size)]
    pool = batch_pool()
    try:
        # Submitted here, in the worker's main thread (a greenlet of it under gevent): the pool
        # starts its processes in the thread that submits, and a process set to die with its
        # parent dies with that thread, so never with one of gevent's pool threads, which may
        # end while the worker lives on. Only the wait is off the event loop.
        futures = [pool.submit(function, chunk, settings) for chunk in chunks]
        parts = off_the_event_loop(lambda: [future.result() for future in futures])
        return [outcome for part in parts for outcome in part]
    except BrokenProcessPool:
        replace_broken_pool(pool)
        raise


@batch.post("/predict/batch")
@limiter.limit(lambda: current_app.config["BATCH_RATE_LIMIT"])
def predict_batch():
    images = images_from_request()
    BATCH_REQUEST_IMAGES.observe(len(images))
    classifier = served_model().classifier
    classifier.wait_until_ready(current_app.config["MODEL_WAIT_SECONDS"])
    try:
        results = answers_for(classifier, images)
    except BrokenProcessPool as error:
        # A batch process died (killed, out of memory): the next batch starts new ones.
        current_app.logger.error("A batch process died: %s", error)
        return error_response(503, "The batch could not be read this time; please send it again.", {"Retry-After": "1"})
    for result in results:
        if "digit" in result:
            PREDICTIONS.labels("none" if result["digit"] is None else str(result["digit"])).inc()
    return jsonify({"results": results})


@batch.before_request
def allow_a_larger_body():
    # Flask 3.1 lets one request have its own limits: the body, and a form part per image.
    request.max_content_length = batch_body_limit()
    request.max_form_parts = current_app.config["BATCH_MAX_IMAGES"] + 1
