"""The page, /predict/, and what the service says about itself (health, model, metrics)."""

from flask import Blueprint, current_app, jsonify, make_response, render_template

from model.number_answers import read_number
from model.pad import page_constants
from model.report import describe
from model.writer_examples import WriterExamples, read_for_writer
from web.database import database_state
from web.errors import error_response
from web.metrics import PREDICTIONS, metrics_response
from web.model_watcher import served_model
from web.rate_limits import limiter
from web.stroke_input import image_and_strokes_from_request, page_limits
from web.writer_examples import examples_for
from web.writers import new_token, request_token, request_writer, set_writer_cookie

pages = Blueprint("pages", __name__)
api = Blueprint("api", __name__)


@pages.get("/")
def index():
    # The page's script and stylesheet read the pad's constants, and the limits of the strokes it
    # sends, from <body>'s data attributes.
    pad = {**page_constants(), **page_limits(current_app.config)}
    response = make_response(render_template("index.html", pad=pad))
    if request_token() is None:
        # A new writer: their corrections will count for their own next drawings.
        set_writer_cookie(response, new_token())
    return response


@api.post("/predict/")
@limiter.limit(lambda: current_app.config["RATE_LIMIT"])
def predict():
    served = served_model()
    classifier = served.classifier
    # The body is read first: a client still sending it (a slow phone, or an attacker trickling)
    # must not make others' batches wait for it. Announced from then on, so a batch being
    # gathered waits for this request's image while it is decoded and preprocessed.
    # With the strokes JSON may carry (None without), read by the stroke network too: the answer
    # then says which networks read it; without, it is what it always was.
    data, strokes = image_and_strokes_from_request()
    examples = writers_examples(classifier)
    if examples:
        # Read with the network's features, apart from the batcher: the writer's own examples vote.
        answer = read_for_writer(classifier, data, examples, strokes=strokes)[1]
    else:
        with served.batcher.announced() as submit:
            classifier.wait_until_ready(current_app.config["MODEL_WAIT_SECONDS"])
            answer = classifier.classify(data, predict=submit, strokes=strokes)
        if examples is not None:
            answer["personal"] = False
    PREDICTIONS.labels("none" if answer["digit"] is None else str(answer["digit"])).inc()
    return jsonify(answer)


@api.post("/predict/number")
@limiter.limit(lambda: current_app.config["RATE_LIMIT"])
def predict_number():
    """A whole number on one pad: the digits left to right, each with the box of its ink."""
    classifier = served_model().classifier
    data, strokes = image_and_strokes_from_request()
    classifier.wait_until_ready(current_app.config["MODEL_WAIT_SECONDS"])
    answer = read_number(classifier, data, writers_examples(classifier), strokes=strokes)
    for digit in answer["digits"]:
        PREDICTIONS.labels(str(digit["digit"])).inc()
    return jsonify(answer)


def writers_examples(classifier):
    """The examples of the request's writer (empty when they have none yet), or None for an
    anonymous request, whose answer stays exactly what it was before writers had examples."""
    writer = request_writer()
    if writer is None:
        return None
    classifier.wait_until_ready(current_app.config["MODEL_WAIT_SECONDS"])
    examples = examples_for(writer, classifier)
    return examples if examples is not None else WriterExamples.none()


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
