"""digitpad: draw a digit in the browser, a CNN trained on MNIST names it.

    flask --app app run                                  # development
    gunicorn --bind 0.0.0.0:$PORT 'app:create_app()'     # production (see Procfile)

The application factory: it reads the settings (web/settings.py), puts the parts of web/
together and registers their routes and commands. Each part does one job in its own module.
"""

import click
from flask import Flask
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from web.admin import admin_enabled, init_admin
from web.batch import batch
from web.corrections import corrections
from web.corrections_cli import corrections_cli
from web.database import init_database
from web.errors import register_error_handlers
from web.forget_me import forget_me
from web.metrics import record_request, start_timer
from web.model_cli import models_cli
from web.model_versions import model_versions
from web.model_watcher import ModelWatcher, build_served_model, serve
from web.openapi import openapi
from web.predictions import api, pages
from web.rate_limits import limiter, storage_settings
from web.security import add_security_headers
from web.settings import settings_from_environment
from web.slow_clients import BodyDeadline

RATE_LIMITS = ("RATE_LIMIT", "CORRECTIONS_RATE_LIMIT", "BATCH_RATE_LIMIT", "CORRECTIONS_QUOTA")


def built_for_a_command():
    """Whether a `flask` command other than `run` (db upgrade, models, corrections) is building
    the app: it never serves, so it neither loads the model nor follows the registry."""
    context = click.get_current_context(silent=True)
    return context is not None and context.command.name != "run"


def create_app(test_config=None):
    app = Flask(__name__)
    app.config.from_mapping(settings_from_environment())
    if test_config:
        app.config.from_mapping(test_config)

    # Tests bring a classifier of their own, loaded once.
    served = build_served_model(app.config, app.config["MODEL_DIR"], app.config.get("CLASSIFIER"))
    serve(app, served)
    wrap_the_wsgi_app(app)
    # The review page's login limit counts only where the review page is on.
    app.config["RATELIMIT_ENABLED"] = any(app.config[name] for name in RATE_LIMITS) or bool(
        admin_enabled(app.config) and app.config["ADMIN_LOGIN_RATE_LIMIT"])
    app.config.from_mapping(storage_settings(app.config))
    limiter.init_app(app)
    init_database(app)
    # /admin/, where DIGITPAD_ADMIN_PASSWORD_HASH is set (refuses to start without a secret key).
    init_admin(app)
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
    for blueprint in (pages, api, corrections, forget_me, batch, model_versions, openapi):
        app.register_blueprint(blueprint)
    app.cli.add_command(models_cli)
    app.cli.add_command(corrections_cli)
    return app


def wrap_the_wsgi_app(app):
    """The WSGI layers around the app: a deadline for slow bodies, the proxy's headers, CORS."""
    app.wsgi_app = BodyDeadline(app.wsgi_app, app.config["BODY_TIMEOUT_SECONDS"], app.config["BODY_MIN_RATE"])
    if app.config["TRUSTED_PROXIES"]:
        # Behind Heroku's router (or another proxy) the client's address is in X-Forwarded-For.
        proxies = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    if app.config["CORS_ORIGINS"]:
        origins = [origin.strip() for origin in app.config["CORS_ORIGINS"].split(",")]
        CORS(app, resources={"/predict/": {"origins": origins}, "/api/*": {"origins": origins}})
