"""Untrusted input, as an attacker sends it: cross-site posts, padded drawings, floods of
corrections, hostile JSON, registry names that would be paths, and what is kept of clients."""

import base64
import io
import json
import os
import secrets
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from flask_migrate import downgrade, upgrade
from PIL import Image, ImageCms, PngImagePlugin
from sqlalchemy import func, inspect, select

from app import create_app
from harness.answers import assert_error
from harness.apps import migrated_app
from harness.model_folders import copy_of_committed_model
from harness.strokes import STROKE_DIGITS, encode, render, strokes_named
from model.pad import SENT_SIZE
from web.client_salt import SALT_FILE, instance_salt
from web.corrections import MAX_DRAWING_BYTES
from web.corrections_usage import KEPT_SIZE
from web.database import Correction, CorrectionsUsage, ModelFile, ModelVersion, Setting, client_hash, db
from web.image_input import json_nesting_depth, json_structure_refusal
from web.model_registry import RegistryError, add_version, version_folder
from web.settings import SettingError
from web.writers import new_token, writer_id

CHUNK_BYTES = 1_200_000


def drawing(name):
    return encode(render(strokes_named(name)))


def data_url(png):
    return "data:image/png;base64," + base64.b64encode(png).decode()


def post_json(client, png, label, kind="wrong", **options):
    return client.post("/api/corrections", json={"image": data_url(png), "label": label, "kind": kind}, **options)


def post_form(client, png, label, kind="wrong", **options):
    form = {"file": (io.BytesIO(png), "digit.png"), "label": str(label), "kind": kind}
    return client.post("/api/corrections", data=form, **options)


def rows(app):
    with app.app_context():
        return db.session.scalars(select(Correction).order_by(Correction.id)).all()


def usage_row(app):
    with app.app_context():
        row = db.session.get(CorrectionsUsage, 1)
        actual = db.session.execute(
            select(func.count(Correction.id),
                   func.coalesce(func.sum(KEPT_SIZE), 0))
        ).one()
        return (row.stored_rows, row.stored_bytes), tuple(actual)


def png_chunks(png):
    """The chunk types of a PNG, in order."""
    kinds, position = [], 8
    while position < len(png):
        length, kind = struct.unpack(">I4s", png[position : position + 8])
        kinds.append(kind.decode("ascii"))
        position += 12 + length
    return kinds


def padded(png, chunk_bytes=CHUNK_BYTES):
    """The same PNG with a large text chunk, an ICC profile and EXIF added."""
    image = Image.open(io.BytesIO(png))
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", secrets.token_hex(chunk_bytes // 2))  # Incompressible: as sent.
    exif = Image.Exif()
    exif[0x010E] = "a description the attacker wrote"
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG", pnginfo=info, exif=exif.tobytes(), icc_profile=profile)
    return buffer.getvalue()


# --- 1. Cross-site requests ------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers, allowed",
    [
        ({"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, False),
        ({"Sec-Fetch-Site": "cross-site"}, False),
        ({"Sec-Fetch-Site": "same-site", "Origin": "https://sub.localhost"}, False),
        ({"Origin": "https://evil.example"}, False),
        ({"Origin": "null"}, False),
        ({"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}, True),
        ({"Sec-Fetch-Site": "none"}, True),
        ({"Origin": "http://localhost"}, True),
        ({}, True),  # Not a browser: curl, a script.
    ],
)
def test_cross_site_browser_requests_are_refused_and_nothing_is_stored(app, client, headers, allowed):
    response = post_form(client, drawing("7-plain"), 3, headers=headers)
    if allowed:
        assert response.status_code == 201, response.get_json()
        assert len(rows(app)) == 1
    else:
        assert_error(response, 403, "cross-site", "refused")
        assert rows(app) == []


def test_the_attackers_cross_site_form_is_refused_on_both_databases(db_app, db_client):
    response = post_form(db_client, drawing("7-plain"), 3,
                         headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert_error(response, 403, "https://evil.example")
    assert rows(db_app) == []


def test_origins_allowed_by_cors_may_post_from_their_pages(classifier, tmp_path):
    app = migrated_app({"CLASSIFIER": classifier, "CORS_ORIGINS": "https://friend.example, https://other.example",
                        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    client = app.test_client()
    friend = {"Origin": "https://friend.example", "Sec-Fetch-Site": "cross-site"}
    assert post_form(client, drawing("7-plain"), 3, headers=friend).status_code == 201
    evil = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    assert_error(post_form(client, drawing("4-closed"), 4, headers=evil), 403)


# --- 2. A drawing is kept as its pixels, re-encoded ------------------------------------------


def test_a_drawing_padded_with_chunks_is_kept_as_its_pixels_in_a_small_row(db_app, db_client):
    plain = drawing("7-plain")
    sent = padded(plain)
    assert len(sent) > CHUNK_BYTES
    response = post_form(db_client, sent, 3)
    assert response.status_code == 201, response.get_json()
    [row] = rows(db_app)
    assert png_chunks(row.drawing) == ["IHDR", "IDAT", "IEND"]  # No text, EXIF or ICC profile.
    kept = Image.open(io.BytesIO(row.drawing))
    assert kept.mode == "L" and kept.size == (SENT_SIZE, SENT_SIZE)
    assert np.array_equal(np.asarray(kept), np.asarray(Image.open(io.BytesIO(plain)).convert("L")))
    # The row's bytes, as the database holds them: at most 20 KB.
    with db_app.app_context():
        sizes = db.session.execute(
            select(func.length(Correction.drawing), func.length(Correction.model_input),
                   func.length(Correction.drawing_sha256), func.length(Correction.client),
                   func.length(Correction.model_version))
        ).one()
    print(f"a correction sent with a {len(sent):,}-byte PNG is kept in {sum(sizes):,} bytes {tuple(sizes)}")
    assert sum(sizes) + 64 <= 20_000  # 64: the numbers and dates.
    # The same drawing without its chunks, or as a data URL, is the same row.
    again = post_json(db_client, plain, 3)
    assert again.status_code == 200 and again.get_json()["stored"] == "unchanged"
    assert again.get_json()["id"] == response.get_json()["id"]


def test_twenty_padded_drawings_take_no_more_than_20_kb_each(app, client):
    names = [name for name, _, _ in STROKE_DIGITS][:20]
    for index, name in enumerate(names):
        assert post_form(client, padded(drawing(name), CHUNK_BYTES), index % 10).status_code == 201
    kept = rows(app)
    assert len(kept) == 20
    assert max(len(row.drawing) + len(row.model_input) for row in kept) <= 20_000
    assert sum(len(row.drawing) + len(row.model_input) for row in kept) < 20 * 20_000


def test_the_largest_drawing_kept_is_bounded(app):
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (SENT_SIZE, SENT_SIZE), dtype=np.uint8))
    from web.corrections import stored_drawing

    with app.app_context():
        png, key, _ = stored_drawing(encode(noise))
    assert len(png) <= MAX_DRAWING_BYTES < 13_500 and len(key) == 64
    print(f"112 x 112 of noise kept in {len(png):,} bytes (bound {MAX_DRAWING_BYTES:,})")


# --- 3. The byte cap and the running total ----------------------------------------------------


def test_past_the_byte_cap_a_correction_gets_507_and_deleting_frees_room(classifier, database_url):
    app = migrated_app({"CLASSIFIER": classifier, "CORRECTIONS_MAX_BYTES": 2_500,
                        "SQLALCHEMY_DATABASE_URI": database_url})
    client = app.test_client()
    first = post_json(client, drawing("7-plain"), 1)
    assert first.status_code == 201
    (counted_rows, counted_bytes), actual = usage_row(app)
    assert (counted_rows, counted_bytes) == actual and counted_bytes > 1_250  # So a second passes the cap.
    full = post_json(client, drawing("4-closed"), 4)
    assert_error(full, 507, "full", "bytes")
    assert len(rows(app)) == 1 and usage_row(app)[0] == actual
    # A stored drawing may still change its label.
    assert post_json(client, drawing("7-plain"), 7, "right").get_json()["stored"] == "replaced"
    result = app.test_cli_runner().invoke(args=["corrections", "delete", "--id", str(first.get_json()["id"]), "--yes"])
    assert result.exit_code == 0 and "Deleted 1 corrections" in result.output, result.output
    assert usage_row(app) == ((0, 0), (0, 0))
    assert post_json(client, drawing("4-closed"), 4).status_code == 201
    with app.app_context():
        db.engine.dispose()


def test_a_correction_checks_the_caps_without_counting_the_table(db_app, db_client):
    from sqlalchemy import event

    statements = []
    with db_app.app_context():
        engine = db.engine

    def record(_connection, _cursor, statement, *_):
        statements.append(" ".join(statement.split()).lower())

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert post_json(db_client, drawing("7-plain"), 7).status_code == 201
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert not [sql for sql in statements if "count(" in sql or "sum(" in sql], statements
    assert any(sql.startswith("update corrections_usage") for sql in statements), statements


def test_migration_0003_counts_what_is_kept_and_takes_the_salt_out_of_the_database(db_app, db_client):
    for name, label in (("7-plain", 7), ("4-closed", 4)):
        assert post_json(db_client, drawing(name), label).status_code == 201
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Setting)) == 0
        db.session.remove()
        downgrade(revision="0002")
        assert "corrections_usage" not in inspect(db.engine).get_table_names()
        assert db.session.execute(select(Setting.name)).scalars().all() == ["client_salt"]  # As 0001 made it.
        db.session.remove()
        upgrade()
        assert db.session.execute(select(Setting.name)).scalars().all() == []
    counted, actual = usage_row(db_app)
    assert counted == actual and counted[0] == 2


# --- 4. Labels ----------------------------------------------------------------------------------


@pytest.mark.parametrize("label", ["²", "٣", "3.0", " ", "+3", "１"])
def test_a_form_label_that_is_not_an_ascii_digit_is_a_400(db_app, db_client, label):
    response = post_form(db_client, drawing("7-plain"), label)
    assert_error(response, 400, "0 to 9")
    assert rows(db_app) == []


@pytest.mark.parametrize("label", [True, False, "3", 3.0, None, 10, [3]])
def test_a_json_label_must_be_an_int_from_0_to_9(client, label):
    assert_error(client.post("/api/corrections", json={"image": data_url(drawing("7-plain")), "label": label,
                                                       "kind": "wrong"}), 400, "0 to 9")


# --- 5. Quotas per address and per writer ------------------------------------------------------


def test_past_the_daily_quota_of_an_address_a_correction_gets_429_and_is_not_stored(classifier, database_url):
    app = migrated_app({"CLASSIFIER": classifier, "CORRECTIONS_QUOTA": "2", "SQLALCHEMY_DATABASE_URI": database_url})
    client = app.test_client()
    assert post_json(client, drawing("7-plain"), 7).status_code == 201
    # Refused requests and unchanged drawings do not count.
    assert post_json(client, drawing("7-plain"), 7).status_code == 200
    assert post_json(client, drawing("4-closed"), 11).status_code == 400
    assert post_json(client, drawing("4-closed"), 4).status_code == 201
    refused = post_json(client, drawing("3-round"), 3)
    assert_error(refused, 429, "quota of 2 corrections a day")
    assert len(rows(app)) == 2
    # Another address has its own quota.
    assert post_json(client, drawing("3-round"), 3, environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 201
    with app.app_context():
        db.engine.dispose()


def test_a_writer_has_the_quota_whatever_address_they_come_from(classifier, tmp_path):
    app = migrated_app({"CLASSIFIER": classifier, "CORRECTIONS_QUOTA": "2",
                        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    client = app.test_client()
    client.set_cookie("digitpad_writer", new_token())
    for address, name in (("203.0.113.1", "7-plain"), ("203.0.113.2", "4-closed")):
        assert post_json(client, drawing(name), 1, environ_base={"REMOTE_ADDR": address}).status_code == 201
    assert_error(post_json(client, drawing("3-round"), 3, environ_base={"REMOTE_ADDR": "203.0.113.3"}), 429, "quota")
    # Without the writer's cookie that new address is under its own quota only.
    client.delete_cookie("digitpad_writer")
    assert post_json(client, drawing("3-round"), 3, environ_base={"REMOTE_ADDR": "203.0.113.3"}).status_code == 201
    assert len(rows(app)) == 3


def test_an_empty_quota_turns_it_off_and_a_bad_one_stops_the_app(classifier, tmp_path, monkeypatch):
    from web.settings import settings_from_environment

    assert settings_from_environment({"DIGITPAD_CORRECTIONS_QUOTA": ""})["CORRECTIONS_QUOTA"] == ""
    assert settings_from_environment({})["CORRECTIONS_QUOTA"] == "500"
    with pytest.raises(SettingError, match="DIGITPAD_CORRECTIONS_QUOTA"):
        settings_from_environment({"DIGITPAD_CORRECTIONS_QUOTA": "lots"})


# --- 6. Deleting a writer's corrections, or one ------------------------------------------------


def test_delete_by_writer_or_by_id_and_exactly_one_choice(db_app, db_client):
    token = new_token()
    db_client.set_cookie("digitpad_writer", token)
    for name, label in (("7-plain", 7), ("4-closed", 4)):
        assert post_json(db_client, drawing(name), label).status_code == 201
    db_client.delete_cookie("digitpad_writer")
    anonymous = post_json(db_client, drawing("3-round"), 3).get_json()["id"]
    other = post_json(db_client, drawing("0-oval"), 0).get_json()["id"]
    runner = db_app.test_cli_runner()
    for arguments in ([], ["--id", "1", "--writer", token], ["--before", "2030-01-01", "--id", "1"]):
        result = runner.invoke(args=["corrections", "delete", *arguments, "--yes"])
        assert result.exit_code == 2 and "exactly one of --before, --writer and --id" in result.output
    result = runner.invoke(args=["corrections", "delete", "--writer", "not-a-token", "--yes"])
    assert result.exit_code == 2 and "not a writer token" in result.output
    result = runner.invoke(args=["corrections", "delete", "--writer", token, "--yes"])
    assert result.exit_code == 0 and "Deleted 2 corrections of writer" in result.output, result.output
    assert [row.id for row in rows(db_app)] == [anonymous, other]
    assert all(row.writer != writer_id(token) for row in rows(db_app))
    result = runner.invoke(args=["corrections", "delete", "--id", str(anonymous), "--yes"])
    assert result.exit_code == 0 and f"Deleted 1 corrections with id {anonymous}" in result.output
    assert [row.id for row in rows(db_app)] == [other]
    assert "No corrections with id" in runner.invoke(args=["corrections", "delete", "--id", "999", "--yes"]).output
    counted, actual = usage_row(db_app)
    assert counted == actual and counted[0] == 1


# --- 8. Registry names -----------------------------------------------------------------------


@pytest.mark.parametrize("version", ["../../x", "a/b", "..", "a..b", ".hidden", "-x", "x" * 65, "v 1", "", 7])
def test_a_version_name_that_is_not_a_plain_name_is_refused(app, tmp_path, version):
    folder = copy_of_committed_model(tmp_path / "model", "placeholder")
    metadata = json.loads((folder / "metadata.json").read_text())
    metadata["version"] = version
    (folder / "metadata.json").write_text(json.dumps(metadata))
    with app.app_context(), pytest.raises(RegistryError, match="refused|names no version"):
        add_version(folder, sets=None)
    assert not (tmp_path / "x").exists()


def test_registry_names_from_the_database_are_checked_before_they_become_paths(db_app):
    with db_app.app_context():
        db.session.add(ModelVersion(version="ok-1.0", added_at=db.func.now(), model_metadata="{}", evaluation="{}",
                                    files_sha256="0" * 64))
        db.session.flush()
        db.session.add(ModelFile(version="ok-1.0", name="../../escaped", content=b"x"))
        db.session.commit()
        with pytest.raises(RegistryError, match="File name"):
            version_folder(db_app, "ok-1.0")
        with pytest.raises(RegistryError, match="refused"):
            version_folder(db_app, "../ok-1.0")
    assert not (os.path.exists(os.path.join(db_app.instance_path, "escaped")))


# --- 9. Hostile JSON -------------------------------------------------------------------------


def test_the_json_depth_limit_holds_and_strings_do_not_count():
    assert json_structure_refusal(b'{"image": ' + b"[" * 9 + b"]" * 9 + b"}", 8, 100) == (
        "The JSON is nested more than 8 levels deep.")
    assert json_structure_refusal(b'{"image": ' + b"[" * 7 + b"]" * 7 + b"}", 8, 100) is None
    assert json_structure_refusal(b'{"image": "[[[[[[[[[[[[\\"[[[[[[[["}', 8, 100) is None
    assert json_nesting_depth(b'{"a": [{"b": "\\"]"}]}') == 3
    assert "values" in json_structure_refusal(b"[" + b"0," * 200 + b"0]", 8, 100)


def test_a_string_that_never_ends_is_scanned_once():
    body = b'{"image": "' + b'\\"' * 10_000_000
    started = time.perf_counter()
    assert json_structure_refusal(body, 8, 100) is None  # The parser says it is not JSON.
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize("body, words", [(b"[" * 45_000_000, ["nested"]), (b"[]," * 15_000_000, ["values"])])
def test_hostile_45_mb_json_bodies_are_refused_with_a_400(client, body, words):
    started = time.perf_counter()
    response = client.post("/predict/batch", data=body, content_type="application/json")
    assert_error(response, 400, *words)
    assert time.perf_counter() - started < 10


def test_a_batch_of_the_most_images_is_still_read(client):
    seven = data_url(drawing("7-plain"))
    response = client.post("/predict/batch", json={"images": [seven] * 1000})
    assert response.status_code == 200 and len(response.get_json()["results"]) == 1000


# --- 10. The client salt -----------------------------------------------------------------------


def test_with_sqlite_the_salt_is_made_once_in_the_instance_folder_never_in_the_database(app, client, tmp_path):
    salt = instance_salt(tmp_path)
    assert instance_salt(tmp_path) == salt and len(salt) == 64
    assert (tmp_path / SALT_FILE).stat().st_mode & 0o777 == 0o600
    assert post_json(client, drawing("7-plain"), 7).status_code == 201
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Setting)) == 0
        assert rows(app)[0].client == client_hash("127.0.0.1")
        assert app.extensions["digitpad.client_salt"] == instance_salt(Path(app.instance_path))


def test_with_a_server_database_and_no_salt_the_app_refuses_to_start(classifier, monkeypatch):
    monkeypatch.delenv("DIGITPAD_CLIENT_SALT", raising=False)
    with pytest.raises(SettingError, match="Set DIGITPAD_CLIENT_SALT"):
        create_app({"TESTING": True, "CLASSIFIER": classifier, "CLIENT_SALT": "",
                    "SQLALCHEMY_DATABASE_URI": "postgresql://nobody@127.0.0.1:1/none"})
    app = create_app({"TESTING": True, "CLASSIFIER": classifier, "CLIENT_SALT": "set-by-the-operator",
                      "SQLALCHEMY_DATABASE_URI": "postgresql://nobody@127.0.0.1:1/none"})
    assert app.extensions["digitpad.client_salt"] == "set-by-the-operator"


def test_truncated_addresses_for_the_access_log():
    from web.access_log import truncated_address

    assert truncated_address("203.0.113.77") == "203.0.113.0/24"
    assert truncated_address("2001:db8:1:2::5") == "2001:db8:1::/48"
    assert truncated_address("::ffff:198.51.100.7") == "198.51.100.0/24"
    assert truncated_address("-") == "-"


@pytest.mark.parametrize("setting, truncated", [(None, True), ("full", False), ("FULL ", False)])
def test_the_access_log_truncates_addresses_unless_asked_for_full_ones(monkeypatch, setting, truncated):
    import runpy

    if setting is None:
        monkeypatch.delenv("DIGITPAD_ACCESS_LOG_ADDRESSES", raising=False)
    else:
        monkeypatch.setenv("DIGITPAD_ACCESS_LOG_ADDRESSES", setting)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/tmp")  # So that the config makes no folder.
    config = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
    assert (config.get("logger_class") == "web.access_log.TruncatedAddressLogger") == truncated
