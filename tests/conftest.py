import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from model.service import DigitClassifier  # noqa: E402

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
    message = f"{what} not found: set {variable} (now {path!r})"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def mnist_path():
    return data_file("MNIST_PATH", "MNIST data (mnist.npz)")


@pytest.fixture(scope="session")
def pendigits_file():
    return data_file("PENDIGITS_PATH", "pen strokes (pendigits-orig.tra)")


@pytest.fixture(scope="session")
def classifier():
    """The committed model, loaded once for the whole session."""
    classifier = DigitClassifier()
    classifier.load()
    assert classifier.ready, classifier.load_error
    return classifier


@pytest.fixture
def app(classifier):
    return create_app({"TESTING": True, "CLASSIFIER": classifier, "RATE_LIMIT": ""})


@pytest.fixture
def client(app):
    return app.test_client()


@contextmanager
def serving_in_background(classifier):
    """The real app with this classifier, served on 127.0.0.1 in a thread; yields its URL."""
    application = create_app({"TESTING": True, "CLASSIFIER": classifier, "RATE_LIMIT": ""})
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def live_server_url(classifier):
    """The real app with the committed model, served on 127.0.0.1 in a background thread."""
    with serving_in_background(classifier) as url:
        yield url


@pytest.fixture(scope="module")
def pad(browser, live_server_url):
    """One desktop page shared by a module's tests that clear it before drawing."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(live_server_url)
    yield page
    context.close()
