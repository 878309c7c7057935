import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from app import create_app
from handwriting.pendigits import VALIDATION_WRITERS
from harness.answers import assert_error, model_input_of
from harness.strokes import encode, render, strokes_named
from model.classifier import DigitClassifier
from web.image_input import json_nesting_depth
from web.settings import settings_from_environment


@pytest.fixture(scope="module")
def seven_png():
    return encode(render(strokes_named("7-plain")))


@pytest.fixture(scope="module")
def seven_data_url(seven_png):
    return "data:image/png;base64," + base64.b64encode(seven_png).decode()


def assert_prediction(response, digit):
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["digit"] == digit
    assert len(body["probabilities"]) == 10
    assert sum(body["probabilities"]) == pytest.approx(1.0, abs=1e-3)
    assert body["confidence"] == max(body["probabilities"])
    assert isinstance(body["unsure"], bool)
    assert body["model_version"]
    assert model_input_of(body).shape == (28, 28)
    return body




# --- The page --------------------------------------------------------------------------------


def test_index_serves_the_canvas_page_without_inline_script(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-testid="canvas"' in page
    assert "<script>" not in page and "onclick=" not in page
    assert "http://" not in page and "https://" not in page  # Every asset is served here.


def test_pages_carry_security_headers(client):
    headers = client.get("/").headers
    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert client.post("/predict/", data=b"").headers["X-Content-Type-Options"] == "nosniff"


# --- /predict/: every accepted form ---------------------------------------------------------


def test_raw_data_url_body_as_the_original_tutorial_sends_it(client, seven_data_url):
    # jQuery's $.ajax posts a string with the form content type, unencoded.
    response = client.post(
        "/predict/", data=seven_data_url, content_type="application/x-www-form-urlencoded"
    )
    assert_prediction(response, 7)
    assert_prediction(client.post("/predict/", data=seven_data_url, content_type="text/plain"), 7)


def test_json_with_a_data_url_or_bare_base64(client, seven_data_url):
    assert_prediction(client.post("/predict/", json={"image": seven_data_url}), 7)
    bare = seven_data_url.split(",", 1)[1]
    assert_prediction(client.post("/predict/", json={"image": bare}), 7)


def test_multipart_upload(client, seven_png):
    response = client.post(
        "/predict/", data={"file": (io.BytesIO(seven_png), "seven.png")},
        content_type="multipart/form-data",
    )
    assert_prediction(response, 7)


def test_png_body(client, seven_png):
    assert_prediction(client.post("/predict/", data=seven_png, content_type="image/png"), 7)


def test_jpeg_upload(client):
    jpeg = encode(render(strokes_named("4-closed")), format="JPEG", quality=85)
    response = client.post(
        "/predict/", data={"file": (io.BytesIO(jpeg), "four.jpg")},
        content_type="multipart/form-data",
    )
    assert_prediction(response, 4)


def test_empty_canvas_is_no_digit_with_a_reason(client):
    blank = encode(Image.new("RGB", (280, 280), "white"))
    response = client.post("/predict/", data=blank, content_type="image/png")
    assert response.status_code == 200
    body = response.get_json()
    assert body["digit"] is None and body["probabilities"] is None
    assert "no ink" in body["reason"].lower()


# --- /predict/: every error ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, content_type, status, words",
    [
        (b"", "text/plain", 400, ["empty"]),
        (b"data:image/png;base64,@@@", "text/plain", 400, ["base64"]),
        (b"aGVsbG8gd29ybGQ=", "text/plain", 400, ["not an image"]),
        (b"data:text/html;base64,PGI+", "text/plain", 415, ["image/png"]),
        (b"{not json", "application/json", 400, ["not valid json"]),
        (b'{"picture": "x"}', "application/json", 400, ['"image"']),
        (b'["data:image/png;base64,AAAA"]', "application/json", 400, ['"image"']),
        (b"[" * 50 + b"]" * 50, "application/json", 400, ["nested"]),
        (b"<svg/>", "image/svg+xml", 415, ["not accepted"]),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png", 400, ["not an image"]),
    ],
    ids=[
        "empty", "bad-base64", "not-an-image", "html-data-url", "bad-json", "json-without-image",
        "json-list", "deep-json", "svg", "truncated-png",
    ],
)
@pytest.mark.parametrize("path", ["/predict/", "/predict/number"])  # A number: the same errors.
def test_bad_requests_get_clear_json_errors(client, path, body, content_type, status, words):
    assert_error(client.post(path, data=body, content_type=content_type), status, *words)


def test_form_without_file_field(client):
    response = client.post("/predict/", data={"image": "x"}, content_type="multipart/form-data")
    assert_error(response, 400, "'file'")


def test_gif_is_unsupported(client):
    gif = encode(render(strokes_named("7-plain")), format="GIF")
    assert_error(client.post("/predict/", data=gif, content_type="image/png"), 415, "GIF")


def test_body_over_the_limit_is_413(classifier, seven_png):
    app = create_app(
        {"TESTING": True, "CLASSIFIER": classifier, "RATE_LIMIT": "", "MAX_CONTENT_LENGTH": 1000}
    )
    client = app.test_client()
    assert_error(client.post("/predict/", data=seven_png * 10, content_type="image/png"), 413)
    assert_error(client.post("/predict/", data=b"A" * 5000, content_type="text/plain"), 413)


def test_wrong_method_is_405_with_allow_header(client):
    response = client.get("/predict/")
    assert_error(response, 405)
    assert "POST" in response.headers["Allow"]


def test_unknown_path_is_json_404(client):
    assert_error(client.get("/no/such/page"), 404)


def test_unexpected_failure_is_a_json_500_without_details(app, client, seven_png, monkeypatch):
    def broken(data, predict=None):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(app.extensions["digitpad.served"].classifier, "classify", broken)
    response = client.post("/predict/", data=seven_png, content_type="image/png")
    assert_error(response, 500)
    assert b"secret internal detail" not in response.data


def test_json_nesting_depth_skips_brackets_in_strings():
    assert json_nesting_depth(b'{"image": "[[[[[[[[[["}') == 1
    assert json_nesting_depth(b'{"a": [{"b": "\\"]"}]}') == 3
    assert json_nesting_depth(json.dumps([[[]]]).encode()) == 3


# --- Health, readiness, model information, metrics ------------------------------------------


def test_healthz_and_readyz(client, classifier):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["model_version"] == classifier.version


def test_readyz_is_503_until_the_model_is_loaded_and_says_why_it_failed(tmp_path):
    loading = DigitClassifier(model_dir=tmp_path)
    client = create_app({"TESTING": True, "CLASSIFIER": loading, "RATE_LIMIT": ""}).test_client()
    assert_error(client.get("/readyz"), 503, "loading")
    loading.load()  # The folder is empty: loading fails.
    assert_error(client.get("/readyz"), 503, "model.json is missing")
    png = encode(render(strokes_named("1-plain")))
    assert_error(client.post("/predict/", data=png, content_type="image/png"), 503, "failed to load")


def test_api_model_describes_the_model(client):
    info = client.get("/api/model").get_json()
    assert info["test_accuracy"] >= 0.9945 and info["parameters"] < 500_000
    assert 0.99 <= info["validation_writers_accuracy"] <= 1.0
    assert 0.96 <= info["worst_validation_writer_accuracy"] <= info["validation_writers_accuracy"]
    assert info["validation_writers"] == list(VALIDATION_WRITERS)
    assert info["runtime"] and info["device"] and info["version"] and info["trained_at"]
    assert info["ready"] is True


def test_metrics_count_requests_predictions_and_batches(client, seven_png):
    def sample(text, name, **labels):
        wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
        line = next(
            (line for line in text.splitlines() if line.startswith(f"{name}{{{wanted}}}")
             or (not labels and line.startswith(f"{name} "))),
            None,
        )
        return float(line.rsplit(" ", 1)[1]) if line else 0.0

    before = client.get("/metrics").get_data(as_text=True)
    for _ in range(3):
        client.post("/predict/", data=seven_png, content_type="image/png")
    client.post("/predict/", data=b"", content_type="text/plain")
    after = client.get("/metrics").get_data(as_text=True)

    def grew(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("digitpad_http_requests_total", endpoint="/predict/", status="200") == 3
    assert grew("digitpad_http_requests_total", endpoint="/predict/", status="400") == 1
    assert grew("digitpad_predictions_total", digit="7") == 3
    assert grew("digitpad_batch_size_count") == 3
    assert grew("digitpad_http_request_duration_seconds_count", endpoint="/predict/") == 4


def test_every_request_stops_being_waited_for_whatever_its_outcome(app, client, seven_png):
    """The batcher waits for announced requests: one left announced would hold up every batch."""
    blank = encode(Image.new("RGB", (280, 280), "white"))
    for body, content_type, status in [
        (seven_png, "image/png", 200),
        (blank, "image/png", 200),  # no ink: never reaches the network
        (b"not an image", "image/png", 400),
        (b"", "text/plain", 400),
    ]:
        assert client.post("/predict/", data=body, content_type=content_type).status_code == status
    assert app.extensions["digitpad.served"].batcher._on_their_way == 0


def test_rate_limit_answers_429_in_json(classifier, seven_png):
    app = create_app({"TESTING": True, "CLASSIFIER": classifier, "RATE_LIMIT": "2 per minute"})
    client = app.test_client()
    statuses = [
        client.post("/predict/", data=seven_png, content_type="image/png").status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    assert_error(client.post("/predict/", data=seven_png, content_type="image/png"), 429)
    assert client.get("/healthz").status_code == 200  # Only /predict/ is limited.


def test_cors_is_off_unless_configured(classifier, client, seven_png):
    headers = {"Origin": "https://elsewhere.example"}
    response = client.post("/predict/", data=seven_png, content_type="image/png", headers=headers)
    assert "Access-Control-Allow-Origin" not in response.headers

    app = create_app({"TESTING": True, "CLASSIFIER": classifier, "RATE_LIMIT": "",
                      "CORS_ORIGINS": "https://elsewhere.example"})
    response = app.test_client().post(
        "/predict/", data=seven_png, content_type="image/png", headers=headers
    )
    assert response.headers["Access-Control-Allow-Origin"] == "https://elsewhere.example"


def test_probabilities_match_the_network_on_the_shown_image(client, classifier, seven_png):
    body = client.post("/predict/", data=seven_png, content_type="image/png").get_json()
    direct = classifier.predict(model_input_of(body)[np.newaxis])[0]
    np.testing.assert_allclose(body["probabilities"], direct, atol=1e-5)


class FakeClock:
    """Stands in for the time module in the rate limiter's storage: time passes when told."""

    def __init__(self):
        self.now = 1_800_000_000.0

    def time(self):
        return self.now


def test_the_default_rate_limit_lets_a_fast_drawer_through_and_stops_a_flood(classifier, monkeypatch, seven_png):
    import limits.storage.memory

    clock = FakeClock()
    monkeypatch.setattr(limits.storage.memory, "time", clock)
    app = create_app({"TESTING": True, "CLASSIFIER": classifier, "RATE_LIMIT": settings_from_environment({})["RATE_LIMIT"]})
    client = app.test_client()
    # A digit every 2 s for 10 minutes, with live answers: the page sends at most one request
    # per LIVE_ANSWER_INTERVAL_MS while the pen moves (static/js), here through a 1.5 s stroke,
    # and one when it lifts.
    live_interval = 0.25
    statuses = []
    for _ in range(300):
        started = clock.now
        for request_number in range(int(1.5 / live_interval) + 1):
            clock.now = started + request_number * live_interval
            statuses.append(client.post("/predict/", data=seven_png, content_type="image/png").status_code)
        clock.now = started + 2.0
    assert len(statuses) == 300 * 7 and set(statuses) == {200}
    # A flood from one address is stopped within its first second.
    clock.now += 60
    flood = [client.post("/predict/", data=seven_png, content_type="image/png").status_code for _ in range(60)]
    assert flood.count(200) == 20 and flood[20:] == [429] * 40


def test_a_flask_command_builds_the_app_without_loading_or_following_the_model(tmp_path):
    import threading

    import click

    def loaders():
        return {thread for thread in threading.enumerate() if thread.name in ("model-watcher", "model-loader")}

    before = loaders()
    with click.Context(click.Command("upgrade")):  # As `flask db upgrade` builds it.
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'cli.sqlite3'}"})
    assert loaders() == before
    assert not app.extensions["digitpad.served"].classifier.ready
