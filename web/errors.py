"""Every error leaves as JSON built here: {"error": {"status", "title", "message"}}."""

import logging
from http import HTTPStatus

from flask import jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from model.batching import BatchFailed
from model.classifier import ModelNotReady
from model.preprocessing import ImageRejected
from web.database import DatabaseUnavailable

log = logging.getLogger("digitpad")


def error_body(status, message):
    """The JSON of an error: of a whole response here, or of one image of a batch."""
    return {"error": {"status": status, "title": HTTPStatus(status).phrase, "message": message}}


def error_response(status, message, headers=None):
    return jsonify(error_body(status, message)), status, headers or {}


def register_error_handlers(app):
    @app.errorhandler(HTTPException)
    def http_error(error):
        headers = dict(error.get_headers())
        headers.pop("Content-Type", None)
        return error_response(error.code, error.description, headers)

    @app.errorhandler(RequestEntityTooLarge)
    def body_too_large(error):
        if error.description != RequestEntityTooLarge.description:
            return error_response(413, error.description)  # A message of our own.
        limit = request.max_content_length
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

    @app.errorhandler(DatabaseUnavailable)
    def database_unavailable(error):
        return error_response(503, str(error), {"Retry-After": "30"})

    @app.errorhandler(Exception)
    def unexpected_error(error):
        log.exception("Unhandled error on %s %s", request.method, request.path)
        return error_response(500, "Something went wrong on our side; please try again.")
