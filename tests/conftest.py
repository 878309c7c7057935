import os
import subprocess
import sys
import threading
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402

from app import create_app  # noqa: E402
from model.service import DigitClassifier  # noqa: E402
from tests.postgres import postgres_server  # noqa: E402
from web.database import db  # noqa: E402

DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
DESKTOP = {"width": 1100, "height": 800}


def chromium_launch_options():
    """Debian's Chromium with the flags it needs here where it is installed; else Playwright's."""
    if DEBIAN_CHROMIUM.exists():
        return {"executable_path": str(DEBIAN_CHROMIUM), "args": CHROMIUM_FLAGS}
    return {}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, **chromium_launch_options()}


@pytest.fixture(scope="session")
def artifacts_dir():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def data_file(variable, what):
    """The data file named by $variable; skipped where there is none, but never in CI."""
    path = os.environ.get(variable)
    if path and Path(path).is_file():
        return Path(path)
    missing(f"{what} not found: set {variable} (now {path!r})")


class RecordingRuntime:
    """Stands in for Keras on a GPU, which this machine has not: says which sizes it was given."""

    runtime, device, on_gpu = "keras", "cuda:0 (stand-in)", True

    def __init__(self, real):
        self.real, self.sizes = real, []

    def __call__(self, batch):
        self.sizes.append(len(batch))
        return self.real(batch)


def missing(message):
    """Skip a test that needs what this machine lacks, but never in CI."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def mnist_path():
    return data_file("MNIST_PATH", "MNIST data (mnist.npz)")


@pytest.fixture(scope="session")
def pendigits_file():
    return data_file("PENDIGITS_PATH", "pen strokes (pendigits-orig.tra)")


def started_postgres():
    """A throwaway PostgreSQL server (tests/postgres.py), stopped and removed afterwards."""
    with ExitStack() as stack:
        try:
            server = stack.enter_context(postgres_server())
        except (RuntimeError, subprocess.SubprocessError) as error:
            detail = getattr(error, "stderr", "") or ""
            missing(f"No PostgreSQL server for the database tests: {error} {detail}".strip())
        yield server


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL server for the whole session; each test gets its own database."""
    yield from started_postgres()


@pytest.fixture
def postgres_of_its_own():
    """A PostgreSQL server for one test that stops and starts it."""
    yield from started_postgres()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """An empty database of each kind, for one test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'corrections.sqlite3'}"
        return
    server = request.getfixturevalue("postgres")
    url = server.create_database()
    yield url
    server.drop_database(url)


@pytest.fixture
def db_app(classifier, database_url):
    """The app on a freshly migrated database of each kind."""
    application = migrated_app({"CLASSIFIER": classifier, "SQLALCHEMY_DATABASE_URI": database_url})
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def db_client(db_app):
    return db_app.test_client()


@pytest.fixture(scope="session")
def classifier():
    """The committed model, loaded once for the whole session."""
    classifier = DigitClassifier()
    classifier.load()
    assert classifier.ready, classifier.load_error
    return classifier


def migrated_app(test_config):
    """The app with these settings, its database migrated to the newest version."""
    application = create_app(
        {"TESTING": True, "RATE_LIMIT": "", "CORRECTIONS_RATE_LIMIT": "", "BATCH_RATE_LIMIT": "", **test_config}
    )
    with application.app_context():
        upgrade()
    return application


@pytest.fixture
def app(classifier, tmp_path):
    return migrated_app(
        {"CLASSIFIER": classifier, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'app.sqlite3'}"}
    )


@pytest.fixture
def client(app):
    return app.test_client()


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


@pytest.fixture(scope="session")
def live_server(classifier, tmp_path_factory):
    """(URL, app): the real app with the committed model, served on 127.0.0.1 in a thread."""
    with serving_in_background(classifier, tmp_path_factory.mktemp("live-database")) as served:
        yield served


@pytest.fixture(scope="session")
def live_server_url(live_server):
    return live_server[0]


@pytest.fixture(scope="module")
def pad(browser, live_server_url):
    """One desktop page shared by a module's tests that clear it before drawing."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(live_server_url)
    yield page
    context.close()
