"""The review page, /admin/ (web/admin.py): off by default, nothing without the login, CSRF
tokens on every form, the quarantine's accept and reject, the figures, and promotion through
the registry's gate; on SQLite and on a real PostgreSQL where the database matters."""

import base64
import datetime
import hashlib
import io
import json
import re
import secrets

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from app import create_app
from harness.apps import migrated_app
from harness.strokes import encode, render, strokes_named
from web.database import Correction, ModelPromotion, ModelVersion, db
from web.model_registry import served_version
from web.settings import SettingError

PASSWORD = "a long operator password"
# Made once: a Werkzeug hash takes a moment by design.
ADMIN_SETTINGS = {
    "ADMIN_PASSWORD_HASH": generate_password_hash(PASSWORD),
    "SECRET_KEY": secrets.token_hex(32),
    "ADMIN_LOGIN_RATE_LIMIT": "",
}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


# --- Apps, rows and the operator -------------------------------------------------------------


def admin_app_on(classifier, database_url, **settings):
    return migrated_app({"CLASSIFIER": classifier, "SQLALCHEMY_DATABASE_URI": database_url, **ADMIN_SETTINGS,
                         **settings})


@pytest.fixture
def admin_db_app(classifier, database_url):
    """The app with the review page on, on a fresh database of each kind."""
    application = admin_app_on(classifier, database_url)
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def admin_app(classifier, tmp_path):
    """The app with the review page on, on SQLite: for what the database does not change."""
    application = admin_app_on(classifier, f"sqlite:///{tmp_path / 'admin.sqlite3'}")
    yield application
    with application.app_context():
        db.engine.dispose()


def drawing_png(label):
    """A small grey drawing, different for every label."""
    image = Image.new("L", (112, 112), 255)
    ImageDraw.Draw(image).text((40, 40), str(label), fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def add_correction(app, label=3, predicted=5, status="quarantined", writer="w" * 64, client="c" * 32, **extra):
    """A stored correction, as if sent and checked: its id."""
    png = drawing_png(f"{label}-{secrets.token_hex(4)}")
    with app.app_context():
        row = Correction(
            created_at=datetime.datetime(2026, 12, 7, 10, 0), label=label, kind="wrong", predicted=predicted,
            confidence=0.625, model_version="test-model", model_input=bytes(784), drawing=png,
            drawing_sha256=hashlib.sha256(png).hexdigest(), client=client, writer=writer, status=status, **extra,
        )
        db.session.add(row)
        db.session.commit()
        return row.id


def status_of(app, correction_id):
    with app.app_context():
        return db.session.scalar(select(Correction.status).where(Correction.id == correction_id))


def csrf_token(client, path="/admin/login"):
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return TOKEN.search(page.get_data(as_text=True)).group(1)


def log_in(client, password=PASSWORD):
    return client.post("/admin/login", data={"csrf_token": csrf_token(client), "password": password})


@pytest.fixture
def operator(admin_app):
    client = admin_app.test_client()
    assert log_in(client).status_code == 302
    return client


def sample_url(rule):
    return rule.build({"correction_id": 1, "version": "some-version"}, append_unknown=False)[1]


# --- Off, on, and the login ------------------------------------------------------------------


def test_the_review_page_is_off_unless_a_password_hash_is_set(client, app):
    assert not [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("admin.")]
    for path in ("/admin/", "/admin/login", "/admin/models", "/admin/corrections/1/drawing.png"):
        assert client.get(path).status_code == 404, path
    assert client.post("/admin/login", data={"password": PASSWORD}).status_code == 404
    # The public pages set no session cookie.
    assert "Set-Cookie" not in client.get("/api/model").headers


def test_on_without_a_secret_key_or_with_a_password_as_the_hash_it_refuses_to_start(classifier, tmp_path):
    database = f"sqlite:///{tmp_path / 'refused.sqlite3'}"
    for settings, message in [
        ({"SECRET_KEY": ""}, "DIGITPAD_SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "at least 32 characters"),
        ({"ADMIN_PASSWORD_HASH": PASSWORD}, "not a Werkzeug password hash"),
    ]:
        with pytest.raises(SettingError, match=message):
            create_app({"CLASSIFIER": classifier, "SQLALCHEMY_DATABASE_URI": database, **ADMIN_SETTINGS, **settings})


def test_no_admin_route_answers_without_the_login(admin_app):
    client = admin_app.test_client()
    add_correction(admin_app)
    rules = [rule for rule in admin_app.url_map.iter_rules()
             if rule.endpoint.startswith("admin.") and rule.endpoint != "admin.login"]
    assert len(rules) >= 8
    for rule in rules:
        url = sample_url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            if method == "GET":
                assert response.status_code == 302, url
                assert response.headers["Location"].startswith("/admin/login?next="), url
            else:
                assert response.status_code == 401, (method, url)
            assert b"test-model" not in response.data and b"PNG" not in response.data, url
    assert status_of(admin_app, 1) == "quarantined"


def test_a_wrong_password_is_refused_and_the_right_one_lets_the_operator_in(admin_app):
    client = admin_app.test_client()
    refused = log_in(client, "not the password")
    assert refused.status_code == 401 and "Wrong password" in refused.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    # The right password without the form's token: refused too (a login CSRF).
    assert client.post("/admin/login", data={"password": PASSWORD}).status_code == 400
    assert client.get("/admin/").status_code == 302

    logged_in = log_in(client)
    assert logged_in.status_code == 302 and logged_in.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    # After the login only a page of the review is a destination, never another site.
    assert client.get("/admin/login?next=https://evil.example/").headers["Location"] == "/admin/"
    assert client.get("/admin/login?next=/admin/models").headers["Location"] == "/admin/models"

    token = csrf_token(client, "/admin/")
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/admin/").status_code == 302


def test_the_session_cookie_is_secure_http_only_same_site_and_for_admin_only(classifier, tmp_path, admin_app):
    client = admin_app.test_client()
    cookie = log_in(client).headers["Set-Cookie"]
    assert cookie.startswith("digitpad_admin=")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/admin/", "Expires="):
        assert flag in cookie, cookie
    local = admin_app_on(classifier, f"sqlite:///{tmp_path / 'local.sqlite3'}", ADMIN_INSECURE_COOKIE=1)
    assert "Secure" not in log_in(local.test_client()).headers["Set-Cookie"]
    # The pages are never cached, and keep the app's CSP (no inline scripts or styles).
    page = client.get("/admin/")
    assert page.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'; style-src 'self'" in page.headers["Content-Security-Policy"]
    assert "style=" not in page.get_data(as_text=True) and "<script" not in page.get_data(as_text=True)


def test_login_attempts_are_rate_limited(classifier, tmp_path):
    application = admin_app_on(classifier, f"sqlite:///{tmp_path / 'limited.sqlite3'}",
                               ADMIN_LOGIN_RATE_LIMIT="3 per minute")
    client = application.test_client()
    statuses = [log_in(client, "guess").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert log_in(client).status_code == 429  # Even the right password waits.


# --- CSRF, and the public API without it -----------------------------------------------------


def test_every_form_needs_its_csrf_token(admin_app, operator):
    correction = add_correction(admin_app)
    for path, data in [
        (f"/admin/corrections/{correction}/review", {"decision": "reject"}),
        ("/admin/models/rollback", {}),
        ("/admin/models/some-version/promote", {}),
        ("/admin/logout", {}),
    ]:
        assert operator.post(path, data=data).status_code == 400, path
        assert operator.post(path, data={**data, "csrf_token": "forged"}).status_code == 400, path
    assert status_of(admin_app, correction) == "quarantined"
    assert operator.get("/admin/").status_code == 200  # Still logged in.


def test_the_public_api_takes_no_csrf_token_with_the_review_page_on(admin_app):
    client = admin_app.test_client()
    png = encode(render(strokes_named("7-plain")))
    answer = client.post("/predict/", data=png, headers={"Content-Type": "image/png"})
    assert answer.status_code == 200
    # The admin session is never read or set there.
    assert "Cookie" not in answer.headers.get("Vary", "") and "Set-Cookie" not in answer.headers
    assert client.post("/predict/number", data=png, headers={"Content-Type": "image/png"}).status_code == 200
    assert client.post("/predict/batch", json={"images": [base64.b64encode(png).decode()]}).status_code == 200
    image = "data:image/png;base64," + base64.b64encode(png).decode()
    assert client.post("/api/corrections", json={"image": image, "label": 7, "kind": "wrong"}).status_code == 201
    assert client.get("/").status_code == 200  # The page gives its writer cookie ...
    assert client.delete("/api/writer").status_code in (200, 204)  # ... which can forget them.


# --- The quarantine --------------------------------------------------------------------------


def test_accept_and_reject_set_the_status_of_a_quarantined_correction(admin_db_app):
    client = admin_db_app.test_client()
    assert log_in(client).status_code == 302
    first, second = add_correction(admin_db_app, label=1), add_correction(admin_db_app, label=2, writer=None)
    trusted = add_correction(admin_db_app, label=4, status="trusted")

    page = client.get("/admin/").get_data(as_text=True)
    assert page.count('data-testid="quarantined"') == 2 and "2 in quarantine" in page
    assert f"/admin/corrections/{first}/drawing.png" in page and f"/admin/corrections/{trusted}/" not in page
    assert "w" * 12 in page and "c" * 12 in page and "62.5%" in page
    thumbnail = client.get(f"/admin/corrections/{first}/drawing.png")
    assert thumbnail.status_code == 200 and thumbnail.mimetype == "image/png"
    assert Image.open(io.BytesIO(thumbnail.data)).size == (112, 112)
    assert client.get("/admin/corrections/999999/drawing.png").status_code == 404

    token = csrf_token(client, "/admin/")
    accepted = client.post(f"/admin/corrections/{first}/review", data={"csrf_token": token, "decision": "accept"})
    assert accepted.status_code == 302
    client.post(f"/admin/corrections/{second}/review", data={"csrf_token": token, "decision": "reject"})
    assert (status_of(admin_db_app, first), status_of(admin_db_app, second)) == ("accepted", "rejected")

    # Only a quarantined correction is reviewed: a trusted one, or one reviewed already, stays.
    again = client.post(f"/admin/corrections/{second}/review", data={"csrf_token": token, "decision": "accept"},
                        follow_redirects=True)
    assert "is not in quarantine" in again.get_data(as_text=True)
    client.post(f"/admin/corrections/{trusted}/review", data={"csrf_token": token, "decision": "reject"})
    assert (status_of(admin_db_app, second), status_of(admin_db_app, trusted)) == ("rejected", "trusted")
    unknown = client.post(f"/admin/corrections/{first}/review", data={"csrf_token": token, "decision": "delete"})
    assert unknown.status_code == 400
    assert "Nothing in quarantine" in client.get("/admin/").get_data(as_text=True)


def test_the_quarantine_is_shown_fifty_a_page(admin_app, operator):
    ids = [add_correction(admin_app) for _ in range(51)]
    first = operator.get("/admin/").get_data(as_text=True)
    assert first.count('data-testid="quarantined"') == 50 and "Page 1 of 2" in first
    second = operator.get("/admin/?page=2").get_data(as_text=True)
    assert second.count('data-testid="quarantined"') == 1 and f'data-id="{ids[-1]}"' in second


# --- Figures ---------------------------------------------------------------------------------


def test_the_confusion_matrices_and_the_writers(admin_db_app):
    client = admin_db_app.test_client()
    log_in(client)
    for _ in range(3):
        add_correction(admin_db_app, label=7, predicted=1, status="trusted", writer="a" * 64)
    add_correction(admin_db_app, label=7, predicted=7, status="quarantined", writer="a" * 64)
    add_correction(admin_db_app, label=2, predicted=2, status="unchecked", writer=None)

    page = client.get("/admin/confusion").get_data(as_text=True)
    every, trusted = page.split('data-testid="confusion-trusted"')
    assert "<svg" in every and "5 corrections" in every and "read 1, labelled 7: 3<" in every
    assert "read 7, labelled 7: 1<" in every and "read 2, labelled 2: 1<" in every
    assert "3 corrections" in trusted and "read 7, labelled 7: 0<" in trusted

    writers = client.get("/admin/writers").get_data(as_text=True)
    rows = re.findall(r"<tr>(.*?)</tr>", writers, re.DOTALL)
    cells = [found for found in (re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL) for row in rows) if found]
    assert "a" * 12 in cells[0][0] and cells[0][1:] == ["4", "1", "80.0%"]
    assert "no writer cookie" in cells[1][0] and cells[1][1:] == ["1", "0", "20.0%"]


# --- Model versions --------------------------------------------------------------------------


def add_version(app, version, mnist_accuracy, served=False):
    """A version's row with its figures, without files: the gate reads the figures alone."""
    figures = {"mnist_test": {"accuracy": mnist_accuracy, "images": 10_000},
               "validation_writers": {"accuracy": 0.9, "images": 3_000},
               "held_out_corrections": {"accuracy": None, "images": 0}}
    with app.app_context():
        db.session.add(ModelVersion(version=version, added_at=datetime.datetime(2026, 12, 7, 10, 0),
                                    model_metadata=json.dumps({"version": version}),
                                    evaluation=json.dumps(figures), files_sha256="0" * 64))
        db.session.flush()  # The version's row before the log's, which refers to it.
        if served:
            db.session.add(ModelPromotion(at=datetime.datetime(2026, 12, 7, 10, 0), action="initial",
                                          version=version, previous=None, forced=False))
        db.session.commit()


def served(app):
    with app.app_context():
        return served_version()


def test_promote_goes_through_the_gate_and_rollback_restores(admin_db_app):
    client = admin_db_app.test_client()
    log_in(client)
    add_version(admin_db_app, "first-network", 0.99, served=True)
    add_version(admin_db_app, "worse-network", 0.95)
    add_version(admin_db_app, "better-network", 0.995)
    page = client.get("/admin/models").get_data(as_text=True)
    assert "99.00%" in page and "95.00%" in page and "none yet" in page
    assert page.count('data-testid="promote"') == 2 and "force" not in page.lower().replace("forcing", "")
    token = csrf_token(client, "/admin/models")

    refused = client.post("/admin/models/worse-network/promote", data={"csrf_token": token}, follow_redirects=True)
    message = refused.get_data(as_text=True)
    assert "reads worse than the served first-network" in message and "mnist test: 95.00% against 99.00%" in message
    assert "Nothing changed" in message and served(admin_db_app) == "first-network"

    promoted = client.post("/admin/models/better-network/promote", data={"csrf_token": token}, follow_redirects=True)
    assert "Promoted better-network (was first-network)" in promoted.get_data(as_text=True)
    assert served(admin_db_app) == "better-network"
    log = client.get("/admin/models").get_data(as_text=True)
    assert "passed" in log and "forced past it" not in log

    back = client.post("/admin/models/rollback", data={"csrf_token": token}, follow_redirects=True)
    assert "Rolled back to first-network (was better-network)" in back.get_data(as_text=True)
    assert served(admin_db_app) == "first-network"
    nothing = client.post("/admin/models/rollback", data={"csrf_token": token}, follow_redirects=True)
    assert "Nothing to roll back to" in nothing.get_data(as_text=True)
    missing = client.post("/admin/models/no-such-network/promote", data={"csrf_token": token}, follow_redirects=True)
    assert "No version no-such-network in the registry" in missing.get_data(as_text=True)
    with admin_db_app.app_context():
        actions = [row.action for row in db.session.scalars(select(ModelPromotion).order_by(ModelPromotion.id))]
    assert actions == ["initial", "promote", "rollback"]


def test_the_first_promotion_is_left_to_the_command_line(admin_app, operator):
    """With nothing served yet, promote would measure the committed model first: minutes."""
    add_version(admin_app, "candidate-network", 0.99)
    token = csrf_token(operator, "/admin/models")
    answer = operator.post("/admin/models/candidate-network/promote", data={"csrf_token": token},
                           follow_redirects=True)
    assert "models promote candidate-network" in answer.get_data(as_text=True)
    assert served(admin_app) is None
