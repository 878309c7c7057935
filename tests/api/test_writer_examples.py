"""A writer's own corrections count for that writer at once, and for nobody else (web/writers.py,
web/writer_examples.py, web/forget_me.py), on SQLite and on PostgreSQL."""

import base64

import pytest
from sqlalchemy import func, select

from handwriting.numbers import write_digits
from harness.apps import migrated_app
from harness.strokes import encode, render, strokes_named
from web.database import Correction, Writer, db
from web.writers import WRITER_COOKIE


def data_url(png):
    return "data:image/png;base64," + base64.b64encode(png).decode()


@pytest.fixture(scope="module")
def seven():
    return data_url(encode(render(strokes_named("7-plain"))))


def new_writer(app):
    """A test client that opened the page, so that it carries a writer token."""
    client = app.test_client()
    client.get("/")
    assert client.get_cookie(WRITER_COOKIE) is not None
    return client


def test_the_page_issues_an_anonymous_writer_token_in_a_safe_cookie(db_app):
    response = db_app.test_client().get("/")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{WRITER_COOKIE}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # Plain HTTP here; over HTTPS the cookie is Secure.
    secure = db_app.test_client().get("/", base_url="https://localhost").headers["Set-Cookie"]
    assert "Secure" in secure
    # A writer who has one keeps it.
    writer = new_writer(db_app)
    assert "Set-Cookie" not in writer.get("/").headers


def test_a_writers_correction_changes_their_next_answer_and_nobody_elses(db_app, seven):
    anonymous, me, other = db_app.test_client(), new_writer(db_app), new_writer(db_app)
    before = anonymous.post("/predict/", json={"image": seven})
    assert before.get_json()["digit"] == 7 and "personal" not in before.get_json()
    assert me.post("/predict/", json={"image": seven}).get_json()["personal"] is False

    # Told it was a 1 (as a person who writes ones this way would).
    stored = me.post("/api/corrections", json={"image": seven, "label": 1, "kind": "wrong"})
    assert stored.status_code == 201

    mine = me.post("/predict/", json={"image": seven}).get_json()
    assert (mine["digit"], mine["personal"]) == (1, True)
    theirs = other.post("/predict/", json={"image": seven}).get_json()
    assert (theirs["digit"], theirs["personal"]) == (7, False)
    # Without a token, the same bytes as before any correction.
    assert anonymous.post("/predict/", json={"image": seven}).data == before.data


def test_every_worker_uses_a_correction_made_through_another(db_app, database_url, classifier, seven):
    me = new_writer(db_app)
    second_worker = migrated_app({"CLASSIFIER": classifier, "SQLALCHEMY_DATABASE_URI": database_url})
    through_the_second = second_worker.test_client()
    through_the_second.set_cookie(WRITER_COOKIE, me.get_cookie(WRITER_COOKIE).value)
    # The second worker caches the writer's (empty) examples first.
    assert through_the_second.post("/predict/", json={"image": seven}).get_json()["personal"] is False
    me.post("/api/corrections", json={"image": seven, "label": 1, "kind": "wrong"})
    assert through_the_second.post("/predict/", json={"image": seven}).get_json()["digit"] == 1
    # And back: the writer chooses again, through the first worker.
    me.post("/api/corrections", json={"image": seven, "label": 7, "kind": "right"})
    assert through_the_second.post("/predict/", json={"image": seven}).get_json()["digit"] == 7
    with second_worker.app_context():
        db.engine.dispose()


def test_number_mode_uses_the_same_examples_for_each_digit(db_app):
    number = encode(write_digits([strokes_named("3-round"), strokes_named("7-plain")], "37", [0.4]).image)
    me, other = new_writer(db_app), new_writer(db_app)
    assert me.post("/predict/number", json={"image": data_url(number)}).get_json()["number"] == "37"
    # The 7 as a lone drawing, a little smaller and larger too, corrected to a 1.
    for scale in (0.9, 1.0, 1.1):
        seven = data_url(encode(render(strokes_named("7-plain"), scale=scale)))
        assert me.post("/api/corrections", json={"image": seven, "label": 1, "kind": "wrong"}).status_code == 201
    mine = me.post("/predict/number", json={"image": data_url(number)}).get_json()
    assert (mine["number"], mine["personal"]) == ("31", True)
    theirs = other.post("/predict/number", json={"image": data_url(number)}).get_json()
    assert (theirs["number"], theirs["personal"]) == ("37", False)


def test_forget_me_deletes_the_writers_corrections_and_drops_the_cookie(db_app, seven):
    anonymous, me, other = db_app.test_client(), new_writer(db_app), new_writer(db_app)
    plain = anonymous.post("/predict/", json={"image": seven}).data
    me.post("/api/corrections", json={"image": seven, "label": 1, "kind": "wrong"})
    other.post("/api/corrections", json={"image": data_url(encode(render(strokes_named("1-plain")))),
                                         "label": 1, "kind": "right"})
    with db_app.app_context():
        assert db.session.scalar(select(func.count(Correction.id))) == 2

    forgotten = me.delete("/api/writer")
    assert forgotten.status_code == 200
    assert forgotten.get_json() == {"forgotten": True, "corrections_deleted": 1}
    assert f"{WRITER_COOKIE}=;" in forgotten.headers["Set-Cookie"] and "Max-Age=0" in forgotten.headers["Set-Cookie"]
    assert me.get_cookie(WRITER_COOKIE) is None
    # The next answer is the anonymous one, to the byte; the other writer's correction is kept.
    assert me.post("/predict/", json={"image": seven}).data == plain
    with db_app.app_context():
        assert db.session.scalar(select(func.count(Correction.id))) == 1
        assert db.session.scalar(select(func.count(Writer.id))) == 1
    # Without a token there is nothing to forget.
    assert anonymous.delete("/api/writer").get_json() == {"forgotten": False, "corrections_deleted": 0}


def test_forget_me_from_another_site_is_refused(db_app, seven):
    me = new_writer(db_app)
    me.post("/api/corrections", json={"image": seven, "label": 1, "kind": "wrong"})
    refused = me.delete("/api/writer", headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403 and refused.get_json()["error"]["message"]
    assert me.post("/predict/", json={"image": seven}).get_json()["digit"] == 1


def test_another_writer_cannot_relabel_a_writers_example(db_app, seven):
    me, other = new_writer(db_app), new_writer(db_app)
    me.post("/api/corrections", json={"image": seven, "label": 1, "kind": "wrong"})
    assert other.post("/api/corrections", json={"image": seven, "label": 2, "kind": "wrong"}).get_json()["stored"] == "unchanged"
    assert me.post("/predict/", json={"image": seven}).get_json()["digit"] == 1


def test_a_writer_keeps_only_their_newest_examples(db_app, seven, monkeypatch):
    monkeypatch.setattr("web.writer_examples.MOST_EXAMPLES", 2)
    me = new_writer(db_app)
    me.post("/api/corrections", json={"image": seven, "label": 1, "kind": "wrong"})
    for scale in (0.5, 0.55):  # Two newer examples, unlike the seven at full size.
        other_one = data_url(encode(render(strokes_named("1-plain"), scale=scale)))
        me.post("/api/corrections", json={"image": other_one, "label": 1, "kind": "right"})
    assert me.post("/predict/", json={"image": seven}).get_json()["digit"] == 7


def test_predictions_go_on_when_the_writers_examples_cannot_be_read(db_app, seven, monkeypatch):
    from sqlalchemy.exc import OperationalError

    me = new_writer(db_app)
    me.post("/api/corrections", json={"image": seven, "label": 1, "kind": "wrong"})

    def unavailable(writer):
        raise OperationalError("SELECT revision", {}, Exception("the database is down"))

    monkeypatch.setattr("web.writer_examples.revision_of", unavailable)
    answer = me.post("/predict/", json={"image": seven})
    assert answer.status_code == 200 and answer.get_json()["digit"] == 7 and answer.get_json()["personal"] is False

