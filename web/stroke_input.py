"""The strokes a drawing was made with, sent beside its image: read, checked, and kept.

JSON `{"image": "data:image/png;base64,...", "strokes": [[[x, y, t], ...], ...]}`: each stroke a
list of points, each point exactly three numbers, x and y in the pixels of the image sent (y
down) and t in milliseconds since the drawing's first point. Strokes are optional: an image
alone, in any form the routes take, reads exactly as it did before strokes; only JSON carries
them (a form, a raw PNG or a data URL as the body never does). They are read in one place,
here, into the form the models take: a list of float64 arrays (N, 3) of x, y, t, one a stroke.

Each limit is a setting (web/settings.py): the most strokes, the most points of all strokes
together, how far outside the image a point may lie (in the image's widths and heights), and
the latest time. Past one, or for anything that is not a finite number, the answer is a 400
that says which stroke and point. Times never go back within a stroke: a stroke's points are
samples of one pen in the order it moved, which every consumer of the path takes for granted
(its direction, its speed), and a browser's event times never decrease; equal times are
allowed (coalesced events, times rounded to the millisecond). Between strokes no order is
required: a program that has no times for its strokes may send 0 throughout, and the models
order strokes by their first time.
"""

import io
import json
import reprlib

import numpy as np
from flask import current_app, request
from PIL import Image
from werkzeug.exceptions import BadRequest

from model.pad import SENT_SIZE
from model.preprocessing import ORIENTATION_TAG
from web.image_input import image_bytes_from_json, image_bytes_from_request, json_object_from_request

FORM = "'strokes' must be a list of strokes, each a list of points [x, y, t] (x and y in the image's pixels, t in milliseconds)"
# EXIF orientations that turn an image a quarter: its upright width is its stored height.
QUARTER_TURNS = (5, 6, 7, 8)
# Kept to a tenth of a pixel of the kept drawing (the pen is 8 of its pixels wide) and to the
# millisecond (browsers coarsen event times to a tenth of one, and pointer events come at least
# 4 ms apart): finer would only take room.
KEPT_DECIMALS = 1

short = reprlib.Repr()
short.maxlist, short.maxstring, short.maxother = 4, 20, 20


def image_and_strokes_from_request():
    """(the image's bytes, its strokes or None) for the routes that take strokes: JSON may carry
    them; every other form is an image alone."""
    if request.mimetype != "application/json":
        return image_bytes_from_request(), None
    payload = json_object_from_request()
    data = image_bytes_from_json(payload)
    return data, strokes_of(payload, data)


def strokes_of(payload, data):
    """The strokes of a JSON body, checked against the limits and against the size of its image
    (`data`), or None where it has none (no `strokes`, null, or an empty list)."""
    strokes = strokes_from_json(payload.get("strokes"), current_app.config)
    if strokes is not None:
        size = upright_size(data)
        # An image whose header cannot be read is refused on its own when it is decoded.
        if size is not None:
            check_within(strokes, *size, current_app.config["STROKES_MAX_OUTSIDE"])
    return strokes


def strokes_from_json(raw, config):
    """The strokes as float64 arrays (N, 3), checked for their form, their numbers, their times
    and the counts of the settings in `config`; None for none. A BadRequest says what is wrong."""
    if raw is None or raw == []:
        return None
    if not isinstance(raw, list):
        raise BadRequest(f"{FORM} (got {short.repr(raw)}).")
    most_strokes, most_points = config["STROKES_MAX_STROKES"], config["STROKES_MAX_POINTS"]
    if len(raw) > most_strokes:
        raise BadRequest(f"'strokes' holds {len(raw):,} strokes; the limit is {most_strokes:,}.")
    points = sum(len(stroke) for stroke in raw if isinstance(stroke, list))
    if points > most_points:
        raise BadRequest(f"'strokes' holds {points:,} points in all; the limit is {most_points:,}.")
    latest = config["STROKES_MAX_SECONDS"] * 1000
    return [stroke_array(stroke, number, latest) for number, stroke in enumerate(raw, start=1)]


def stroke_array(stroke, number, latest):
    """One stroke as a float64 array (N, 3), or a BadRequest naming the stroke (and point)."""
    if not isinstance(stroke, list) or not stroke:
        raise BadRequest(f"Stroke {number} must be a list of at least one point [x, y, t] (got {short.repr(stroke)}).")
    for index, point in enumerate(stroke, start=1):
        # bool is an int in Python, and true is no coordinate.
        if not isinstance(point, list) or len(point) != 3 or any(type(value) not in (int, float) for value in point):
            raise BadRequest(f"Point {index} of stroke {number} must be exactly three numbers [x, y, t] "
                             f"(got {short.repr(point)}).")
    try:
        array = np.array(stroke, dtype=np.float64)
    except OverflowError as error:  # A whole number too large for a float.
        raise BadRequest(f"Stroke {number} holds a number too large to be a coordinate or a time.") from error
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        index = int(np.argmin(finite))
        raise BadRequest(f"Point {index + 1} of stroke {number} holds a number that is not finite "
                         f"(NaN or infinity): {short.repr(stroke[index])}.")
    times = array[:, 2]
    if times.min() < 0 or times.max() > latest:
        index = int(np.argmax((times < 0) | (times > latest)))
        raise BadRequest(f"Point {index + 1} of stroke {number} has t = {times[index]:g}: a time is in milliseconds "
                         f"since the drawing's first point, from 0 to {latest:,.0f}.")
    backwards = np.diff(times) < 0
    if backwards.any():
        index = int(np.argmax(backwards)) + 1
        raise BadRequest(f"Point {index + 1} of stroke {number} is earlier (t = {times[index]:g}) than the point "
                         f"before it (t = {times[index - 1]:g}): times never go back within a stroke.")
    return array


def check_within(strokes, width, height, most_outside):
    """A BadRequest where a point lies more than `most_outside` of the image's width or height
    beyond its edges (x and y are in the pixels of the image, `width` x `height`)."""
    low = np.array([-most_outside * width, -most_outside * height])
    high = np.array([(1 + most_outside) * width, (1 + most_outside) * height])
    for number, stroke in enumerate(strokes, start=1):
        outside = ((stroke[:, :2] < low) | (stroke[:, :2] > high)).any(axis=1)
        if outside.any():
            index = int(np.argmax(outside))
            x, y = stroke[index, :2]
            raise BadRequest(
                f"Point {index + 1} of stroke {number}, ({x:g}, {y:g}), lies too far outside the {width} x {height} "
                f"image: x and y are in its pixels, and a point may lie at most {most_outside:g} of its width "
                "and height beyond its edges."
            )


def upright_size(data):
    """(width, height) of the image as it is read, turned upright by its EXIF orientation, from
    its header alone (no pixel is decoded); None where the header cannot be read."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            turned = image.format == "JPEG" and image.getexif().get(ORIENTATION_TAG, 1) in QUARTER_TURNS
    # Not an image, or one too large (Pillow raises many kinds, SyntaxError among them): it is
    # refused when it is decoded, with its reason.
    except Exception:  # noqa: BLE001
        return None
    return (height, width) if turned else (width, height)


def page_limits(config):
    """The limits as the page reads them from <body>'s data attributes (static/js/constants.js),
    so that it sends only strokes the server takes, whatever the settings."""
    return {
        "strokes-max-strokes": config["STROKES_MAX_STROKES"],
        "strokes-max-points": config["STROKES_MAX_POINTS"],
        "strokes-max-outside": config["STROKES_MAX_OUTSIDE"],
        "strokes-max-seconds": config["STROKES_MAX_SECONDS"],
    }


# ---------------------------------------------------------------------------------------------
# Kept with a correction
# ---------------------------------------------------------------------------------------------


def kept_strokes(strokes, scale_x, scale_y):
    """The strokes as a correction keeps them: compact JSON, in the pixels of the drawing as kept
    (the sent image's pixels times the scale it was shrunk by), x and y to a tenth of a pixel and
    t to the millisecond; None for none."""
    if strokes is None:
        return None
    kept = [
        [[round(x * scale_x, KEPT_DECIMALS), round(y * scale_y, KEPT_DECIMALS), round(t)] for x, y, t in stroke.tolist()]
        for stroke in strokes
    ]
    return json.dumps(kept, separators=(",", ":"))


def most_kept_strokes_bytes(config):
    """The longest text kept_strokes() makes of strokes within the limits of `config`, a drawing
    being kept at most SENT_SIZE pixels a side: each point `[x,y,t],`, each stroke `[],`, and the
    list's brackets."""
    reach = config["STROKES_MAX_OUTSIDE"] * SENT_SIZE
    coordinate = max(len(f"{-reach:.{KEPT_DECIMALS}f}"), len(f"{SENT_SIZE + reach:.{KEPT_DECIMALS}f}"))
    time = len(str(round(config["STROKES_MAX_SECONDS"] * 1000)))
    point = 2 * coordinate + time + len("[,,],")
    return config["STROKES_MAX_POINTS"] * point + config["STROKES_MAX_STROKES"] * len("[],") + len("[]")

