"""The database: where corrections are kept (SQLAlchemy 2 through Flask-SQLAlchemy, Alembic
migrations through Flask-Migrate, in `migrations/`).

SQLite in the instance folder by default, so `make run` needs no server; PostgreSQL (or any
SQLAlchemy URL) when DATABASE_URL is set, as Heroku sets it. Nothing here is touched by
/predict/: the database may be down and predictions go on.
"""

import datetime
import hashlib
import hmac
import logging
from pathlib import Path

from flask import current_app
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    event,
    text,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from web.client_salt import client_salt

log = logging.getLogger("digitpad")

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# Relative SQLite paths are put in the app's instance folder by Flask-SQLAlchemy.
DEFAULT_DATABASE_URL = "sqlite:///digitpad.sqlite3"
KINDS = ("wrong", "right")


class Base(DeclarativeBase):
    pass


# Rows keep their values after a commit: a correction's answer reads the row it just stored,
# which would otherwise be read back from the database.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()


class DatabaseUnavailable(Exception):
    """The database could not be reached or is locked; the message says so for people."""


class Correction(db.Model):
    """One drawing a person told us the right digit for, with what the model said of it."""

    __tablename__ = "corrections"
    __table_args__ = (
        Index("ix_corrections_writer_id", "writer", "id"),
        CheckConstraint("label BETWEEN 0 AND 9", name="label_is_a_digit"),
        CheckConstraint("predicted BETWEEN 0 AND 9", name="predicted_is_a_digit"),
        CheckConstraint("kind IN ('wrong', 'right')", name="kind_is_known"),
        CheckConstraint(
            "status IN ('unchecked', 'trusted', 'quarantined', 'accepted', 'rejected')", name="status_is_known"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # UTC, without a time zone: SQLite has no time zone type, and one meaning for both databases.
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, index=True)
    # When the person chose another digit for the same drawing.
    updated_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    label: Mapped[int] = mapped_column(SmallInteger)
    kind: Mapped[str] = mapped_column(String(5))
    # What the server's own model read, never what the page says it showed.
    predicted: Mapped[int] = mapped_column(SmallInteger)
    confidence: Mapped[float]
    model_version: Mapped[str] = mapped_column(String(64), index=True)
    # The network's 28x28 input (784 bytes, row by row) and the drawing as a PNG.
    model_input: Mapped[bytes] = mapped_column(LargeBinary)
    drawing: Mapped[bytes] = mapped_column(LargeBinary)
    drawing_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # The strokes it was drawn with, where the page sent them (web/stroke_input.py): compact JSON
    # [[[x, y, t], ...], ...] in the pixels of `drawing`, t in milliseconds; None for an upload.
    strokes: Mapped[str | None] = mapped_column(Text)
    # A salted hash of the client's address: who sent what, without keeping addresses.
    client: Mapped[str] = mapped_column(String(32), index=True)
    # The anonymous writer who made it (web/writers.py: the SHA-256 of their token), or None:
    # a writer's corrections are their examples (web/writer_examples.py).
    writer: Mapped[str | None] = mapped_column(String(64))
    # Whether it may be trained on (training/label_quality.py): unchecked until the label check
    # of `models retrain`, then trusted or quarantined; accepted or rejected once a person
    # reviewed it on /admin/.
    status: Mapped[str] = mapped_column(String(12), default="unchecked", server_default="unchecked", index=True)


class Writer(db.Model):
    """An anonymous writer with examples: `revision` rises with every change of them, so that
    each worker knows when its cached copy is stale (one primary-key read a prediction)."""

    __tablename__ = "writers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTime)


class CorrectionsUsage(db.Model):
    """One row (id 1): how many corrections are kept and the bytes their drawings and model
    inputs take. Updated in the transaction that stores or deletes corrections, so that the
    storage caps are checked with one row's update, never by counting a million rows."""

    __tablename__ = "corrections_usage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stored_rows: Mapped[int] = mapped_column(BigInteger)
    stored_bytes: Mapped[int] = mapped_column(BigInteger)


class Setting(db.Model):
    """Values that belong to one database (the client salt is no longer one: web/client_salt.py)."""

    __tablename__ = "settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


class ModelVersion(db.Model):
    """One version of the network in the registry (web/model_versions.py), named by the
    `version` id of its metadata.json, with the figures measured for it."""

    __tablename__ = "model_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    added_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    # metadata.json as the training wrote it, and the accuracy measured here on each
    # evaluation set (JSON: {"mnist_test": {"accuracy", "images"}, ...}).
    model_metadata: Mapped[str] = mapped_column(Text)
    evaluation: Mapped[str] = mapped_column(Text)
    files_sha256: Mapped[str] = mapped_column(String(64))


class ModelFile(db.Model):
    """A file of a model version (model.json, model.h5, model.tflite, metadata.json)."""

    __tablename__ = "model_files"

    version: Mapped[str] = mapped_column(String(64), ForeignKey("model_versions.version"), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ModelPromotion(db.Model):
    """Which version is served, as a log: the latest row names it; a rollback is a row too."""

    __tablename__ = "model_promotions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime.datetime] = mapped_column(DateTime)
    action: Mapped[str] = mapped_column(String(8))  # "initial", "promote" or "rollback"
    version: Mapped[str] = mapped_column(String(64), ForeignKey("model_versions.version"))
    # What was served before this row (none before the first).
    previous: Mapped[str | None] = mapped_column(String(64))
    forced: Mapped[bool] = mapped_column(Boolean, default=False)


def utc_now():
    """Now in UTC without a time zone, as every DateTime column here keeps it."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def sqlalchemy_url(url):
    """A DATABASE_URL as SQLAlchemy takes it, with the PostgreSQL driver that is installed.

    Heroku spells PostgreSQL URLs `postgres://`, which SQLAlchemy 1.4 and later refuse.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_options(url, busy_timeout_seconds):
    # Connections to a server are checked before use, so the database coming back after a
    # restart is noticed without restarting the app. A SQLite file has no server to lose, and
    # the check would cost every writer's prediction a second statement.
    options = {"pool_pre_ping": not url.startswith("sqlite")}
    if url.startswith("postgresql"):
        # A stopped server is noticed within seconds instead of the system's TCP timeout.
        options["connect_args"] = {
            "connect_timeout": max(1, round(busy_timeout_seconds)),
            "options": f"-c statement_timeout={round(busy_timeout_seconds * 1000)}",
        }
    elif url.startswith("sqlite"):
        options["connect_args"] = {"timeout": busy_timeout_seconds}
    return options


def set_sqlite_pragmas(connection, _record):
    cursor = connection.cursor()
    # WAL: readers never wait for the writer. synchronous=FULL: a committed transaction is on
    # disk before the commit returns, so a 201 survives the process (and the machine) crashing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def init_database(app):
    """Configure the database for `app` (nothing is connected until a route needs it)."""
    url = sqlalchemy_url(app.config.get("SQLALCHEMY_DATABASE_URI") or DEFAULT_DATABASE_URL)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS", engine_options(url, app.config["DATABASE_TIMEOUT_SECONDS"])
    )
    if url.startswith("sqlite"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    # Read (or made) at start: a server database without DIGITPAD_CLIENT_SALT stops the app here.
    app.extensions["digitpad.client_salt"] = client_salt(app, url)
    db.init_app(app)
    # render_as_batch: SQLite can only change a table by copying it, which Alembic's batch
    # mode does for later migrations.
    migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=True)
    if url.startswith("sqlite"):
        with app.app_context():
            event.listen(db.engine, "connect", set_sqlite_pragmas)


def database_state():
    """"ok", or why the database cannot be used now (for /readyz)."""
    try:
        db.session.execute(text("SELECT 1"))
        return {"state": "ok", "dialect": db.engine.dialect.name}
    except SQLAlchemyError as error:
        db.session.rollback()
        return {"state": "unavailable", "dialect": db.engine.dialect.name, "error": short(error)}


def short(error):
    """The first line of a database error, without the SQL and parameters it carries."""
    lines = str(getattr(error, "orig", None) or error).strip().splitlines()
    return lines[0][:200] if lines else type(error).__name__


def client_hash(address):
    """A salted hash of a client's address: the same client gives the same hash in every worker
    and server that shares the salt, and the address cannot be read back from it. The salt is
    never in the database (web/client_salt.py)."""
    salt = current_app.extensions["digitpad.client_salt"]
    return hmac.new(salt.encode(), (address or "").encode(), hashlib.sha256).hexdigest()[:32]
