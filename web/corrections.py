"""Corrections: a person tells us the right digit for a drawing, and the drawing is kept.

POST /api/corrections takes the drawing in the forms /predict/ takes, with `label` (the right
digit) and `kind` ("wrong": the model misread it; "right": it read it well), and in JSON the
strokes it was drawn with (web/stroke_input.py), kept with it. The server reads
the drawing with its own model and stores what the model said, so the page is never trusted for
that. Its commands (web/corrections_cli.py) show, export and delete what was kept.
"""

import hashlib
import io

from flask import Blueprint, current_app, jsonify, request
from PIL import Image
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from werkzeug.exceptions import BadRequest, UnprocessableEntity

from model.pad import SENT_SIZE
from model.preprocessing import decode_image, to_grayscale
from web.corrections_usage import StorageFull, reserve, stored_bytes
from web.cross_site import same_site_only
from web.database import KINDS, Correction, DatabaseUnavailable, client_hash, db, short, utc_now
from web.errors import error_response
from web.image_input import (
    image_bytes_from_json,
    json_object_from_request,
    uploaded_file_bytes,
)
from web.metrics import CORRECTIONS
from web.model_watcher import served_model
from web.quotas import corrections_quota, over_quota_message, stored_a_new_row, writer_key, writer_less
from web.rate_limits import limiter
from web.stroke_input import kept_strokes, most_kept_strokes_bytes, strokes_of
from web.writer_examples import examples_changed
from web.writers import request_writer

corrections = Blueprint("corrections", __name__)

FIELDS = ("image", "label", "kind", "strokes")
FORM_FIELDS = ("label", "kind")
# A 112 x 112 grey PNG: 112 rows of a filter byte and 112 pixels, 12,656 bytes, which deflate
# stores (its worst case) in one block with a few bytes of framing, plus the signature and the
# IHDR, IDAT and IEND chunks (57 bytes). So a stored drawing is never larger than this.
MAX_DRAWING_BYTES = SENT_SIZE * (SENT_SIZE + 1) + 512


# ---------------------------------------------------------------------------------------------
# The request
# ---------------------------------------------------------------------------------------------


def correction_from_request():
    """(drawing bytes, label, kind, strokes or None) from a JSON body or a multipart form,
    checked. A form carries no strokes: it is how a file is uploaded, which has none."""
    if request.mimetype == "multipart/form-data":
        # A part whose name Werkzeug cannot read is named None (it was a 500 to sort or join).
        unknown = sorted(name or "(unnamed)" for name in set(request.form) - set(FORM_FIELDS)) + sorted(
            name or "(unnamed)" for name in set(request.files) - {"file"}
        )
        if unknown:
            raise BadRequest(
                f"Unknown form field(s): {', '.join(unknown)}. Send 'file', 'label' and 'kind'."
            )
        drawing, strokes = uploaded_file_bytes(), None
        label, kind = request.form.get("label"), request.form.get("kind")
        # ASCII digits only: str.isdigit() is true of "²", which int() refuses (a 500).
        if isinstance(label, str) and label.strip().isascii() and label.strip().isdigit():
            label = int(label)
    elif request.mimetype == "application/json":
        payload = json_object_from_request()
        unknown = sorted(set(payload) - set(FIELDS))
        if unknown:
            raise BadRequest(
                f"Unknown field(s): {', '.join(unknown)}. Send only 'image', 'label', 'kind' and 'strokes'."
            )
        if not isinstance(payload.get("image"), str):
            raise BadRequest(
                'Send JSON {"image": "data:image/png;base64,...", "label": 3, "kind": "wrong"}: '
                "'image' is the drawing as it was sent to /predict/."
            )
        drawing = image_bytes_from_json(payload)
        strokes = strokes_of(payload, drawing)
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
    return drawing, label, kind, strokes


def stored_drawing(data):
    """(the drawing as kept, its key): always decoded (with the served classifier's limits) and
    encoded again from its pixels, as a grey PNG no larger than the page sends (SENT_SIZE a side),
    with no ancillary chunk (no text, EXIF or ICC profile). What a client sends besides the
    pixels is never kept, and a drawing costs the database at most MAX_DRAWING_BYTES.

    The key (drawing_sha256, one row per drawing) is the SHA-256 of the kept pixels and their
    size: the same drawing sent again with other chunks, or re-encoded, is the same row. The
    scale (x, y) is how much it was shrunk, which its strokes are shrunk by too.
    """
    limits = served_model().classifier.image_limits
    gray = to_grayscale(decode_image(data, **limits)).convert("L")
    sent_width, sent_height = gray.size
    gray.thumbnail((SENT_SIZE, SENT_SIZE), Image.Resampling.LANCZOS)
    # A new image of the pixels alone: Pillow writes what an image's `info` carries (an ICC
    # profile, a DPI) into the PNG it saves.
    pixels = Image.frombytes("L", gray.size, gray.tobytes())
    buffer = io.BytesIO()
    pixels.save(buffer, format="PNG", optimize=True)
    png = buffer.getvalue()
    assert len(png) <= MAX_DRAWING_BYTES, f"a {pixels.size} drawing took {len(png):,} bytes"
    key = hashlib.sha256(b"%dx%d:" % pixels.size + pixels.tobytes()).hexdigest()
    return png, key, (pixels.width / sent_width, pixels.height / sent_height)


# ---------------------------------------------------------------------------------------------
# The route
# ---------------------------------------------------------------------------------------------


@corrections.post("/api/corrections")
@same_site_only
@limiter.limit(lambda: current_app.config["CORRECTIONS_RATE_LIMIT"])
# The daily quotas count only the corrections that added a row (201), per client address and,
# where the request names a writer, per writer too.
@limiter.limit(corrections_quota, deduct_when=stored_a_new_row, error_message=over_quota_message)
@limiter.limit(corrections_quota, key_func=writer_key, exempt_when=writer_less,
               deduct_when=stored_a_new_row, error_message=over_quota_message)
def create_correction():
    served = served_model()
    classifier = served.classifier
    # The body first, as /predict/ does: a client still sending it must not hold up a batch.
    data, label, kind, strokes = correction_from_request()
    with served.batcher.announced() as submit:
        classifier.wait_until_ready(current_app.config["MODEL_WAIT_SECONDS"])
        digit_image, answer = classifier.read(data, predict=submit)
    if answer["digit"] is None:
        raise UnprocessableEntity("The drawing has no ink: there is no digit to correct.")
    drawing, drawing_sha256, scale = stored_drawing(data)
    stroke_text = kept_strokes(strokes, *scale)
    assert stroke_text is None or len(stroke_text) <= most_kept_strokes_bytes(current_app.config)
    fields = {
        "label": label,
        "kind": kind,
        "predicted": answer["digit"],
        "confidence": answer["confidence"],
        "model_version": answer["model_version"],
        "model_input": digit_image.tobytes(),
        "drawing": drawing,
        "drawing_sha256": drawing_sha256,
        "strokes": stroke_text,
        # The writer's token, where the request carries one: the correction is their example too.
        "writer": request_writer(),
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
        # The same drawing again: its label replaced when the same writer (or, with no writer,
        # any anonymous client) chose again; another writer's example is never changed.
        if (row.label, row.kind) == (fields["label"], fields["kind"]) or row.writer != fields["writer"]:
            return row, "unchanged"
        row.label, row.kind, row.updated_at = fields["label"], fields["kind"], now
        if row.writer is not None:
            examples_changed(row.writer)
        db.session.commit()
        return row, "replaced"
    # Counted in the same transaction as the insert (web/corrections_usage.py says why).
    config = current_app.config
    reserve(stored_bytes(fields["drawing"], fields["model_input"], fields["strokes"]), config["CORRECTIONS_MAX_ROWS"],
            config["CORRECTIONS_MAX_BYTES"])
    row = Correction(**fields, created_at=now, client=client_hash(request.remote_addr))
    db.session.add(row)
    if row.writer is not None:
        examples_changed(row.writer)
    db.session.commit()
    return row, "new"


@corrections.errorhandler(StorageFull)
def storage_full(error):
    db.session.rollback()
    return error_response(507, str(error))
