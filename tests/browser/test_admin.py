"""The review page in Chromium: the operator logs in, sees a quarantined drawing, rejects it,
sees it gone and logs out; under the page's CSP, with no error in the console."""

import re
import threading

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from harness.apps import migrated_app
from harness.browser import DESKTOP
from harness.strokes import encode, render, strokes_named
from tests.api.test_admin import ADMIN_SETTINGS, PASSWORD, add_correction, status_of
from web.database import Correction, db

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def admin_server(classifier, tmp_path_factory):
    """(URL, app): the app with the review page on, served on 127.0.0.1 in a thread (over http,
    so its session cookie is allowed without HTTPS)."""
    folder = tmp_path_factory.mktemp("admin-live")
    database = f"sqlite:///{folder}/admin.sqlite3"
    application = migrated_app({"CLASSIFIER": classifier, "SQLALCHEMY_DATABASE_URI": database, **ADMIN_SETTINGS,
                                "ADMIN_INSECURE_COOKIE": 1})
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", application
    server.shutdown()
    thread.join(timeout=5)
    with application.app_context():
        db.engine.dispose()


def test_the_operator_rejects_a_quarantined_drawing(browser, admin_server):
    url, application = admin_server
    seven = encode(render(strokes_named("7-plain")))
    kept = add_correction(application, label=1, predicted=7, writer="e" * 64)
    add_correction(application, label=9, status="trusted")
    # The drawing as the intake keeps it: a real stroke, shown as the thumbnail.
    with application.app_context():
        db.session.get(Correction, kept).drawing = seven
        db.session.commit()

    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.goto(f"{url}/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login\?next=(/|%2F)admin(/|%2F)$"))

    page.get_by_test_id("password").fill("not it")
    page.get_by_test_id("log-in").click()
    expect(page.get_by_test_id("refused")).to_have_text("Wrong password.")
    expect(page.get_by_test_id("password")).to_be_empty()
    assert [problem for problem in problems if "status of 401" not in problem] == []  # The refusal's own.
    problems.clear()
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("log-in").click()
    expect(page).to_have_url(f"{url}/admin/")
    [cookie] = context.cookies()
    assert cookie["name"] == "digitpad_admin" and cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    card = page.get_by_test_id("quarantined")
    expect(card).to_have_count(1)
    expect(card.get_by_test_id("label")).to_have_text("1")
    thumbnail = card.get_by_test_id("thumbnail")
    expect(thumbnail).to_be_visible()
    page.wait_for_function("image => image.complete && image.naturalWidth === 112", arg=thumbnail.element_handle())

    card.get_by_test_id("reject").click()
    expect(page.get_by_test_id("notice")).to_have_text(f"Correction {kept} rejected.")
    expect(page.get_by_test_id("quarantined")).to_have_count(0)
    expect(page.get_by_test_id("empty")).to_be_visible()
    assert status_of(application, kept) == "rejected"

    for name in ("Confusion", "Writers", "Models"):
        page.get_by_role("link", name=name).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(name)

    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("log-in")).to_be_visible()
    page.goto(f"{url}/admin/models")
    expect(page).to_have_url(re.compile(r"/admin/login\?next=(/|%2F)admin(/|%2F)models$"))
    assert problems == []  # Among them any CSP violation: no inline script or style.
    context.close()
