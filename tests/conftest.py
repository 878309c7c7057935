import os
import subprocess
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


from handwriting.pendigits import VALIDATION_WRITERS
from harness.apps import TEST_CLIENT_SALT, migrated_app, serving_in_background
from harness.browser import chromium_launch_options
from harness.postgres import postgres_server  # noqa: E402
from harness.strokes import pen_digit_text
from model.classifier import DigitClassifier  # noqa: E402
from web.database import db  # noqa: E402

ARTIFACTS = ROOT / "test-artifacts"




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




def missing(message):
    """Skip a test that needs what the machine lacks (a data set, a server), but never in CI."""
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
def postgres_of_its_own(monkeypatch):
    """A PostgreSQL server for one test that stops and starts it."""
    monkeypatch.setenv("DIGITPAD_CLIENT_SALT", TEST_CLIENT_SALT)
    yield from started_postgres()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """An empty database of each kind, for one test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'corrections.sqlite3'}"
        return
    server = request.getfixturevalue("postgres")
    url = server.create_database()
    # A server database needs the client hashes' salt set (web/client_salt.py): every app and
    # server the test makes on it reads it from the environment.
    request.getfixturevalue("monkeypatch").setenv("DIGITPAD_CLIENT_SALT", TEST_CLIENT_SALT)
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




@pytest.fixture
def app(classifier, tmp_path):
    return migrated_app(
        {"CLASSIFIER": classifier, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'app.sqlite3'}"}
    )


@pytest.fixture
def client(app):
    return app.test_client()




@pytest.fixture(scope="session")
def live_server(classifier, tmp_path_factory):
    """(URL, app): the real app with the committed model, served on 127.0.0.1 in a thread."""
    with serving_in_background(classifier, tmp_path_factory.mktemp("live-database")) as served:
        yield served


@pytest.fixture(scope="session")
def live_server_url(live_server):
    return live_server[0]




@pytest.fixture
def small_mnist(tmp_path):
    """A few hundred MNIST-shaped images in Keras's npz layout (strokes on black)."""
    rng = np.random.default_rng(0)

    def images(count):
        batch = np.zeros((count, 28, 28), dtype=np.uint8)
        for index in range(count):
            row, column = rng.integers(6, 22, size=2)
            batch[index, row - 4 : row + 4, column - 1 : column + 1] = 255
        return batch

    path = tmp_path / "mnist.npz"
    np.savez_compressed(
        path,
        x_train=images(300),
        y_train=rng.integers(0, 10, 300).astype(np.uint8),
        x_test=images(100),
        y_test=rng.integers(0, 10, 100).astype(np.uint8),
    )
    return path


@pytest.fixture
def small_pendigits(tmp_path):
    """A few pen digits in pendigits' format: two training writers and two validation writers."""
    rng = np.random.default_rng(0)
    digits = []
    for writer in (3, 4, *VALIDATION_WRITERS[:2]):
        for label in range(10):
            start = rng.integers(100, 400, size=2)
            stroke = [tuple(start + step * rng.integers(-30, 30, size=2)) for step in range(8)]
            digits.append(pen_digit_text(label, writer, [stroke]))
    path = tmp_path / "pendigits-orig.tra"
    path.write_text('.LEXICON "0" "1"\n' + "\n".join(digits) + "\n")
    return path
