"""The app as the tests and benchmarks run it: migrated, in a thread, with stand-in runtimes."""

import threading
from contextlib import contextmanager

from flask_migrate import upgrade
from werkzeug.serving import make_server

from app import create_app
from web.database import db


class RecordingRuntime:
    """Stands in for Keras on a GPU where there is none: says which sizes it was given."""

    runtime, device, on_gpu = "keras", "cuda:0 (stand-in)", True

    def __init__(self, real):
        self.real, self.sizes = real, []

    def __call__(self, batch):
        self.sizes.append(len(batch))
        return self.real(batch)


# The client hashes' salt of the tests on PostgreSQL, which has no instance file (web/client_salt.py).
TEST_CLIENT_SALT = "test-salt-" + "0" * 32


def migrated_app(test_config):
    """The app with these settings, its database migrated to the newest version."""
    application = create_app(
        {"TESTING": True, "RATE_LIMIT": "", "CORRECTIONS_RATE_LIMIT": "", "BATCH_RATE_LIMIT": "", "CORRECTIONS_QUOTA": "",
         **test_config}
    )
    with application.app_context():
        upgrade()
    return application


@contextmanager
def serving_in_background(classifier, database_folder):
    """The real app with this classifier and a SQLite database in `database_folder`, served on
    127.0.0.1 in a thread; yields (its URL, the app)."""
    application = migrated_app(
        {"CLASSIFIER": classifier, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database_folder}/live.sqlite3"}
    )
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", application
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with application.app_context():
            db.engine.dispose()
