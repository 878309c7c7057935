"""POST /predict/batch: order, per-image errors, limits, and the same answers as /predict/."""

import base64
import io
import json

import pytest
from PIL import Image

from harness.apps import RecordingRuntime, migrated_app
from harness.strokes import STROKE_DIGITS, encode, render


def data_url(png):
    return "data:image/png;base64," + base64.b64encode(png).decode()


@pytest.fixture(scope="module")
def digit_pngs():
    """(PNG as the page sends it, label) for every example digit."""
    return [(encode(render(strokes).convert("RGBA")), label) for _, label, strokes in STROKE_DIGITS]


@pytest.fixture
def batch_app(classifier, tmp_path):
    return migrated_app(
        {"CLASSIFIER": classifier, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite3'}",
         "BATCH_MAX_IMAGES": 300}
    )


def test_every_result_is_what_predict_answers_for_that_image_in_order(batch_app, digit_pngs):
    client = batch_app.test_client()
    # Large enough to be shared out among the batch processes, in chunks.
    pngs = [png for png, _ in digit_pngs] * 6
    response = client.post("/predict/batch", json={"images": [data_url(png) for png in pngs]})
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert len(results) == len(pngs)
    singles = [client.post("/predict/", json={"image": data_url(png)}).get_json() for png, _ in digit_pngs]
    assert results == singles * 6
    assert [result["digit"] for result in results[: len(digit_pngs)]] == [label for _, label in digit_pngs]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'digitpad_batch_request_images_bucket{le="250.0"}' in metrics


def test_bad_images_get_their_own_errors_and_never_fail_the_others(batch_app, digit_pngs):
    seven = next(png for png, label in digit_pngs if label == 7)
    gif = encode(render(STROKE_DIGITS[0][2]), format="GIF")
    blank = encode(Image.new("L", (112, 112), 255))
    huge = encode(Image.new("L", (5000, 10), 255))
    images = [
        data_url(seven), "not base64 at all!", 42, data_url(gif), data_url(blank), data_url(b"\x89PNG broken"),
        data_url(huge), data_url(seven),
    ] * 3  # Enough images for the batch processes, with the bad ones among them.
    response = batch_app.test_client().post("/predict/batch", json={"images": images})
    assert response.status_code == 200
    results = response.get_json()["results"]
    statuses = [result.get("error", {}).get("status") for result in results[:8]]
    assert statuses == [None, 400, 400, 415, None, 400, 413, None]
    assert results[0]["digit"] == 7 and results[7]["digit"] == 7
    assert results[4]["digit"] is None and results[4]["reason"]
    assert all(result["error"]["message"] and result["error"]["title"] for result in results[:8] if "error" in result)
    assert results[8:16] == results[:8] and results[16:] == results[:8]


def test_multipart_with_several_files(batch_app, digit_pngs):
    files = [(io.BytesIO(png), f"{label}.png") for png, label in digit_pngs[:5]]
    response = batch_app.test_client().post("/predict/batch", data={"file": files})
    assert response.status_code == 200
    assert [result["digit"] for result in response.get_json()["results"]] == [label for _, label in digit_pngs[:5]]


def test_more_images_than_the_limit_is_413(batch_app, digit_pngs):
    url = data_url(digit_pngs[0][0])
    response = batch_app.test_client().post("/predict/batch", json={"images": [url] * 301})
    assert response.status_code == 413
    assert "301 images" in response.get_json()["error"]["message"] and "300" in response.get_json()["error"]["message"]
    files = [(io.BytesIO(digit_pngs[0][0]), "a.png") for _ in range(301)]
    assert batch_app.test_client().post("/predict/batch", data={"file": files}).status_code == 413


def test_the_body_limit_grows_with_the_count_and_stays_bounded(classifier, tmp_path, digit_pngs):
    app = migrated_app(
        {"CLASSIFIER": classifier, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite3'}",
         "BATCH_MAX_IMAGES": 10, "BATCH_IMAGE_BYTES": 20_000, "MAX_CONTENT_LENGTH": 20_000}
    )
    client = app.test_client()
    url = data_url(digit_pngs[0][0])
    # Ten images fit in ten allowances, a body far larger than /predict/'s limit.
    assert len(json.dumps({"images": [url] * 10})) > 20_000
    assert client.post("/predict/batch", json={"images": [url] * 10}).status_code == 200
    # One image may not take the allowance of ten.
    padded = url + "=" * 30_000
    response = client.post("/predict/batch", json={"images": [padded]})
    assert response.status_code == 413 and "20,000 bytes in all" in response.get_json()["error"]["message"]
    # Past the most images times the allowance, the body is refused before it is read.
    response = client.post("/predict/batch", data=b"x" * 200_001, content_type="application/json")
    assert response.status_code == 413 and "200,000 bytes" in response.get_json()["error"]["message"]


@pytest.mark.parametrize(
    "body, content_type, words",
    [
        (b'{"images": []}', "application/json", ["no images"]),
        (b'{"images": "data:image/png;base64,AAAA"}', "application/json", ["images"]),
        (b'{"image": "x"}', "application/json", ["Unknown", "image"]),
        (b"[1, 2]", "application/json", ["JSON object"]),
        (b'{"images": [[[[[[[[[["x"]]]]]]]]]]}', "application/json", ["nested"]),
        (b"\x89PNG", "image/png", ["not accepted"]),
    ],
    ids=["empty", "not-a-list", "unknown-field", "not-an-object", "deep", "raw-png"],
)
def test_malformed_batches_are_refused_with_a_message(batch_app, body, content_type, words):
    response = batch_app.test_client().post("/predict/batch", data=body, content_type=content_type)
    assert response.status_code in (400, 415)
    message = response.get_json()["error"]["message"]
    assert all(word in message for word in words), message


def test_batches_have_their_own_rate_limit(classifier, tmp_path, digit_pngs):
    app = migrated_app(
        {"CLASSIFIER": classifier, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite3'}",
         "BATCH_RATE_LIMIT": "1 per minute"}
    )
    client = app.test_client()
    body = {"images": [data_url(digit_pngs[0][0])]}
    assert client.post("/predict/batch", json=body).status_code == 200
    assert client.post("/predict/batch", json=body).status_code == 429


def test_api_model_says_which_runtime_serves_which_sizes(client):
    runtimes = client.get("/api/model").get_json()["runtimes"]
    assert [size["images"] for size in runtimes["sizes"]] == ["1-32", "33+"]
    assert runtimes["sizes"][0]["where"] == "the worker" and "batch processes" in runtimes["sizes"][1]["where"]
    assert float(runtimes["sizes"][0]["ms_per_image"]["1"]) > 0
    assert "LiteRT" in runtimes["why"]


def test_a_batch_process_that_dies_costs_one_503_and_the_next_batch_is_served(batch_app, digit_pngs):
    import os
    import signal

    client = batch_app.test_client()
    body = {"images": [data_url(png) for png, _ in digit_pngs] * 2}
    assert client.post("/predict/batch", json=body).status_code == 200
    from web.batch import batch_pool

    for pid in list(batch_pool()._processes):  # The batch processes of this test process.
        os.kill(pid, signal.SIGKILL)
    refused = client.post("/predict/batch", json=body)
    assert refused.status_code == 503 and "send it again" in refused.get_json()["error"]["message"]
    assert client.post("/predict/batch", json=body).status_code == 200


def test_where_the_gpu_takes_a_batch_it_sees_the_whole_batch_and_answers_the_same(tmp_path, digit_pngs):
    from model.classifier import DigitClassifier

    classifier = DigitClassifier()
    classifier.load()
    app = migrated_app({"CLASSIFIER": classifier, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    client = app.test_client()
    body = {"images": [data_url(png) for png, _ in digit_pngs] * 3 + ["not base64!"]}
    on_the_cpu = client.post("/predict/batch", json=body).get_json()["results"]
    gpu = RecordingRuntime(classifier.runtimes.for_size(1))
    classifier.runtimes.gpu, classifier.runtimes.gpu_batch_from = gpu, 40
    on_the_gpu = client.post("/predict/batch", json=body).get_json()["results"]
    # Preprocessed in the batch processes, run at once on the "GPU", the same answers.
    assert gpu.sizes == [len(digit_pngs) * 3]
    assert on_the_gpu == on_the_cpu and on_the_gpu[-1]["error"]["status"] == 400
