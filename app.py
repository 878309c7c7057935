"""digitpad: draw a digit in the browser, a CNN trained on MNIST names it.

    flask --app app run                                  # development
    gunicorn --bind 0.0.0.0:$PORT 'app:create_app()'     # production (see Procfile)
"""

import os

import click
from flask import Flask
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from model.loader import DEFAULT_MODEL_DIR
from model.service import SECOND_LOOK_BELOW
from web.batch import batch
from web.corrections import corrections
from web.database import init_database
from web.errors import register_error_handlers
from web.metrics import record_request, start_timer
from web.model_versions import ModelWatcher, build_served_model, model_versions, serve
from web.predictions import api, pages
from web.rate_limits import limiter
from web.security import add_security_headers
from web.slow_clients import BodyDeadline


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
    # Below this confidence the network reads an image again, turned and scaled (0: never).
    SECOND_LOOK_BELOW = _environment("DIGITPAD_SECOND_LOOK_BELOW", SECOND_LOOK_BELOW, float)
    MODEL_WAIT_SECONDS = _environment("DIGITPAD_MODEL_WAIT_SECONDS", 20.0, float)
    # How often each worker asks the database which model version is served (0: never; the
    # committed model/ is served).
    MODEL_POLL_SECONDS = _environment("DIGITPAD_MODEL_POLL_SECONDS", 1.0, float)
    RUNTIME = _environment("DIGITPAD_RUNTIME", "auto")
    INFERENCE_THREADS = _environment("DIGITPAD_INFERENCE_THREADS", 1, int)
    # None: two where the worker may use two cores (model/service.py).
    NUMBER_INFERENCE_THREADS = _environment("DIGITPAD_NUMBER_INFERENCE_THREADS", None, int)
    BATCH_MAX_SIZE = _environment("DIGITPAD_BATCH_MAX_SIZE", 32, int)
    BATCH_MAX_WAIT_MS = _environment("DIGITPAD_BATCH_MAX_WAIT_MS", 2.0, float)
    # POST /predict/batch: images a request, and the body's allowance an image (the body limit
    # is the two multiplied: 50 MB by default).
    BATCH_MAX_IMAGES = _environment("DIGITPAD_BATCH_MAX_IMAGES", 1000, int)
    BATCH_IMAGE_BYTES = _environment("DIGITPAD_BATCH_IMAGE_BYTES", 50_000, int)
    BATCH_RATE_LIMIT = _environment("DIGITPAD_BATCH_RATE_LIMIT", "30 per minute")
    # Where set, the GPU takes batches from this many images; else the size measured at warm-up.
    GPU_BATCH_FROM = _environment("DIGITPAD_GPU_BATCH_FROM", None, int)
    # A person drawing fast with live answers sends a few requests a second (see the README);
    # a flood is stopped within the second.
    RATE_LIMIT = _environment("DIGITPAD_RATE_LIMIT", "20 per second;600 per minute")
    RATELIMIT_STORAGE_URI = _environment("DIGITPAD_RATE_LIMIT_STORAGE", "memory://")
    CORS_ORIGINS = _environment("DIGITPAD_CORS_ORIGINS", "")
    TRUSTED_PROXIES = _environment("DIGITPAD_TRUSTED_PROXIES", 0, int)
    # Slow clients: a body must arrive within this many seconds, plus one second for every
    # BODY_MIN_RATE bytes received (web/slow_clients.py); 0 turns the deadline off.
    BODY_TIMEOUT_SECONDS = _environment("DIGITPAD_BODY_TIMEOUT_SECONDS", 10.0, float)
    BODY_MIN_RATE = _environment("DIGITPAD_BODY_MIN_RATE", 5_000, int)
    # Corrections: SQLite in the instance folder unless DATABASE_URL names another database.
    SQLALCHEMY_DATABASE_URI = _environment("DATABASE_URL", "")
    DATABASE_TIMEOUT_SECONDS = _environment("DIGITPAD_DATABASE_TIMEOUT_SECONDS", 5.0, float)
    CORRECTIONS_RATE_LIMIT = _environment("DIGITPAD_CORRECTIONS_RATE_LIMIT", "60 per minute")
    CORRECTIONS_MAX_ROWS = _environment("DIGITPAD_CORRECTIONS_MAX_ROWS", 1_000_000, int)
    # The salt of the client hashes kept with corrections; by default one made per database.
    CLIENT_SALT = _environment("DIGITPAD_CLIENT_SALT", "")


def built_for_a_command():
    """Whether a `flask` command other than `run` (db upgrade, models, corrections) is building
    the app: it never serves, so it neither loads the model nor follows the registry."""
    context = click.get_current_context(silent=True)
    return context is not None and context.command.name != "run"


# ---------------------------------------------------------------------------------------------
# Application factory
# ---------------------------------------------------------------------------------------------


def create_app(test_config=None):
    app = Flask(__name__)
    app.config.from_object(Config)
    if test_config:
        app.config.from_mapping(test_config)

    # Tests bring a classifier of their own, loaded once.
    served = build_served_model(app.config, app.config["MODEL_DIR"], app.config.get("CLASSIFIER"))
    serve(app, served)

    app.wsgi_app = BodyDeadline(app.wsgi_app, app.config["BODY_TIMEOUT_SECONDS"], app.config["BODY_MIN_RATE"])
    if app.config["TRUSTED_PROXIES"]:
        # Behind Heroku's router (or another proxy) the client's address is in X-Forwarded-For.
        proxies = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    if app.config["CORS_ORIGINS"]:
        origins = [origin.strip() for origin in app.config["CORS_ORIGINS"].split(",")]
        CORS(app, resources={"/predict/": {"origins": origins}, "/api/*": {"origins": origins}})
    app.config["RATELIMIT_ENABLED"] = any(
        app.config[name] for name in ("RATE_LIMIT", "CORRECTIONS_RATE_LIMIT", "BATCH_RATE_LIMIT")
    )
    limiter.init_app(app)
    init_database(app)
    app.before_request(start_timer)
    app.after_request(record_request)
    app.after_request(add_security_headers)

    if not app.config.get("CLASSIFIER") and not built_for_a_command():
        # In the background, so /healthz answers and /readyz says 503 while the model loads: the
        # registry's served version, or the committed model while the registry is empty.
        if app.config["MODEL_POLL_SECONDS"] > 0:
            ModelWatcher(app, app.config["MODEL_POLL_SECONDS"])
        else:
            served.classifier.load_in_background()

    register_error_handlers(app)
    app.register_blueprint(pages)
    app.register_blueprint(api)
    app.register_blueprint(corrections)
    app.register_blueprint(batch)
    app.register_blueprint(model_versions)
    return app
