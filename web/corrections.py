"""Corrections: a person tells us the right digit for a drawing, and the drawing is kept.

POST /api/corrections takes the drawing in the forms /predict/ takes, with `label` (the right
digit) and `kind` ("wrong": the model misread it; "right": it read it well). The server reads
the drawing with its own model and stores what the model said, so the page is never trusted for
that. The `corrections` CLI group shows, exports and deletes what was kept.
"""

import hashlib
import io
from pathlib import Path

import click
import numpy as np
from flask import Blueprint, current_app, jsonify, request
from PIL import Image
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from werkzeug.exceptions import BadRequest, UnprocessableEntity

from model.loader import write_atomically
from model.preprocessing import MNIST_SIZE, decode_image, to_grayscale
from web.database import KINDS, Correction, DatabaseUnavailable, client_hash, db, short, utc_now
from web.errors import error_response
from web.image_input import (
    image_bytes_from_json,
    json_object_from_request,
    uploaded_file_bytes,
)
from web.metrics import CORRECTIONS
from web.model_versions import served_model
from web.rate_limits import limiter

corrections = Blueprint("corrections", __name__, cli_group="corrections")

FIELDS = ("image", "label", "kind")
FORM_FIELDS = ("label", "kind")
# The page sends its drawing at 112 pixels a side; larger uploads are kept at that size too.
STORED_DRAWING_SIDE = 112


class StorageFull(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# The request
# ---------------------------------------------------------------------------------------------


def correction_from_request():
    """(drawing bytes, label, kind) from a JSON body or a multipart form, checked."""
    if request.mimetype == "multipart/form-data":
        unknown = sorted(set(request.form) - set(FORM_FIELDS)) + sorted(
            set(request.files) - {"file"}
        )
        if unknown:
            raise BadRequest(
                f"Unknown form field(s): {', '.join(unknown)}. Send 'file', 'label' and 'kind'."
            )
        drawing = uploaded_file_bytes()
        label, kind = request.form.get("label"), request.form.get("kind")
        if isinstance(label, str) and label.strip().isdigit():
            label = int(label)
    elif request.mimetype == "application/json":
        payload = json_object_from_request()
        unknown = sorted(set(payload) - set(FIELDS))
        if unknown:
            raise BadRequest(
                f"Unknown field(s): {', '.join(unknown)}. Send only 'image', 'label' and 'kind'."
            )
        if not isinstance(payload.get("image"), str):
            raise BadRequest(
                'Send JSON {"image": "data:image/png;base64,...", "label": 3, "kind": "wrong"}: '
                "'image' is the drawing as it was sent to /predict/."
            )
        drawing = image_bytes_from_json(payload)
        label, kind = payload.get("label"), payload.get("kind")
    else:
        raise BadRequest(
            'Send JSON {"image": "data:image/png;base64,...", "label": 3, "kind": "wrong"}, '
            "or a form with 'file', 'label' and 'kind'."
        )
    # bool is an int in Python; true is not a digit.
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label <= 9:
        raise BadRequest(f"'label' must be the right digit, a whole number from 0 to 9 (got {label!r}).")
    if kind not in KINDS:
        raise BadRequest(f"'kind' must be \"wrong\" or \"right\" (got {kind!r}).")
    return drawing, label, kind


def stored_drawing(data):
    """The drawing as kept: as sent when it is a PNG no larger than the page sends, else shrunk
    to that size in grey levels, so a large photo costs the database no more than a drawing."""
    # The drawing was decoded and checked against the limits to be classified; its header
    # alone says whether it is kept as it is.
    with Image.open(io.BytesIO(data)) as header:
        if header.format == "PNG" and max(header.size) <= STORED_DRAWING_SIDE:
            return data
    limits = served_model().classifier.image_limits
    gray = to_grayscale(decode_image(data, **limits))
    gray.thumbnail((STORED_DRAWING_SIDE, STORED_DRAWING_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    gray.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# The route
# ---------------------------------------------------------------------------------------------


@corrections.post("/api/corrections")
@limiter.limit(lambda: current_app.config["CORRECTIONS_RATE_LIMIT"])
def create_correction():
    served = served_model()
    classifier = served.classifier
    # The body first, as /predict/ does: a client still sending it must not hold up a batch.
    data, label, kind = correction_from_request()
    with served.batcher.announced() as submit:
        classifier.wait_until_ready(current_app.config["MODEL_WAIT_SECONDS"])
        digit_image, answer = classifier.read(data, predict=submit)
    if answer["digit"] is None:
        raise UnprocessableEntity("The drawing has no ink: there is no digit to correct.")
    fields = {
        "label": label,
        "kind": kind,
        "predicted": answer["digit"],
        "confidence": answer["confidence"],
        "model_version": answer["model_version"],
        "model_input": digit_image.tobytes(),
        "drawing": stored_drawing(data),
        "drawing_sha256": hashlib.sha256(data).hexdigest(),
    }
    row, stored = store(fields)
    CORRECTIONS.labels(kind, stored).inc()
    body = {
        "id": row.id,
        "label": row.label,
        "kind": row.kind,
        "predicted": row.predicted,
        "confidence": row.confidence,
        "model_version": row.model_version,
        "stored": stored,
    }
    return jsonify(body), 201 if stored == "new" else 200


def store(fields):
    """Keep a correction; (row, "new" | "unchanged" | "replaced"), answered only once committed.

    One row per drawing: the same drawing with the same label again is the stored row; with
    another label (the person chose again) that row's label is replaced.
    """
    try:
        try:
            return store_once(fields)
        except IntegrityError:
            # Another request stored the same drawing between our look and our insert.
            db.session.rollback()
            return store_once(fields)
    except SQLAlchemyError as error:
        db.session.rollback()
        current_app.logger.warning("Correction not stored: %s", short(error))
        raise DatabaseUnavailable(
            "The corrections database is unavailable, so your correction was not saved. "
            "Predictions still work; please try again in a minute."
        ) from error


def store_once(fields):
    now = utc_now()
    row = db.session.scalar(
        select(Correction).where(Correction.drawing_sha256 == fields["drawing_sha256"])
    )
    if row is not None:
        if (row.label, row.kind) == (fields["label"], fields["kind"]):
            return row, "unchanged"
        row.label, row.kind, row.updated_at = fields["label"], fields["kind"], now
        db.session.commit()
        return row, "replaced"
    limit = current_app.config["CORRECTIONS_MAX_ROWS"]
    if limit is not None and db.session.scalar(select(func.count(Correction.id))) >= limit:
        raise StorageFull(
            f"The corrections store is full ({limit:,} drawings), so this one was not kept. "
            "Predictions still work."
        )
    row = Correction(**fields, created_at=now, client=client_hash(request.remote_addr))
    db.session.add(row)
    db.session.commit()
    return row, "new"


@corrections.errorhandler(StorageFull)
def storage_full(error):
    db.session.rollback()
    return error_response(507, str(error))


# ---------------------------------------------------------------------------------------------
# The command line: flask --app app corrections stats | export | delete
# ---------------------------------------------------------------------------------------------


@corrections.cli.command("stats")
def stats_command():
    """Counts by label, kind and model version, and predicted digit against the right one."""
    total = db.session.scalar(select(func.count(Correction.id)))
    click.echo(f"{total:,} corrections")
    if not total:
        return
    for title, column in (
        ("By label", Correction.label),
        ("By kind", Correction.kind),
        ("By model version", Correction.model_version),
    ):
        click.echo(f"\n{title}:")
        for key, count in db.session.execute(select(column, func.count()).group_by(column).order_by(column)):
            click.echo(f"  {key!s:>24}  {count:>8,}")
    confusion = np.zeros((10, 10), dtype=np.int64)
    pairs = select(Correction.predicted, Correction.label, func.count()).group_by(
        Correction.predicted, Correction.label
    )
    for predicted, label, count in db.session.execute(pairs):
        confusion[predicted, label] = count
    click.echo("\nPredicted (rows) against the right digit (columns):")
    click.echo("      " + "".join(f"{digit:>7}" for digit in range(10)))
    for predicted in range(10):
        click.echo(f"  {predicted:>3} " + "".join(f"{count:>7,}" for count in confusion[predicted]))


# The export's arrays: name, the column it holds, and its NumPy type.
EXPORT_COLUMNS = (
    ("ids", Correction.id, np.int64),
    ("labels", Correction.label, np.uint8),
    ("predicted", Correction.predicted, np.uint8),
    ("kinds", Correction.kind, "<U5"),
    ("model_versions", Correction.model_version, "<U64"),
    ("created_at", Correction.created_at, "datetime64[ms]"),
    ("clients", Correction.client, "<U32"),
)


@corrections.cli.command("export")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export_command(out):
    """Write every correction to an .npz file of arrays for training."""
    # Counted first and read in pages into arrays of that size: a million corrections never sit
    # in memory as Python objects. Rows stored meanwhile wait for the next export.
    total = db.session.scalar(select(func.count(Correction.id)))
    arrays = {name: np.empty(total, dtype=dtype) for name, _, dtype in EXPORT_COLUMNS}
    arrays["images"] = np.empty((total, MNIST_SIZE, MNIST_SIZE), dtype=np.uint8)
    query = select(Correction.model_input, *(column for _, column, _ in EXPORT_COLUMNS)).order_by(Correction.id)
    count = 0
    for count, (model_input, *values) in enumerate(
        db.session.execute(query.limit(total).execution_options(yield_per=2000)), start=1
    ):
        arrays["images"][count - 1] = np.frombuffer(model_input, dtype=np.uint8).reshape(MNIST_SIZE, MNIST_SIZE)
        for (name, _, _), value in zip(EXPORT_COLUMNS, values):
            arrays[name][count - 1] = value
    # Rows deleted meanwhile leave the arrays shorter, never with empty rows.
    arrays = {name: array[:count] for name, array in arrays.items()}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, buffer.getvalue())
    click.echo(f"Wrote {count:,} corrections to {out}")


@corrections.cli.command("delete")
@click.option(
    "--before",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]),
    help="Delete corrections stored before this UTC date (and time).",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_command(before, yes):
    """Delete the corrections stored before a date."""
    older = Correction.created_at < before
    count = db.session.scalar(select(func.count(Correction.id)).where(older))
    if count == 0:
        click.echo(f"No corrections stored before {before:%Y-%m-%d %H:%M:%S}.")
        return
    if not yes:
        click.confirm(f"Delete {count:,} corrections stored before {before}?", abort=True)
    result = db.session.execute(delete(Correction).where(older))
    db.session.commit()
    click.echo(f"Deleted {result.rowcount:,} corrections stored before {before:%Y-%m-%d %H:%M:%S}.")
