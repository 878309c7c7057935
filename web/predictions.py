"""The page, /predict/, and what the service says about itself (health, model, metrics)."""

from flask import Blueprint, current_app, jsonify, render_template

from model.number_answers import read_number
from model.pad import page_constants
from model.report import describe
from web.database import database_state
from web.errors import error_response
from web.image_input import image_bytes_from_request
from web.metrics import PREDICTIONS, metrics_response
from web.model_watcher import served_model
from web.rate_limits import limiter

pages = Blueprint("pages", __name__)
api = Blueprint("api", __name__)


@pages.get("/")
def index():
    # The page's script and stylesheet read the pad's constants from <body>'s data attributes.
    return render_template("index.html", pad=page_constants())


@api.post("/predict/")
@limiter.limit(lambda: current_app.config["RATE_LIMIT"])
def predict():
    served = served_model()
    classifier = served.classifier
    # The body is read first: a client still sending it (a slow phone, or an attacker trickling)
    # must not make others' batches wait for it. Announced from then on, so a batch being
    # gathered waits for this request's image while it is decoded and preprocessed.
    data = image_bytes_from_request()
    with served.batcher.announced() as submit:
        classifier.wait_until_ready(current_app.config["MODEL_WAIT_SECONDS"])
        answer = classifier.classify(data, predict=submit)
    PREDICTIONS.labels("none" if answer["digit"] is None else str(answer["digit"])).inc()
    return jsonify(answer)


@api.post("/predict/number")
@limiter.limit(lambda: current_app.config["RATE_LIMIT"])
def predict_number():
    """A whole number on one pad: the digits left to right, each with the box of its ink."""
    classifier = served_model().classifier
    data = image_bytes_from_request()
    classifier.wait_until_ready(current_app.config["MODEL_WAIT_SECONDS"])
    answer = read_number(classifier, data)
    for digit in answer["digits"]:
        PREDICTIONS.labels(str(digit["digit"])).inc()
    return jsonify(answer)


@api.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@api.get("/readyz")
def readyz():
    """Ready when the model is: predictions never need the database, whose state is reported
    (corrections answer 503 while it is unavailable)."""
    classifier = served_model().classifier
    if classifier.ready:
        return jsonify(
            {"status": "ready", "model_version": classifier.version, "database": database_state()}
        )
    reason = classifier.load_error or "The model is still loading."
    return error_response(503, reason, {"Retry-After": "5"})


@api.get("/api/model")
def model_info():
    return jsonify(describe(served_model().classifier))


@api.get("/metrics")
def metrics():
    return metrics_response()
