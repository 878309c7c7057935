"""POST /api/corrections and the `corrections` commands, on SQLite and on a real PostgreSQL."""

import base64
import io
import json
import sqlite3

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select, text

from harness.apps import migrated_app
from harness.strokes import encode, render, strokes_named
from web.database import Correction, db


def data_url(png):
    return "data:image/png;base64," + base64.b64encode(png).decode()


@pytest.fixture(scope="module")
def seven_png():
    return encode(render(strokes_named("7-plain")))


@pytest.fixture(scope="module")
def four_png():
    return encode(render(strokes_named("4-closed")))


def post(client, png, label, kind="wrong", **extra):
    return client.post("/api/corrections", json={"image": data_url(png), "label": label, "kind": kind, **extra})


def rows(app):
    with app.app_context():
        return db.session.scalars(select(Correction).order_by(Correction.id)).all()


def test_a_correction_is_stored_with_the_servers_own_reading(db_app, db_client, seven_png, classifier):
    response = post(db_client, seven_png, 1)
    assert response.status_code == 201
    answer = response.get_json()
    assert answer["stored"] == "new" and answer["label"] == 1 and answer["kind"] == "wrong"
    # The server read the drawing itself: a 7, whatever the page might claim.
    assert answer["predicted"] == 7 and answer["confidence"] > 0.9
    assert answer["model_version"] == classifier.version
    [row] = rows(db_app)
    assert row.id == answer["id"]
    assert (row.label, row.kind, row.predicted) == (1, "wrong", 7)
    expected_input = classifier.preprocess(seven_png)
    assert np.array_equal(np.frombuffer(row.model_input, dtype=np.uint8).reshape(28, 28), expected_input)
    # A drawing is no longer kept as sent: its pixels, encoded again as a grey PNG.
    kept = Image.open(io.BytesIO(row.drawing))
    assert kept.format == "PNG" and kept.mode == "L" and kept.size == (112, 112)
    assert np.array_equal(np.asarray(kept), np.asarray(Image.open(io.BytesIO(seven_png)).convert("L")))
    assert len(row.drawing_sha256) == 64 and row.created_at is not None and row.updated_at is None
    # A salted hash of the address, not the address.
    assert len(row.client) == 32 and "127.0.0.1" not in row.client


def test_the_same_drawing_is_stored_once_and_choosing_again_replaces_the_label(db_app, db_client, seven_png):
    first = post(db_client, seven_png, 1).get_json()
    again = post(db_client, seven_png, 1)
    assert again.status_code == 200
    assert again.get_json()["id"] == first["id"] and again.get_json()["stored"] == "unchanged"
    replaced = post(db_client, seven_png, 7, kind="right")
    assert replaced.status_code == 200
    assert replaced.get_json() | {"stored": None} == first | {"label": 7, "kind": "right", "stored": None}
    assert replaced.get_json()["stored"] == "replaced"
    [row] = rows(db_app)
    assert (row.label, row.kind) == (7, "right") and row.updated_at is not None


def test_an_upload_is_corrected_as_a_form_and_kept_small(db_app, db_client):
    # A large photo-like JPEG: kept as a 112-pixel grey PNG, not as sent.
    large = render(strokes_named("4-closed"), size=600).convert("RGB")
    jpeg = encode(large, format="JPEG", quality=90)
    response = db_client.post(
        "/api/corrections", data={"file": (io.BytesIO(jpeg), "four.jpg"), "label": "4", "kind": "right"}
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["predicted"] == 4
    [row] = rows(db_app)
    kept = Image.open(io.BytesIO(row.drawing))
    assert kept.format == "PNG" and kept.mode == "L" and max(kept.size) == 112
    assert len(row.drawing) < len(jpeg)


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"label": 10, "kind": "wrong"}, 400, ["0 to 9"]),
        ({"label": -1, "kind": "wrong"}, 400, ["0 to 9"]),
        ({"label": "3", "kind": "wrong"}, 400, ["0 to 9"]),
        ({"label": True, "kind": "wrong"}, 400, ["0 to 9"]),
        ({"label": 3.0, "kind": "wrong"}, 400, ["0 to 9"]),
        ({"kind": "wrong"}, 400, ["0 to 9"]),
        ({"label": 3}, 400, ["kind"]),
        ({"label": 3, "kind": "maybe"}, 400, ["kind"]),
        ({"label": 3, "kind": "wrong", "predicted": 3}, 400, ["Unknown", "predicted"]),
        ({"label": 3, "kind": "wrong", "image": {"nested": [[[[[[[[[1]]]]]]]]]}}, 400, ["nested"]),
        ({"label": 3, "kind": "wrong", "image": "data:image/png;base64,AAAA"}, 400, ["not an image"]),
        ({"label": 3, "kind": "wrong", "image": 7}, 400, ["'image' is the drawing", "label", "kind"]),
    ],
    ids=["ten", "negative", "string", "bool", "float", "no-label", "no-kind", "bad-kind", "unknown-field",
         "deep-json", "not-an-image", "image-not-text"],
)
def test_bad_corrections_are_refused_with_a_message_and_nothing_is_stored(
    db_app, db_client, seven_png, body, status, words
):
    response = db_client.post("/api/corrections", json={"image": data_url(seven_png), **body})
    assert response.status_code == status
    message = response.get_json()["error"]["message"]
    assert all(word in message for word in words), message
    assert rows(db_app) == []


@pytest.mark.parametrize(
    "payload, content_type, status",
    [
        (b"[1, 2]", "application/json", 400),
        (b"{not json", "application/json", 400),
        (b"label=3&kind=wrong", "application/x-www-form-urlencoded", 400),
        (b"\x89PNG...", "image/png", 400),
    ],
    ids=["json-array", "broken-json", "urlencoded", "raw-png"],
)
def test_bodies_that_are_not_a_correction_are_refused(db_app, db_client, payload, content_type, status):
    response = db_client.post("/api/corrections", data=payload, content_type=content_type)
    assert response.status_code == status
    assert response.get_json()["error"]["message"]
    assert rows(db_app) == []


def test_a_form_with_unknown_fields_or_no_file_is_refused(db_client, seven_png):
    response = db_client.post(
        "/api/corrections",
        data={"file": (io.BytesIO(seven_png), "7.png"), "label": "7", "kind": "right", "extra": "x"},
    )
    assert response.status_code == 400 and "extra" in response.get_json()["error"]["message"]
    response = db_client.post("/api/corrections", data={"label": "7", "kind": "right"})
    assert response.status_code == 400 and "'file'" in response.get_json()["error"]["message"]


def test_a_drawing_without_ink_cannot_be_corrected(db_app, db_client):
    blank = encode(Image.new("L", (112, 112), 255))
    response = post(db_client, blank, 3)
    assert response.status_code == 422 and "no ink" in response.get_json()["error"]["message"]
    assert rows(db_app) == []


def test_a_body_over_the_limit_is_refused(classifier, tmp_path, seven_png):
    app = migrated_app(
        {"CLASSIFIER": classifier, "MAX_CONTENT_LENGTH": 10_000,
         "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    )
    padding = "A" * 20_000
    response = app.test_client().post(
        "/api/corrections", json={"image": data_url(seven_png) + padding, "label": 7, "kind": "right"}
    )
    assert response.status_code == 413 and "10,000 bytes" in response.get_json()["error"]["message"]


def test_corrections_have_their_own_rate_limit(classifier, tmp_path, seven_png, four_png):
    app = migrated_app(
        {"CLASSIFIER": classifier, "CORRECTIONS_RATE_LIMIT": "2 per minute",
         "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    )
    client = app.test_client()
    assert post(client, seven_png, 1).status_code == 201
    assert post(client, four_png, 4, "right").status_code == 201
    refused = post(client, seven_png, 2)
    assert refused.status_code == 429 and refused.get_json()["error"]["status"] == 429
    # Predictions are not counted against it.
    assert client.post("/predict/", json={"image": data_url(seven_png)}).status_code == 200
    assert len(rows(app)) == 2


def test_past_the_row_cap_new_corrections_get_507_and_stored_ones_can_still_change(
    classifier, database_url, seven_png, four_png
):
    app = migrated_app({"CLASSIFIER": classifier, "CORRECTIONS_MAX_ROWS": 1, "SQLALCHEMY_DATABASE_URI": database_url})
    client = app.test_client()
    assert post(client, seven_png, 1).status_code == 201
    full = post(client, four_png, 4, "right")
    assert full.status_code == 507
    assert "full" in full.get_json()["error"]["message"]
    assert post(client, seven_png, 7, "right").get_json()["stored"] == "replaced"
    assert [row.label for row in rows(app)] == [7]
    with app.app_context():
        db.engine.dispose()


def test_readyz_reports_the_database(db_client, database_url):
    answer = db_client.get("/readyz").get_json()
    assert answer["status"] == "ready"
    assert answer["database"]["state"] == "ok"
    assert answer["database"]["dialect"] == ("sqlite" if database_url.startswith("sqlite") else "postgresql")


def test_a_locked_sqlite_database_gives_503_and_predictions_go_on(classifier, tmp_path, seven_png, four_png):
    path = tmp_path / "locked.sqlite3"
    app = migrated_app(
        {"CLASSIFIER": classifier, "DATABASE_TIMEOUT_SECONDS": 0.2, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"}
    )
    client = app.test_client()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # Another process writing, for longer than the timeout.
    try:
        refused = post(client, seven_png, 1)
        assert refused.status_code == 503
        assert "not saved" in refused.get_json()["error"]["message"]
        assert refused.headers["Retry-After"]
        assert client.post("/predict/", json={"image": data_url(four_png)}).get_json()["digit"] == 4
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # Back without a restart.
    assert post(client, seven_png, 1).status_code == 201


def test_sqlite_runs_in_wal_mode_with_full_sync_and_a_busy_timeout(app):
    with app.app_context():
        connection = db.session.connection()
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000


def test_corrections_are_counted_in_prometheus(db_client, seven_png):
    before = counter_value(db_client, 'digitpad_corrections_total{kind="wrong",stored="new"}')
    post(db_client, seven_png, 1)
    after = counter_value(db_client, 'digitpad_corrections_total{kind="wrong",stored="new"}')
    assert after == before + 1


def counter_value(client, name):
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


# ---------------------------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------------------------


def test_stats_counts_by_label_kind_and_version_and_tabulates_confusions(db_app, db_client, seven_png, four_png):
    post(db_client, seven_png, 1)
    post(db_client, four_png, 4, "right")
    output = db_app.test_cli_runner().invoke(args=["corrections", "stats"]).output
    assert "2 corrections" in output
    assert "By label" in output and "By kind" in output and "By model version" in output
    table = output.split("Predicted (rows) against the right digit (columns):")[1].splitlines()
    row_seven = next(line for line in table if line.split() and line.split()[0] == "7")
    assert row_seven.split()[1:] == ["0", "1", "0", "0", "0", "0", "0", "0", "0", "0"]


def test_export_writes_the_arrays_for_training(db_app, db_client, seven_png, four_png, tmp_path, classifier):
    first = post(db_client, seven_png, 1).get_json()
    second = post(db_client, four_png, 4, "right").get_json()
    out = tmp_path / "export" / "corrections.npz"
    result = db_app.test_cli_runner().invoke(args=["corrections", "export", "--out", str(out)])
    assert result.exit_code == 0 and "2 corrections" in result.output
    with np.load(out) as arrays:  # No pickles: every array loads with allow_pickle=False.
        assert list(arrays["ids"]) == [first["id"], second["id"]]
        assert arrays["images"].shape == (2, 28, 28) and arrays["images"].dtype == np.uint8
        assert np.array_equal(arrays["images"][0], classifier.preprocess(seven_png))
        assert list(arrays["labels"]) == [1, 4] and list(arrays["predicted"]) == [7, 4]
        assert list(arrays["kinds"]) == ["wrong", "right"]
        assert list(arrays["model_versions"]) == [classifier.version] * 2
        assert arrays["created_at"].dtype == np.dtype("datetime64[ms]")
        with db_app.app_context():
            stored = [np.datetime64(row.created_at, "ms") for row in rows(db_app)]
        assert list(arrays["created_at"]) == stored
        assert len(set(arrays["clients"])) == 1 and len(arrays["clients"][0]) == 32


def test_an_empty_store_exports_empty_arrays(db_app, tmp_path):
    out = tmp_path / "empty.npz"
    result = db_app.test_cli_runner().invoke(args=["corrections", "export", "--out", str(out)])
    assert result.exit_code == 0 and "Wrote 0 corrections" in result.output
    with np.load(out) as arrays:
        assert arrays["images"].shape == (0, 28, 28) and len(arrays["ids"]) == 0
    assert db_app.test_cli_runner().invoke(args=["corrections", "stats"]).output.strip() == "0 corrections"


def test_delete_before_a_date(db_app, db_client, seven_png, four_png):
    post(db_client, seven_png, 1)
    post(db_client, four_png, 4, "right")
    with db_app.app_context():
        db.session.execute(text("UPDATE corrections SET created_at = '2020-01-01 00:00:00' WHERE label = 1"))
        db.session.commit()
    runner = db_app.test_cli_runner()
    result = runner.invoke(args=["corrections", "delete", "--before", "2021-01-01", "--yes"])
    assert result.exit_code == 0 and "Deleted 1 corrections" in result.output
    assert [row.label for row in rows(db_app)] == [4]
    # Without --yes it asks, and no answer keeps everything.
    result = runner.invoke(args=["corrections", "delete", "--before", "2100-01-01"], input="n\n")
    assert result.exit_code != 0 and [row.label for row in rows(db_app)] == [4]
    result = runner.invoke(args=["corrections", "delete", "--before", "yesterday"])
    assert result.exit_code == 2 and "yesterday" in result.output


def test_json_is_the_body_the_page_sends(db_client, seven_png):
    # Exactly what static/js posts: the data URL it sent to /predict/, as JSON text.
    body = json.dumps({"image": data_url(seven_png), "label": 1, "kind": "wrong"})
    response = db_client.post("/api/corrections", data=body, content_type="application/json")
    assert response.status_code == 201
