"""Corrections: a person tells us the right digit for a drawing, and the drawing is kept.

POST /api/corrections takes the drawing in the forms /predict/ takes, with `label` (the right
digit) and `kind` ("wrong": the model misread it; "right": it read it well). The server reads
the drawing with its own model and stores what the model said, so the page is never trusted for
that. Its commands (web/corrections_cli.py) show, export and delete what was kept.
"""

import hashlib
import io

from flask import Blueprint, current_app, jsonify, request
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from werkzeug.exceptions import BadRequest, UnprocessableEntity

from model.pad import SENT_SIZE
from model.preprocessing import decode_image, to_grayscale
from web.database import KINDS, Correction, DatabaseUnavailable, client_hash, db, short, utc_now
from web.errors import error_response
from web.image_input import (
    image_bytes_from_json,
    json_object_from_request,
    uploaded_file_bytes,
)
from web.metrics import CORRECTIONS
from web.model_watcher import served_model
from web.rate_limits import limiter

corrections = Blueprint("corrections", __name__)

FIELDS = ("image", "label", "kind")
FORM_FIELDS = ("label", "kind")


class StorageFull(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# The request
# ---------------------------------------------------------------------------------------------


def correction_from_request():
    """(drawing bytes, label, kind) from a JSON body or a multipart form, checked."""
    if request.mimetype == "multipart/form-data":
        # A part whose name Werkzeug cannot read is named None (it was a 500 to sort or join).
        unknown = sorted(name or "(unnamed)" for name in set(request.form) - set(FORM_FIELDS)) + sorted(
            name or "(unnamed)" for name in set(request.files) - {"file"}
        )
        if unknown:
            raise BadRequest(
                f"Unknown form field(s): {', '.join(unknown)}. Send 'file', 'label' and 'kind'."
            )
        drawing = uploaded_file_bytes()
        label, kind = request.form.get("label"), request.form.get("kind")
        # ASCII digits only: str.isdigit() is true of "²", which int() refuses (a 500).
        if isinstance(label, str) and label.strip().isascii() and label.strip().isdigit():
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
        if header.format == "PNG" and max(header.size) <= SENT_SIZE:
            return data
    limits = served_model().classifier.image_limits
    gray = to_grayscale(decode_image(data, **limits))
    gray.thumbnail((SENT_SIZE, SENT_SIZE), Image.Resampling.LANCZOS)
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
