"""The OpenAPI description (web/openapi.yaml, served at /openapi.json) against the running app.

Fast: it is valid OpenAPI 3.1, it describes exactly the routes the app has, and hand-written
requests in every documented form get answers that conform to it (status, content type, schema).
Slow: schemathesis generates requests from the description (at least 300 an operation) and sends
them to the app served on 127.0.0.1; no answer may be a 5xx or stray from the description.
"""

import base64
import collections
import io
import json
import re
import time

import jsonschema
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate as validate_openapi
from PIL import Image, ImageDraw
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from web.openapi import read_description

FUZZ_EXAMPLES = 300
# Flask answers these for every route itself; the description leaves them out.
AUTOMATIC_METHODS = {"HEAD", "OPTIONS"}


# --- Images: what a person draws, and what a fuzzer sends ------------------------------------


def drawing(size=(112, 112), strokes=(((60, 18), (52, 94)),), image_format="PNG", mode="L"):
    """An image with dark strokes on white paper, encoded."""
    image = Image.new(mode, size, "white")
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        pen.line(stroke, fill="black", width=max(1, min(size) // 12))
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def data_url(data, media_type="image/png"):
    return f"data:{media_type};base64," + base64.b64encode(data).decode("ascii")


@st.composite
def drawn_images(draw, image_format):
    """Real images of a few random strokes, of any size up to a number pad's, or blank."""
    width, height = draw(st.integers(1, 340)), draw(st.integers(1, 120))
    points = st.tuples(st.integers(-5, width + 5), st.integers(-5, height + 5))
    strokes = draw(st.lists(st.lists(points, min_size=2, max_size=5), max_size=4))
    modes = ("L", "RGB") if image_format == "JPEG" else ("L", "RGB", "RGBA", "LA", "P", "1", "I;16")
    return drawing((width, height), strokes, image_format, draw(st.sampled_from(modes)))


def image_bytes(image_format):
    """Mostly real images; sometimes their first bytes only, or bytes that are no image."""
    real = drawn_images(image_format)
    return st.one_of(
        real,
        real,
        real.flatmap(lambda data: st.integers(0, len(data) - 1).map(lambda cut: data[:cut])),
        st.binary(max_size=300),
    )


def image_texts():
    """Data URLs and bare base64 of real images, other media types, and any text."""
    png, jpeg = image_bytes("PNG"), image_bytes("JPEG")
    gif = st.just(base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="))
    return st.one_of(
        png.map(data_url),
        jpeg.map(lambda data: data_url(data, "image/jpeg")),
        png.map(lambda data: base64.b64encode(data).decode("ascii")),
        gif.map(lambda data: data_url(data, "image/gif")),
        st.text(max_size=100),
    )


# The description's own format for images as text, and the bodies of raw image requests.
schemathesis.openapi.format("data-url", image_texts())
schemathesis.openapi.media_type("image/png", image_bytes("PNG"))
schemathesis.openapi.media_type("image/jpeg", image_bytes("JPEG"))


# --- The description, as served --------------------------------------------------------------


@pytest.fixture(scope="module")
def description(live_server_url):
    response = requests.get(f"{live_server_url}/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    return response.json()


def test_the_served_description_is_the_yaml_and_valid_openapi_3_1(description):
    assert description == read_description()
    assert description["openapi"].startswith("3.1.")
    validate_openapi(description)  # Raises with the first error it finds.
    schemathesis.openapi.from_dict(description).validate()


def described_operations(description):
    return {
        (path, method.upper())
        for path, item in description["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch", "options", "head", "trace")
    }


def test_every_route_of_the_app_is_described_and_nothing_else(live_server, description):
    _, app = live_server
    routes = {
        (re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule), method)
        for rule in app.url_map.iter_rules()
        # The review page (/admin/, web/admin.py) is not the public API: HTML pages for one
        # operator, off by default, behind a login; the description leaves it out.
        if rule.endpoint != "static" and not rule.endpoint.startswith("admin.")
        for method in rule.methods - AUTOMATIC_METHODS
    }
    described = described_operations(description)
    assert routes - described == set(), "Routes the description lacks (web/openapi.yaml)"
    assert described - routes == set(), "Described operations the app does not have"


def escaped(key):
    return str(key).replace("~", "~0").replace("/", "~1")


def at(description, pointer):
    node = description
    for part in pointer.removeprefix("/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def followed(description, pointer):
    """(pointer, object) of what `pointer` names, its `$ref`s followed."""
    node = at(description, pointer)
    while "$ref" in node:
        pointer = node["$ref"].removeprefix("#")
        node = at(description, pointer)
    return pointer, node


def test_every_operation_lists_its_answers_with_a_schema(description):
    for path, item in description["paths"].items():
        for method, operation in item.items():
            assert operation.get("operationId"), (path, method)
            for status in operation["responses"]:
                assert re.fullmatch(r"[1-5]\d\d", status), (path, method, status)
                _, answer = followed(description, f"/paths/{escaped(path)}/{method}/responses/{status}")
                for media_type, content in answer["content"].items():
                    assert "schema" in content, (path, method, status, media_type)


# --- Hand-written requests, checked against the description ----------------------------------


def conformance_problems(description, path, method, response):
    """What is wrong with an answer, by the description; empty when it conforms."""
    status = str(response.status_code)
    operation = description["paths"].get(path, {}).get(method.lower())
    if operation is None:  # Any path answers these: unknown paths and methods.
        names = {"404": "NotFound", "405": "MethodNotAllowed"}
        if status not in names:
            return [f"{method} {path} is not described, and answered {status}"]
        pointer = f"/components/responses/{names[status]}"
    elif status not in operation["responses"]:
        return [f"{status} is not among {sorted(operation['responses'])}"]
    else:
        pointer = f"/paths/{escaped(path)}/{method.lower()}/responses/{status}"
    pointer, answer = followed(description, pointer)
    media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    if media_type not in answer["content"]:
        return [f"Content-Type {media_type!r} is not among {sorted(answer['content'])}"]
    problems = []
    for name, header in answer.get("headers", {}).items():
        _, header = followed(description, f"{pointer}/headers/{escaped(name)}")
        if header.get("required") and name not in response.headers:
            problems.append(f"The {name} header is missing")
        pattern = header["schema"].get("pattern")
        if name in response.headers and pattern and not re.search(pattern, response.headers[name]):
            problems.append(f"{name}: {response.headers[name]!r} does not match {pattern}")
    if media_type == "application/json":
        registry = Registry().with_resource("urn:openapi", Resource(description, specification=DRAFT202012))
        # The schema's references ("#/components/...") are to the whole description.
        schema_pointer = f"{pointer}/content/{escaped(media_type)}/schema"
        validator = jsonschema.Draft202012Validator(
            {"$ref": f"urn:openapi#{schema_pointer}"},
            registry=registry,
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )
        problems += [
            f"{'/'.join(map(str, error.absolute_path)) or 'the body'}: {error.message}"
            for error in validator.iter_errors(response.json())
        ]
    return problems


ONE = drawing()  # A 112 x 112 stroke the model reads as a 1: a digit, with ink.
BLANK = drawing(strokes=())
NUMBER = drawing((336, 112), [((40, 20), (40, 90)), ((150, 20), (150, 90)), ((260, 20), (260, 90))])
# The strokes ONE and NUMBER were drawn with: [x, y, t] in the image's pixels, t in milliseconds.
ONE_STROKES = [[[60, 18, 0], [56, 56, 60], [52, 94, 120]]]
NUMBER_STROKES = [[[x, 20, 400 * index], [x, 55, 400 * index + 50], [x, 90, 400 * index + 100]]
                  for index, x in enumerate((40, 150, 260))]
GIF = base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
PNG_HEADERS = {"Content-Type": "image/png"}


def unnamed_part_form():
    """A multipart body with a part whose name cannot be read (Werkzeug names it None)."""
    boundary = "b0undary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name=\r\n\r\n2\r\n--{boundary}--\r\n')
    return {"data": body.encode(), "headers": {"Content-Type": f"multipart/form-data; boundary={boundary}"}}


def deep_json(levels):
    return ("[" * levels + "]" * levels).encode()


# (name, method, path, keyword arguments of requests.request, the status expected)
HAND_WRITTEN = [
    ("page", "GET", "/", {}, 200),
    ("health", "GET", "/healthz", {}, 200),
    ("ready", "GET", "/readyz", {}, 200),
    ("model", "GET", "/api/model", {}, 200),
    ("registry", "GET", "/api/models", {}, 200),
    ("metrics", "GET", "/metrics", {}, 200),
    ("description", "GET", "/openapi.json", {}, 200),
    ("json data URL", "POST", "/predict/", {"json": {"image": data_url(ONE)}}, 200),
    ("json bare base64", "POST", "/predict/", {"json": {"image": base64.b64encode(ONE).decode()}}, 200),
    ("no ink", "POST", "/predict/", {"json": {"image": data_url(BLANK)}}, 200),
    ("form upload", "POST", "/predict/", {"files": {"file": ("one.png", ONE, "image/png")}}, 200),
    ("png body", "POST", "/predict/", {"data": ONE, "headers": PNG_HEADERS}, 200),
    ("jpeg body", "POST", "/predict/",
     {"data": drawing(image_format="JPEG", mode="RGB"), "headers": {"Content-Type": "image/jpeg"}}, 200),
    ("text data URL", "POST", "/predict/", {"data": data_url(ONE), "headers": {"Content-Type": "text/plain"}}, 200),
    ("jQuery's form type", "POST", "/predict/",
     {"data": data_url(ONE), "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 200),
    ("octet-stream image", "POST", "/predict/",
     {"data": ONE, "headers": {"Content-Type": "application/octet-stream"}}, 200),
    ("json with strokes", "POST", "/predict/", {"json": {"image": data_url(ONE), "strokes": ONE_STROKES}}, 200),
    ("no ink with strokes", "POST", "/predict/", {"json": {"image": data_url(BLANK), "strokes": ONE_STROKES}}, 200),
    ("strokes far outside", "POST", "/predict/", {"json": {"image": data_url(ONE), "strokes": [[[900, 1, 0]]]}}, 400),
    ("a point of two numbers", "POST", "/predict/", {"json": {"image": data_url(ONE), "strokes": [[[1, 2]]]}}, 400),
    ("bad base64", "POST", "/predict/", {"json": {"image": "data:image/png;base64,@@@"}}, 400),
    ("no image field", "POST", "/predict/", {"json": {"picture": data_url(ONE)}}, 400),
    ("deep JSON", "POST", "/predict/", {"data": deep_json(20), "headers": {"Content-Type": "application/json"}}, 400),
    ("not an image", "POST", "/predict/", {"data": b"\x89PNG junk", "headers": PNG_HEADERS}, 400),
    ("a GIF", "POST", "/predict/", {"json": {"image": data_url(GIF, "image/gif")}}, 415),
    ("an XML body", "POST", "/predict/", {"data": b"<a/>", "headers": {"Content-Type": "application/xml"}}, 415),
    ("over the body limit", "POST", "/predict/", {"data": b"0" * 2_000_001, "headers": PNG_HEADERS}, 413),
    ("too many pixels", "POST", "/predict/", {"data": drawing((4097, 8), ()), "headers": PNG_HEADERS}, 413),
    ("wrong method", "GET", "/predict/", {}, 405),
    ("unknown path", "GET", "/no-such-page", {}, 404),
    ("number", "POST", "/predict/number", {"json": {"image": data_url(NUMBER)}}, 200),
    ("no number", "POST", "/predict/number", {"data": BLANK, "headers": PNG_HEADERS}, 200),
    ("number with strokes", "POST", "/predict/number", {"json": {"image": data_url(NUMBER), "strokes": NUMBER_STROKES}},
     200),
    ("number, bad base64", "POST", "/predict/number", {"json": {"image": "!"}}, 400),
    ("batch", "POST", "/predict/batch",
     {"json": {"images": [data_url(ONE), data_url(BLANK), "@@", data_url(GIF, "image/gif"), 7]}}, 200),
    ("batch upload", "POST", "/predict/batch",
     {"files": [("file", ("a.png", ONE, "image/png")), ("file", ("b.png", BLANK, "image/png"))]}, 200),
    ("empty batch", "POST", "/predict/batch", {"json": {"images": []}}, 400),
    # Found by fuzzing: an unnamed part was a 500 (sorting None among the field names).
    ("batch, unnamed form part", "POST", "/predict/batch", unnamed_part_form(), 400),
    ("batch, unknown field", "POST", "/predict/batch", {"json": {"images": [data_url(ONE)], "x": 1}}, 400),
    ("batch as text", "POST", "/predict/batch", {"data": "x", "headers": {"Content-Type": "text/plain"}}, 415),
    ("batch with strokes", "POST", "/predict/batch", {"json": {"images": [data_url(ONE)], "strokes": ONE_STROKES}}, 400),
    ("correction with strokes", "POST", "/api/corrections",
     {"json": {"image": data_url(drawing(strokes=[((25, 30), (85, 85))])), "label": 7, "kind": "wrong",
               "strokes": [[[25, 30, 0], [55, 57.5, 80], [85, 85, 160]]]}}, 201),
    ("correction", "POST", "/api/corrections",
     {"json": {"image": data_url(drawing(strokes=[((30, 30), (85, 80))])), "label": 7, "kind": "wrong"}}, 201),
    ("correction form", "POST", "/api/corrections",
     {"files": {"file": ("d.png", drawing(strokes=[((20, 90), (90, 20))]), "image/png")},
      "data": {"label": "1", "kind": "right"}}, 201),
    # "²" is a digit to str.isdigit() but not to int(): it was a 500.
    ("correction form, label ²", "POST", "/api/corrections",
     {"files": {"file": ("d.png", ONE, "image/png")}, "data": {"label": "²", "kind": "right"}}, 400),
    ("correction, unnamed form part", "POST", "/api/corrections", unnamed_part_form(), 400),
    ("correction without ink", "POST", "/api/corrections",
     {"json": {"image": data_url(BLANK), "label": 1, "kind": "right"}}, 422),
    ("correction, label as text", "POST", "/api/corrections",
     {"json": {"image": data_url(ONE), "label": "3", "kind": "wrong"}}, 400),
    ("correction of a GIF", "POST", "/api/corrections",
     {"json": {"image": data_url(GIF, "image/gif"), "label": 3, "kind": "wrong"}}, 415),
    ("correction from another site", "POST", "/api/corrections",
     {"files": {"file": ("d.png", ONE, "image/png")}, "data": {"label": "1", "kind": "right"},
      "headers": {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}}, 403),
    ("batch of 45 MB of [", "POST", "/predict/batch",
     {"data": b"[" * 45_000_000, "headers": {"Content-Type": "application/json"}}, 400),
]


@pytest.mark.parametrize(
    "method, path, arguments, status", [case[1:] for case in HAND_WRITTEN], ids=[case[0] for case in HAND_WRITTEN]
)
def test_hand_written_requests_get_answers_as_described(description, live_server_url, method, path, arguments,
                                                        status):
    response = requests.request(method, live_server_url + path, timeout=30, **arguments)
    assert response.status_code == status, response.text[:500]
    assert conformance_problems(description, path, method, response) == []
    # Each parameter once (/metrics said "charset=utf-8; charset=utf-8").
    parameters = [part.split("=")[0].strip().lower() for part in response.headers["Content-Type"].split(";")[1:]]
    assert len(parameters) == len(set(parameters)), response.headers["Content-Type"]


def test_a_correction_sent_again_or_changed_is_answered_as_described(description, live_server_url):
    image = data_url(drawing(strokes=[((30, 30), (80, 80)), ((30, 80), (80, 30))]))
    for label, kind, status, stored in [(7, "wrong", 201, "new"), (7, "wrong", 200, "unchanged"),
                                        (4, "right", 200, "replaced")]:
        response = requests.post(f"{live_server_url}/api/corrections", timeout=30,
                                 json={"image": image, "label": label, "kind": kind})
        assert (response.status_code, response.json().get("stored")) == (status, stored), response.text
        assert conformance_problems(description, "/api/corrections", "POST", response) == []


def test_an_answer_that_strays_is_caught(description):
    """The conformance check itself: a key too many, a null digit with ink, a wrong status."""
    answer = requests.models.Response()
    answer.status_code = 200
    answer.headers["Content-Type"] = "application/json"
    good = {"digit": 1, "confidence": 0.9, "probabilities": [0.1] * 10, "unsure": False,
            "input_image": data_url(ONE), "model_version": "v"}
    for body, expected in [
        (good, False),
        ({**good, "extra": 1}, True),
        ({**good, "digit": None}, True),
        ({**good, "probabilities": [0.1] * 9}, True),
    ]:
        answer._content = json.dumps(body).encode()
        assert bool(conformance_problems(description, "/predict/", "POST", answer)) == expected, body
    answer.status_code = 404
    answer._content = json.dumps({"error": {"status": 404, "title": "Not Found", "message": "m"}}).encode()
    assert conformance_problems(description, "/predict/", "POST", answer)


# --- Fuzzing the running app -----------------------------------------------------------------

# No 5xx; every answer's status, content type, headers and body as described; a request the
# description calls invalid refused with a 4xx; a method a path does not take answered 405.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    unsupported_method,
    allow_header_conformance,
]
# A batch answers each image in its place, a bad one with its own error (the README's design):
# an item that is not an image is not a reason to refuse the others, so the batch answers 200.
ANSWERED_IN_PLACE = {"/predict/batch": [negative_data_rejection]}


@pytest.fixture(scope="module")
def fuzz_session():
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="module")
def fuzz_tally(request):
    """Cases sent per operation and answers by status, reported (and checked) at the end."""
    tally = {"cases": collections.Counter(), "statuses": collections.defaultdict(collections.Counter),
             "failed": set(), "started": time.monotonic()}
    yield tally
    seconds = time.monotonic() - tally["started"]
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"schemathesis: {len(tally['cases'])} operations, {sum(tally['cases'].values()):,} cases "
             f"in {seconds:.0f} s, {len(tally['failed'])} operations failed"]
    for label, count in sorted(tally["cases"].items()):
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(tally["statuses"][label].items()))
        lines.append(f"  {label:<28} {count:>5} cases  ({statuses})")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            for line in lines:
                reporter.write_line(line)
    # Operations with a body have far more than 300 requests to tell apart; those without any
    # input have one, which Hypothesis stops repeating. One that failed stopped early, and says so.
    short = [
        label for label, count in tally["cases"].items()
        if label.startswith("POST") and label not in tally["failed"] and count < FUZZ_EXAMPLES
    ]
    assert not short, f"Fewer than {FUZZ_EXAMPLES} cases for {short}"


# From the YAML that /openapi.json serves (the first test checks they are the same): a schema
# loaded from the live server's URL through schemathesis.pytest.from_fixture would be the same
# description, but that lazy loader reads `_nodeid`, which pytest 9's test items no longer have.
fuzzed = schemathesis.openapi.from_dict(read_description())


@pytest.mark.slow
@fuzzed.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_the_running_app_keeps_its_contract(case, live_server_url, fuzz_session, fuzz_tally):
    response = case.call(base_url=live_server_url, session=fuzz_session, timeout=60)
    fuzz_tally["cases"][case.operation.label] += 1
    fuzz_tally["statuses"][case.operation.label][response.status_code] += 1
    try:
        case.validate_response(response, checks=CHECKS, excluded_checks=ANSWERED_IN_PLACE.get(case.operation.path))
    except Exception:
        fuzz_tally["failed"].add(case.operation.label)
        raise
