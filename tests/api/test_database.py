"""The database layer: URLs, migrations up and down, and a PostgreSQL server that stops."""

import base64

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from harness.apps import migrated_app
from harness.strokes import encode, render, strokes_named
from web.database import Setting, db, sqlalchemy_url


@pytest.mark.parametrize(
    "given, expected",
    [
        ("postgres://user:secret@host:5432/name", "postgresql+psycopg://user:secret@host:5432/name"),
        ("postgresql://user@host/name", "postgresql+psycopg://user@host/name"),
        ("postgresql+psycopg://user@host/name", "postgresql+psycopg://user@host/name"),
        ("sqlite:////var/data/digitpad.sqlite3", "sqlite:////var/data/digitpad.sqlite3"),
    ],
)
def test_database_urls_use_the_installed_driver(given, expected):
    assert sqlalchemy_url(given) == expected


def test_without_database_url_sqlite_lives_in_the_instance_folder(classifier):
    from app import create_app

    app = create_app({"TESTING": True, "CLASSIFIER": classifier, "SQLALCHEMY_DATABASE_URI": ""})
    with app.app_context():
        assert db.engine.url.database == f"{app.instance_path}/digitpad.sqlite3"


def test_migrations_upgrade_an_empty_database_and_downgrade_again(classifier, database_url):
    app = migrated_app({"CLASSIFIER": classifier, "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        assert {"corrections", "settings", "alembic_version"} <= set(inspect(db.engine).get_table_names())
        # The client hashes' salt is never kept in the database (web/client_salt.py).
        assert db.session.scalar(select(Setting.value).where(Setting.name == "client_salt")) is None
        db.session.remove()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()  # And up again.
        assert db.session.scalar(select(Setting.value).where(Setting.name == "client_salt")) is None
        db.session.remove()
        db.engine.dispose()


def test_a_stopped_postgresql_gives_503_predictions_go_on_and_it_works_again_without_restart(
    classifier, postgres_of_its_own
):
    server = postgres_of_its_own
    three = encode(render(strokes_named("3-round")))
    body = {"image": "data:image/png;base64," + base64.b64encode(three).decode(), "label": 3, "kind": "right"}
    app = migrated_app(
        {"CLASSIFIER": classifier, "SQLALCHEMY_DATABASE_URI": server.create_database(), "DATABASE_TIMEOUT_SECONDS": 2}
    )
    client = app.test_client()
    assert client.post("/api/corrections", json=body).status_code == 201
    server.stop()
    refused = client.post("/api/corrections", json={**body, "label": 8, "kind": "wrong"})
    assert refused.status_code == 503
    assert "not saved" in refused.get_json()["error"]["message"]
    assert client.post("/predict/", json={"image": body["image"]}).get_json()["digit"] == 3
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["database"]["state"] == "unavailable"
    server.start()
    server.wait_until_accepting()
    assert client.get("/readyz").get_json()["database"]["state"] == "ok"
    again = client.post("/api/corrections", json={**body, "label": 8, "kind": "wrong"})
    assert again.status_code == 200 and again.get_json()["stored"] == "replaced"
    with app.app_context():
        db.engine.dispose()
