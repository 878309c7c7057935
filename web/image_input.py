"""Reading the image (and, for corrections, the other fields) from a request.

Every route that takes a drawing accepts the same forms: JSON `{"image": <data URL or base64>}`,
a multipart form with a `file` field, a data URL as the text body, or a PNG or JPEG body. The
strokes JSON may carry beside the image are read by web/stroke_input.py.
"""

import json
import re

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
    refusal = json_structure_refusal(body, current_app.config["MAX_JSON_DEPTH"], most_json_values())
    if refusal:
        raise BadRequest(refusal)
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


# A JSON string (escapes included; possessive, so an unterminated one is given up in one pass),
# or one character of the structure: a bracket, a comma (one more value), a lone quote (a
# string that never ends: not JSON, which the parser then says).
JSON_TOKEN = re.compile(rb'"(?:[^"\\]++|\\.)*+"|[\[\]{},"]', re.DOTALL)
OPENING, CLOSING, QUOTE = b"[{", b"]}", ord('"')


def most_json_values():
    """The most strings, commas and brackets a JSON body may hold: a batch's images, or a
    drawing's strokes at their limits (web/stroke_input.py), and a few more. Each point [x, y, t]
    is four of them and the comma after it, each stroke two brackets and a comma; numbers are
    not counted, but each sits between two of them. Each one more would become a Python object:
    at the default limits some 25,000, under a megabyte, where a 45 MB body of `[],` would be
    15 million."""
    config = current_app.config
    strokes = 5 * config["STROKES_MAX_POINTS"] + 3 * config["STROKES_MAX_STROKES"]
    return max(2 * config["BATCH_MAX_IMAGES"], strokes) + 64


def json_structure_refusal(body, depth_limit, most_values):
    """Why a JSON body is refused before it is parsed (nested deeper than `depth_limit`, or more
    than `most_values` strings, commas and brackets), or None. It stops at the first token past
    a limit and keeps nothing per token: a 45 MB body of `[` or of `[],` costs no memory."""
    depth = 0
    for count, token in enumerate(JSON_TOKEN.finditer(body), start=1):
        if count > most_values:
            return (f"The JSON holds more than {most_values:,} values and brackets, more than the most images of a "
                    "batch or the most points of a drawing's strokes take; send one object of the documented form.")
        first = body[token.start()]
        if first in OPENING:
            depth += 1
            if depth > depth_limit:
                return f"The JSON is nested more than {depth_limit} levels deep."
        elif first in CLOSING:
            depth -= 1
        elif first == QUOTE and token.end() - token.start() == 1:
            return None  # A string that never ends: the parser refuses it at once.
    return None


def json_nesting_depth(body, stop_after=None):
    """Deepest bracket nesting in JSON text (strings skipped), counted no further than
    `stop_after` levels when it is given."""
    depth = deepest = 0
    for token in JSON_TOKEN.finditer(body):
        first = body[token.start()]
        if first in OPENING:
            depth += 1
            deepest = max(deepest, depth)
            if stop_after is not None and deepest > stop_after:
                break
        elif first in CLOSING:
            depth -= 1
    return deepest
