"""Reading the image (and, for corrections, the other fields) from a request.

Every route that takes a drawing accepts the same forms: JSON `{"image": <data URL or base64>}`,
a multipart form with a `file` field, a data URL as the text body, or a PNG or JPEG body.
"""

import json
import re

import numpy as np
from flask import current_app, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from model.preprocessing import decode_data_url

RAW_IMAGE_TYPES = ("image/png", "image/jpeg")
# The original tutorial's jQuery posts the data URL with jQuery's default form content type.
TEXT_BODY_TYPES = ("", "text/plain", "application/x-www-form-urlencoded", "application/octet-stream")


def request_body():
    """The raw body, never more than MAX_CONTENT_LENGTH bytes, with or without a length header.

    Werkzeug refuses a declared Content-Length over the limit, but a chunked body is only cut
    off at the limit; one that reaches it is refused here rather than read as a shorter image.
    """
    body = request.get_data(cache=True)
    limit = request.max_content_length
    if limit is not None and request.content_length is None and len(body) >= limit:
        raise RequestEntityTooLarge()
    return body


def uploaded_file_bytes():
    upload = request.files.get("file")
    if upload is None:
        raise BadRequest("The form has no 'file' field: attach the image as 'file'.")
    return upload.read()


def image_bytes_from_request():
    """The image's bytes from any of the accepted request forms (see the README's API)."""
    content_type = request.mimetype
    if content_type == "multipart/form-data":
        return uploaded_file_bytes()
    if content_type == "application/json":
        return image_bytes_from_json(json_object_from_request())
    if content_type in RAW_IMAGE_TYPES:
        return request_body()
    if content_type in TEXT_BODY_TYPES:
        body = request_body()
        if not body.strip():
            raise BadRequest("The request body is empty: send the canvas as a data URL.")
        try:
            return decode_data_url(body.decode("ascii"))
        except UnicodeDecodeError:
            # Not text: perhaps the image file itself, sent without a content type.
            return body
    raise UnsupportedMediaType(
        f"Content type {content_type} is not accepted: send JSON, a form with a 'file' field, "
        "a data URL as text, or a PNG or JPEG body."
    )


def json_object_from_request():
    """The JSON object in the body, its nesting checked before it is parsed."""
    body = request_body()
    depth_limit = current_app.config["MAX_JSON_DEPTH"]
    # Counting brackets is cheap; the exact depth is only worked out when it could matter.
    could_be_deep = body.count(b"[") + body.count(b"{") > depth_limit
    if could_be_deep and json_nesting_depth(body) > depth_limit:
        raise BadRequest(f"The JSON is nested more than {depth_limit} levels deep.")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise BadRequest(f"The body is not valid JSON: {error}") from error
    if not isinstance(payload, dict):
        raise BadRequest('Send a JSON object of the form {"image": "data:image/png;base64,..."}.')
    return payload


def image_bytes_from_json(payload):
    image = payload.get("image")
    if not isinstance(image, str):
        raise BadRequest('Send JSON of the form {"image": "data:image/png;base64,..."}.')
    return decode_data_url(image)


JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
OPENING_BRACKETS = np.frombuffer(b"[{", dtype=np.uint8)
CLOSING_BRACKETS = np.frombuffer(b"]}", dtype=np.uint8)


def json_nesting_depth(body):
    """Deepest bracket nesting in JSON text, counted before parsing (strings are skipped)."""
    structure = np.frombuffer(JSON_STRING.sub(b'""', body), dtype=np.uint8)
    steps = np.isin(structure, OPENING_BRACKETS).astype(np.int64)
    steps -= np.isin(structure, CLOSING_BRACKETS)
    return int(np.cumsum(steps).max(initial=0))
