"""digitpad: draw a digit in the browser, a CNN trained on MNIST names it.

    flask --app app run                                  # development
    gunicorn --bind 0.0.0.0:$PORT 'app:create_app()'     # production (see Procfile)
"""

import json
import logging
import os
import re
import time
from http import HTTPStatus

import numpy as np
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    render_template,
    request,
)
from flask_cors import CORS
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    RequestEntityTooLarge,
    UnsupportedMediaType,
)
from werkzeug.middleware.proxy_fix import ProxyFix

from model.batching import Batcher, BatchFailed
from model.loader import DEFAULT_MODEL_DIR
from model.preprocessing import ImageRejected, decode_data_url
from model.service import DigitClassifier, ModelNotReady

log = logging.getLogger("digitpad")


def _environment(name, default, convert=str):
    """A setting from the environment; unset (or empty, for numbers) means the default."""
    value = os.environ.get(name)
    if value is None or (value.strip() == "" and convert is not str):
        return default
    return convert(value)


class Config:
    """Every setting, read from the environment; the README's table lists them."""

    MODEL_DIR = _environment("DIGITPAD_MODEL_DIR", str(DEFAULT_MODEL_DIR))
    MAX_CONTENT_LENGTH = _environment("DIGITPAD_MAX_BODY_BYTES", 2_000_000, int)
    MAX_IMAGE_SIDE = _environment("DIGITPAD_MAX_IMAGE_SIDE", 4096, int)
    MAX_IMAGE_PIXELS = _environment("DIGITPAD_MAX_IMAGE_PIXELS", 4_000_000, int)
    MAX_JSON_DEPTH = _environment("DIGITPAD_MAX_JSON_DEPTH", 8, int)
    UNSURE_BELOW = _environment("DIGITPAD_UNSURE_BELOW", 0.6, float)
    MODEL_WAIT_SECONDS = _environment("DIGITPAD_MODEL_WAIT_SECONDS", 20.0, float)
    RUNTIME = _environment("DIGITPAD_RUNTIME", "auto")
    INFERENCE_THREADS = _environment("DIGITPAD_INFERENCE_THREADS", 1, int)
    BATCH_MAX_SIZE = _environment("DIGITPAD_BATCH_MAX_SIZE", 32, int)
    BATCH_MAX_WAIT_MS = _environment("DIGITPAD_BATCH_MAX_WAIT_MS", 2.0, float)
    RATE_LIMIT = _environment("DIGITPAD_RATE_LIMIT", "120 per minute")
    RATELIMIT_STORAGE_URI = _environment("DIGITPAD_RATE_LIMIT_STORAGE", "memory://")
    CORS_ORIGINS = _environment("DIGITPAD_CORS_ORIGINS", "")
    TRUSTED_PROXIES = _environment("DIGITPAD_TRUSTED_PROXIES", 0, int)


# ---------------------------------------------------------------------------------------------
# Errors: every error leaves as JSON built here
# ---------------------------------------------------------------------------------------------


def error_response(status, message, headers=None):
    body = {"error": {"status": status, "title": HTTPStatus(status).phrase, "message": message}}
    return jsonify(body), status, headers or {}


def register_error_handlers(app):
    @app.errorhandler(HTTPException)
    def http_error(error):
        headers = dict(error.get_headers())
        headers.pop("Content-Type", None)
        return error_response(error.code, error.description, headers)

    @app.errorhandler(RequestEntityTooLarge)
    def body_too_large(error):
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        return error_response(
            413, f"The request is larger than the limit of {limit:,} bytes; send a smaller image."
        )

    @app.errorhandler(ImageRejected)
    def image_rejected(error):
        return error_response(error.status, str(error))

    @app.errorhandler(ModelNotReady)
    def model_not_ready(error):
        return error_response(503, str(error), {"Retry-After": "5"})

    @app.errorhandler(BatchFailed)
    def batch_failed(error):
        log.error("Prediction failed: %s", error)
        return error_response(503, "The model could not answer this request; please try again.")

    @app.errorhandler(Exception)
    def unexpected_error(error):
        log.exception("Unhandled error on %s %s", request.method, request.path)
        return error_response(500, "Something went wrong on our side; please try again.")


# ---------------------------------------------------------------------------------------------
# Reading the image from a request
# ---------------------------------------------------------------------------------------------

RAW_IMAGE_TYPES = ("image/png", "image/jpeg")
# The original tutorial's jQuery posts the data URL with jQuery's default form content type.
TEXT_BODY_TYPES = ("", "text/plain", "application/x-www-form-urlencoded", "application/octet-stream")


def request_body():
    """The raw body, never more than MAX_CONTENT_LENGTH bytes, with or without a length header.

    Werkzeug refuses a declared Content-Length over the limit, but a chunked body is only cut
    off at the limit; one that reaches it is refused here rather than read as a shorter image.
    """
    body = request.get_data(cache=True)
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if limit is not None and request.content_length is None and len(body) >= limit:
        raise RequestEntityTooLarge()
    return body


def image_bytes_from_request():
    """The image's bytes from any of the accepted request forms (see the README's API)."""
    content_type = request.mimetype
    if content_type == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise BadRequest("The form has no 'file' field: attach the image as 'file'.")
        return upload.read()
    if content_type == "application/json":
        return decode_data_url(image_text_from_json(request_body()))
    if content_type in RAW_IMAGE_TYPES:
        return request_body()
    if content_type in TEXT_BODY_TYPES:
        body = request_body()
        if not body.strip():
            raise BadRequest("The request body is empty: send the canvas as a data URL.")
        try:
            return decode_data_url(body.decode("ascii"))
        except UnicodeDecodeError:
            # Not text: perhaps the image file itself, sent without a content type.
            return body
    raise UnsupportedMediaType(
        f"Content type {content_type} is not accepted: send JSON, a form with a 'file' field, "
        "a data URL as text, or a PNG or JPEG body."
    )


def image_text_from_json(body):
    depth_limit = current_app.config["MAX_JSON_DEPTH"]
    # Counting brackets is cheap; the exact depth is only worked out when it could matter.
    could_be_deep = body.count(b"[") + body.count(b"{") > depth_limit
    if could_be_deep and json_nesting_depth(body) > depth_limit:
        raise BadRequest(f"The JSON is nested more than {depth_limit} levels deep.")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise BadRequest(f"The body is not valid JSON: {error}") from error
    image = payload.get("image") if isinstance(payload, dict) else None
    if not isinstance(image, str):
        raise BadRequest('Send JSON of the form {"image": "data:image/png;base64,..."}.')
    return image


JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
OPENING_BRACKETS = np.frombuffer(b"[{", dtype=np.uint8)
CLOSING_BRACKETS = np.frombuffer(b"]}", dtype=np.uint8)


def json_nesting_depth(body):
    """Deepest bracket nesting in JSON text, counted before parsing (strings are skipped)."""
    structure = np.frombuffer(JSON_STRING.sub(b'""', body), dtype=np.uint8)
    steps = np.isin(structure, OPENING_BRACKETS).astype(np.int64)
    steps -= np.isin(structure, CLOSING_BRACKETS)
    return int(np.cumsum(steps).max(initial=0))


# ---------------------------------------------------------------------------------------------
# Metrics (Prometheus; gunicorn.conf.py sets up multiprocess mode for several workers)
# ---------------------------------------------------------------------------------------------

REQUESTS = Counter(
    "digitpad_http_requests_total", "HTTP requests by endpoint and status", ["endpoint", "status"]
)
LATENCY = Histogram(
    "digitpad_http_request_duration_seconds",
    "Time to answer a request, by endpoint",
    ["endpoint"],
    buckets=(0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
PREDICTIONS = Counter(
    "digitpad_predictions_total", "Answers by predicted digit ('none' when no ink)", ["digit"]
)
BATCH_SIZES = Histogram(
    "digitpad_batch_size", "Images per network call", buckets=(1, 2, 4, 8, 16, 32, 64, 128)
)


def metrics_registry():
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def start_timer():
    g.request_started = time.perf_counter()


def record_request(response):
    # The route's pattern, not the path: unknown paths must not create new label values.
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    REQUESTS.labels(endpoint, str(response.status_code)).inc()
    if "request_started" in g:
        seconds = time.perf_counter() - g.request_started
        LATENCY.labels(endpoint).observe(seconds)
        # The server's own time for the request, for browsers' dev tools and the benchmark.
        response.headers["Server-Timing"] = f"app;dur={seconds * 1000:.3f}"
    return response


# ---------------------------------------------------------------------------------------------
# Security headers
# ---------------------------------------------------------------------------------------------

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def add_security_headers(response):
    for header, value in SECURITY_HEADERS.items():
        response.headers.setdefault(header, value)
    return response


# ---------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------

limiter = Limiter(key_func=get_remote_address)

pages = Blueprint("pages", __name__)
api = Blueprint("api", __name__)


@pages.get("/")
def index():
    return render_template("index.html")


@api.post("/predict/")
@limiter.limit(lambda: current_app.config["RATE_LIMIT"])
def predict():
    classifier = current_app.extensions["digitpad.classifier"]
    # Announced from the start, so a batch being gathered waits for this request's image.
    with current_app.extensions["digitpad.batcher"].announced() as submit:
        data = image_bytes_from_request()
        classifier.wait_until_ready(current_app.config["MODEL_WAIT_SECONDS"])
        answer = classifier.classify(data, predict=submit)
    PREDICTIONS.labels("none" if answer["digit"] is None else str(answer["digit"])).inc()
    return jsonify(answer)


@api.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@api.get("/readyz")
def readyz():
    classifier = current_app.extensions["digitpad.classifier"]
    if classifier.ready:
        return jsonify({"status": "ready", "model_version": classifier.version})
    reason = classifier.load_error or "The model is still loading."
    return error_response(503, reason, {"Retry-After": "5"})


@api.get("/api/model")
def model_info():
    return jsonify(current_app.extensions["digitpad.classifier"].describe())


@api.get("/metrics")
def metrics():
    return Response(generate_latest(metrics_registry()), mimetype=CONTENT_TYPE_LATEST)


# ---------------------------------------------------------------------------------------------
# Application factory
# ---------------------------------------------------------------------------------------------


def create_app(test_config=None):
    app = Flask(__name__)
    app.config.from_object(Config)
    if test_config:
        app.config.from_mapping(test_config)

    classifier = app.config.get("CLASSIFIER") or DigitClassifier(
        model_dir=app.config["MODEL_DIR"],
        unsure_below=app.config["UNSURE_BELOW"],
        max_batch_size=app.config["BATCH_MAX_SIZE"],
        runtime=app.config["RUNTIME"],
        inference_threads=app.config["INFERENCE_THREADS"],
        image_limits={
            "max_side": app.config["MAX_IMAGE_SIDE"],
            "max_pixels": app.config["MAX_IMAGE_PIXELS"],
        },
    )
    if not app.config.get("CLASSIFIER"):
        # In the background, so /healthz answers and /readyz says 503 while the model loads.
        classifier.load_in_background()
    app.extensions["digitpad.classifier"] = classifier
    app.extensions["digitpad.batcher"] = Batcher(
        classifier.predict,
        max_batch_size=app.config["BATCH_MAX_SIZE"],
        max_wait_seconds=app.config["BATCH_MAX_WAIT_MS"] / 1000,
        on_batch=BATCH_SIZES.observe,
    )

    if app.config["TRUSTED_PROXIES"]:
        # Behind Heroku's router (or another proxy) the client's address is in X-Forwarded-For.
        proxies = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    if app.config["CORS_ORIGINS"]:
        origins = [origin.strip() for origin in app.config["CORS_ORIGINS"].split(",")]
        CORS(app, resources={"/predict/": {"origins": origins}, "/api/*": {"origins": origins}})
    app.config["RATELIMIT_ENABLED"] = bool(app.config["RATE_LIMIT"])
    limiter.init_app(app)
    app.before_request(start_timer)
    app.after_request(record_request)
    app.after_request(add_security_headers)

    register_error_handlers(app)
    app.register_blueprint(pages)
    app.register_blueprint(api)
    return app
