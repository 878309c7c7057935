"""POST /predict/batch: many images in one request, each answered as /predict/ answers it.

JSON `{"images": [<data URL or base64>, ...]}` or a multipart form with several `file` fields.
The answer keeps the order: `{"results": [...]}`, each exactly /predict/'s answer for that image
or that image's own error (`{"error": {...}}`), so one bad image never fails the others. The
images are shared out among the worker's batch processes, one per core it may use, which decode,
preprocess and run the network on their chunks; where a GPU was measured faster for a batch this
large, they only preprocess, and the network sees the whole batch at once on the GPU.
"""

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from http import HTTPStatus

import numpy as np
from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from model.preprocessing import ImageRejected, decode_data_url, preprocess_each
from model.service import available_cores, classify_each
from web.errors import error_response
from web.image_input import json_object_from_request
from web.metrics import BATCH_REQUEST_IMAGES, PREDICTIONS
from web.rate_limits import limiter

batch = Blueprint("batch", __name__)


def error_body(status, message):
    """One image's error, in the form of the JSON errors of the whole request."""
    return {"error": {"status": status, "title": HTTPStatus(status).phrase, "message": message}}


def batch_body_limit():
    """The largest body: the per-image allowance times the most images, so it grows with the
    count a request may carry and stays bounded."""
    config = current_app.config
    return config["BATCH_MAX_IMAGES"] * config["BATCH_IMAGE_BYTES"]


def images_from_request():
    """A list with, for each image, its bytes or the ImageRejected that says why not."""
    if request.mimetype == "multipart/form-data":
        unknown = sorted(set(request.form) | (set(request.files) - {"file"}))
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


def preprocessing_pool():
    """Processes, one per core the worker may use, that read the large batches.

    Processes, not threads: preprocessing is mostly short NumPy and Pillow calls under the GIL,
    and two threads were measured slower than one. They come from a fork server (a clean
    process, not a fork of this threaded worker) and are shared by the worker's batch requests.
    """
    global _pool
    with _pool_lock:
        if _pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["model.service"])
            _pool = ProcessPoolExecutor(max_workers=available_cores(), mp_context=context)
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

    On the CPU the worker's batch processes, one per core, each decode, preprocess and run the
    network on their share. Where a GPU takes a batch this large, they only preprocess, and the
    network sees the whole batch at once on the GPU.
    """
    results = [error_body(image.status, str(image)) if isinstance(image, ImageRejected) else None for image in images]
    readable = [index for index, image in enumerate(images) if isinstance(image, bytes)]
    on_gpu = classifier.gpu_takes(len(readable))
    waiting = []
    for indices, outcomes in shared_out(classifier, [images[index] for index in readable], readable, on_gpu):
        for index, outcome in zip(indices, outcomes):
            if isinstance(outcome, dict):  # An answer.
                results[index] = outcome
            elif outcome[0] == "error":
                results[index] = error_body(*outcome[1:])
            elif outcome[1] is None:  # No ink.
                results[index] = classifier.postprocess(None, None)
            else:
                waiting.append((index, outcome[1], outcome[2]))
    if waiting:
        probabilities = classifier.predict(np.stack([digit for _, digit, _ in waiting]))
        for (index, digit, png), row in zip(waiting, probabilities):
            results[index] = classifier.postprocess(digit, row, png)
    return results


def shared_out(classifier, images, indices, preprocess_only):
    """(indices, outcomes) for the images, chunk by chunk, from the batch processes (or here,
    for a small batch or a worker with one core)."""
    cores = available_cores()
    if cores == 1 or len(images) < 2 * cores:
        # Preprocessed here; the network then runs here too, on all of them at once.
        yield indices, preprocess_each(images, classifier.image_limits)
        return
    chunks = np.array_split(np.arange(len(images)), CHUNKS_PER_CORE * cores)
    shares = [[images[position] for position in chunk] for chunk in chunks]
    pool = preprocessing_pool()
    try:
        if preprocess_only:
            parts = pool.map(preprocess_each, shares, [classifier.image_limits] * len(shares))
        else:
            settings = classifier.batch_settings()
            parts = pool.map(classify_each, shares, [str(classifier.model_dir)] * len(shares), [settings] * len(shares))
        for chunk, outcomes in zip(chunks, parts):
            yield [indices[position] for position in chunk], outcomes
    except BrokenProcessPool:
        replace_broken_pool(pool)
        raise


@batch.post("/predict/batch")
@limiter.limit(lambda: current_app.config["BATCH_RATE_LIMIT"])
def predict_batch():
    images = images_from_request()
    BATCH_REQUEST_IMAGES.observe(len(images))
    classifier = current_app.extensions["digitpad.classifier"]
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
