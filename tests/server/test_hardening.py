"""Whatever people or robots send, digitpad answers with clear JSON and stays up."""

import base64
import json
import os
import signal
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from harness.answers import assert_error, model_input_of
from harness.servers import procfile_server, worker_pids
from harness.strokes import STROKE_DIGITS, encode, render, strokes_named
from model.preprocessing import decode_image, preprocess

SEVEN_PNG = encode(render(strokes_named("7-crossed")))
FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def assert_json_and_not_5xx(response):
    assert response.status_code < 500, response.data[:300]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert ("error" in body) != ("digit" in body)


# --- Property-based: arbitrary bytes, arbitrary JSON, mutated PNGs ------------------------------

CONTENT_TYPES = st.sampled_from(
    ["", "text/plain", "application/json", "image/png", "image/jpeg", "application/octet-stream",
     "application/x-www-form-urlencoded", "multipart/form-data", "multipart/form-data; boundary=x",
     "image/gif", "text/html; charset=utf-8"]
)


@FUZZ
@given(body=st.binary(max_size=4096), content_type=CONTENT_TYPES)
def test_arbitrary_bytes_never_cause_a_5xx(client, body, content_type):
    assert_json_and_not_5xx(client.post("/predict/", data=body, content_type=content_type))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)


@FUZZ
@given(payload=JSON_VALUES | st.fixed_dictionaries({"image": JSON_VALUES}))
def test_arbitrary_json_never_causes_a_5xx(client, payload):
    assert_json_and_not_5xx(client.post("/predict/", json=payload))


@FUZZ
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(SEVEN_PNG) - 1), st.integers(0, 255)), min_size=1, max_size=12
    ),
    cut=st.integers(8, len(SEVEN_PNG)),
    as_data_url=st.booleans(),
)
def test_mutated_pngs_never_cause_a_5xx(client, edits, cut, as_data_url):
    mutated = bytearray(SEVEN_PNG[:cut])
    for position, value in edits:
        if position < len(mutated):
            mutated[position] = value
    if as_data_url:
        response = client.post("/predict/", json={"image": "data:image/png;base64," + base64.b64encode(mutated).decode()})
    else:
        response = client.post("/predict/", data=bytes(mutated), content_type="image/png")
    assert_json_and_not_5xx(response)


# --- Hand-made hostile inputs -----------------------------------------------------------------


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@pytest.fixture(scope="module")
def png_bomb():
    """A real 20,000 x 20,000 PNG (1 bit a pixel, all black) that compresses to some 50 KB."""
    width = height = 20_000
    row = b"\0" + b"\0" * (width // 8)
    compressor = zlib.compressobj(9)
    block = row * 1000
    data = b"".join(compressor.compress(block) for _ in range(height // 1000)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def many_frame_gif():
    frames = [render(strokes_named(name)).convert("P") for name, _, _ in STROKE_DIGITS] * 5
    return encode(frames[0], format="GIF", save_all=True, append_images=frames[1:], duration=20)


def animated_png():
    frames = [render(strokes_named("7-crossed")), render(strokes_named("3-round"))]
    return encode(frames[0], save_all=True, append_images=frames[1:])


def cmyk_jpeg():
    return encode(render(strokes_named("7-crossed")).convert("CMYK"), format="JPEG")


def test_png_bomb_is_refused_from_its_header(client, png_bomb, monkeypatch):
    assert len(png_bomb) < 100_000
    decoded = []
    # Pillow decodes the pixels of a file (PNG, JPEG) in ImageFile.load.
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda image: decoded.append(image))
    decode_image(SEVEN_PNG)
    assert len(decoded) == 1, "the patch must see an ordinary PNG being decoded"
    response = client.post("/predict/", data=png_bomb, content_type="image/png")
    assert_error(response, 413, "too large", "4096 pixels a side")
    assert len(decoded) == 1  # Refused from the header: no pixel of the bomb was decoded.


@pytest.mark.parametrize(
    "body, content_type, status, words",
    [
        (b"", "application/octet-stream", 400, ["empty"]),
        (SEVEN_PNG, "application/xml", 415, ["not accepted"]),
        (b"data:image/png;base64," + b"!*" * 100, "text/plain", 400, ["base64"]),
        (SEVEN_PNG[: len(SEVEN_PNG) // 2], "image/png", 400, ["damaged"]),
        (many_frame_gif(), "image/png", 415, ["GIF"]),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, ["nested"]),
        (b'{"image": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}}', "application/json", 400, ["nested"]),
        (json.dumps({"image": "A" * 1_500_000}).encode(), "application/json", 400, ["not an image"]),
        (json.dumps({"image": "A" * 3_000_000}).encode(), "application/json", 413, ["2,000,000 bytes"]),
        (b"\0" * 3_000_000, "image/png", 413, ["2,000,000 bytes"]),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml", 415, []),
        (encode(Image.new("L", (1, 5000), 255)), "image/png", 413, ["4096"]),
    ],
    ids=[
        "empty-body", "wrong-content-type", "base64-garbage", "truncated-png", "gif-many-frames",
        "deep-json", "nested-image-object", "huge-json-string", "json-over-limit", "body-over-limit",
        "svg", "too-tall",
    ],
)
def test_hostile_inputs_get_a_clear_4xx(client, body, content_type, status, words):
    assert_error(client.post("/predict/", data=body, content_type=content_type), status, *words)


@pytest.mark.parametrize(
    "body, digit",
    [(animated_png(), 7), (cmyk_jpeg(), 7)],
    ids=["animated-png-first-frame", "cmyk-jpeg"],
)
def test_unusual_but_valid_images_are_handled(client, body, digit):
    response = client.post("/predict/", data=body, content_type="image/png")
    assert response.status_code == 200 and response.get_json()["digit"] == digit


def test_chunked_body_over_the_limit_is_refused(live_server_url):
    def endless():
        for _ in range(400):  # 4 MB in all, twice the limit, with no Content-Length.
            yield b"A" * 10_000

    try:
        response = requests.post(f"{live_server_url}/predict/", data=endless(),
                                 headers={"Content-Type": "text/plain"}, timeout=30)
        assert response.status_code == 413
    except requests.ConnectionError:
        pass  # The server stopped reading and closed the connection: also a refusal.
    # Either way the server is still there.
    assert requests.get(f"{live_server_url}/healthz", timeout=5).status_code == 200


# --- Concurrency: every answer belongs to its own drawing ---------------------------------------


def test_hundreds_of_concurrent_requests_each_get_their_own_answer(live_server_url):
    drawings = []
    for index in range(240):
        name, label, strokes = STROKE_DIGITS[index % len(STROKE_DIGITS)]
        scale = 0.5 + 0.4 * ((index * 7) % 10) / 10
        image = render(strokes, size=200 + (index % 5) * 40, scale=scale)
        drawings.append((encode(image), label))

    def ask(drawing):
        data, _ = drawing
        return requests.post(f"{live_server_url}/predict/", data=data,
                             headers={"Content-Type": "image/png"}, timeout=60).json()

    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(ask, drawings))

    for (data, _), answer in zip(drawings, answers):
        # The image the server saw is exactly this request's drawing, preprocessed.
        np.testing.assert_array_equal(model_input_of(answer), preprocess(data))
    wrong = sum(answer["digit"] != label for (_, label), answer in zip(drawings, answers))
    print(f"{len(drawings)} concurrent requests, 32 at a time: {wrong} wrong answers, no mix-ups")
    assert wrong <= len(drawings) * 0.05, f"{wrong} wrong answers of {len(drawings)}"


# --- Faults -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_only_in_flight_requests_fail(tmp_path):
    """Bounded: 8 clients for about 8 s on 127.0.0.1; one of two workers is killed midway."""
    environment = {"WEB_CONCURRENCY": "2"}
    with procfile_server(environment, log_path=tmp_path / "gunicorn.log") as (url, master):
        workers = worker_pids(master.pid)
        assert len(workers) == 2
        outcomes = {"ok": 0, "failed": 0, "wrong": 0}
        lock = threading.Lock()
        deadline = time.monotonic() + 8

        def client():
            session = requests.Session()
            while time.monotonic() < deadline:
                try:
                    response = session.post(f"{url}/predict/", data=SEVEN_PNG,
                                            headers={"Content-Type": "image/png"}, timeout=20)
                    outcome = "ok" if response.status_code == 200 else "failed"
                    if outcome == "ok" and response.json()["digit"] != 7:
                        outcome = "wrong"
                except requests.RequestException:
                    outcome = "failed"
                    session = requests.Session()
                with lock:
                    outcomes[outcome] += 1

        threads = [threading.Thread(target=client) for _ in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(3)
        os.kill(workers[0], signal.SIGKILL)
        for thread in threads:
            thread.join(30)
            assert not thread.is_alive(), "a client never finished"

        replaced = worker_pids(master.pid)
        after = requests.get(f"{url}/readyz", timeout=30)
    print(f"worker kill under load: {outcomes}")
    assert workers[0] not in replaced and len(replaced) == 2, "gunicorn did not replace the worker"
    assert after.status_code == 200
    assert outcomes["wrong"] == 0
    assert outcomes["ok"] > 20
    # Only what the killed worker had in flight is lost: each client has one request at a time,
    # so at most one a client whose kept-alive connection was with that worker.
    assert outcomes["failed"] <= 8
