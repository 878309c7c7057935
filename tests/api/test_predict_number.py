"""POST /predict/number: the contract, the empty pad, and the same limits and errors as /predict/."""

import base64
import io

import pytest
from PIL import Image

from app import create_app
from handwriting.numbers import write_digits
from harness.answers import assert_error, model_input_of
from harness.strokes import encode, render, strokes_named
from model.classifier import DigitClassifier, ModelNotReady
from model.loader import ModelFilesError
from model.number_answers import read_number
from model.number_judge import GroupJudge
from model.preprocessing import ImageRejected

NAMES = ["2-plain", "0-oval", "3-round", "7-plain"]


@pytest.fixture(scope="module")
def number():
    return write_digits([strokes_named(name) for name in NAMES], "2037", [0.3, 0.25, 0.3])


@pytest.fixture(scope="module")
def number_png(number):
    return encode(number.image)


def assert_number(response, text, image_size):
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["number"] == text
    assert body["model_version"] and isinstance(body["unsure"], bool)
    assert body["unsure"] == any(digit["unsure"] for digit in body["digits"])
    assert [digit["digit"] for digit in body["digits"]] == [int(character) for character in text]
    width, height = image_size
    lefts = []
    for digit in body["digits"]:
        assert set(digit) == {"digit", "confidence", "probabilities", "unsure", "box", "input_image"}
        assert len(digit["probabilities"]) == 10 and digit["confidence"] == max(digit["probabilities"])
        assert sum(digit["probabilities"]) == pytest.approx(1.0, abs=1e-3)
        x, y, box_width, box_height = digit["box"]
        assert all(isinstance(value, int) for value in digit["box"])
        assert 0 <= x and 0 <= y and box_width > 0 and box_height > 0
        assert x + box_width <= width and y + box_height <= height
        assert model_input_of(digit).shape == (28, 28)
        lefts.append(x + box_width / 2)
    assert lefts == sorted(lefts)  # Left to right.
    return body


def test_a_number_is_read_digit_by_digit_with_boxes_in_the_image_sent(client, number, number_png):
    body = assert_number(client.post("/predict/number", data=number_png, content_type="image/png"),
                         "2037", number.image.size)
    for digit, box in zip(body["digits"], number.boxes):
        assert digit["box"] == pytest.approx(box, abs=2)


def test_every_form_of_predict_is_accepted(client, number, number_png):
    data_url = "data:image/png;base64," + base64.b64encode(number_png).decode()
    forms = [
        {"json": {"image": data_url}},
        {"json": {"image": base64.b64encode(number_png).decode()}},
        {"data": data_url, "content_type": "text/plain"},
        {"data": {"file": (io.BytesIO(number_png), "number.png")}, "content_type": "multipart/form-data"},
    ]
    for form in forms:
        assert_number(client.post("/predict/number", **form), "2037", number.image.size)


def test_boxes_are_in_the_pixels_of_the_image_sent_whatever_its_size(client, number):
    large = number.image.resize((number.image.width * 2, number.image.height * 2), Image.Resampling.LANCZOS)
    body = assert_number(client.post("/predict/number", data=encode(large), content_type="image/png"),
                         "2037", large.size)
    for digit, box in zip(body["digits"], number.boxes):
        assert digit["box"] == pytest.approx([2 * value for value in box], abs=4)


def test_an_image_lower_than_the_pad_is_read_with_boxes_in_its_own_pixels(client, number):
    small = number.image.resize((number.image.width // 2, number.image.height // 2), Image.Resampling.LANCZOS)
    body = assert_number(client.post("/predict/number", data=encode(small), content_type="image/png"),
                         "2037", small.size)
    for digit, box in zip(body["digits"], number.boxes):
        assert digit["box"] == pytest.approx([value / 2 for value in box], abs=2)


def test_a_photo_like_jpeg_of_light_ink_on_dark_paper_is_read(client, number):
    inverted = Image.eval(number.image, lambda level: 255 - level).convert("RGB")
    body = client.post("/predict/number", data=encode(inverted, format="JPEG", quality=85),
                       content_type="image/jpeg").get_json()
    assert body["number"] == "2037"


def test_a_single_digit_on_the_pad_reads_as_predict_reads_it(client):
    data = encode(render(strokes_named("7-crossed")))
    single = client.post("/predict/", data=data, content_type="image/png").get_json()
    body = client.post("/predict/number", data=data, content_type="image/png").get_json()
    assert body["number"] == str(single["digit"]) == "7"
    assert body["digits"][0]["probabilities"] == single["probabilities"]
    assert body["digits"][0]["input_image"] == single["input_image"]


def test_an_empty_pad_is_no_number_with_a_reason(client):
    blank = encode(Image.new("RGB", (336, 112), "white"))
    body = client.post("/predict/number", data=blank, content_type="image/png").get_json()
    assert body["number"] == "" and body["digits"] == [] and body["unsure"] is False
    assert "no ink" in body["reason"].lower() and body["model_version"]


def test_a_number_reader_that_cannot_load_costs_predict_number_only(monkeypatch, tmp_path, number_png):
    # The judge's whole-digit check replaced by another file: the judge refuses it, and the server says why.
    def refused(path=None):
        raise ModelFilesError("whole_digit_check.tflite is not the whole-digit check number_reader.json was fitted with")

    monkeypatch.setattr(GroupJudge, "from_file", refused)
    classifier = DigitClassifier(runtime="litert")
    classifier.load()
    assert classifier.ready and classifier.number_reader is None
    client = create_app({"TESTING": True, "CLASSIFIER": classifier, "RATE_LIMIT": "",
                         "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/unused.sqlite3"}).test_client()
    assert_error(client.post("/predict/number", data=number_png, content_type="image/png"), 503,
                 "not the whole-digit check")
    digit = client.post("/predict/", data=encode(render(strokes_named("7-plain"))), content_type="image/png")
    assert digit.status_code == 200 and digit.get_json()["digit"] == 7


def test_a_classifier_for_lone_digits_loads_no_number_reader(number_png):
    # As a batch process loads it (model/batch_processes.py, classify_each).
    classifier = DigitClassifier(runtime="litert", number_inference_threads=1, reads_numbers=False)
    classifier.load()
    assert classifier.ready and classifier.number_reader is None
    with pytest.raises(ModelNotReady, match="read no numbers"):
        read_number(classifier, number_png)
    assert classifier.classify(encode(render(strokes_named("7-plain"))))["digit"] == 7


# The bad requests of /predict/ get the same errors here: tests/test_app.py tries both.


def test_the_same_limits_as_predict(classifier, number_png):
    app = create_app({"TESTING": True, "CLASSIFIER": classifier, "RATE_LIMIT": "", "MAX_CONTENT_LENGTH": 1000})
    client = app.test_client()
    assert_error(client.post("/predict/number", data=number_png * 10, content_type="image/png"), 413)
    client = create_app({"TESTING": True, "CLASSIFIER": classifier, "RATE_LIMIT": ""}).test_client()
    gif = encode(render(strokes_named("7-plain")), format="GIF")
    assert_error(client.post("/predict/number", data=gif, content_type="image/png"), 415, "GIF")
    assert_error(client.get("/predict/number"), 405)


def test_the_image_size_limits_apply(number_png):
    small_limits = DigitClassifier(image_limits={"max_side": 200, "max_pixels": 40_000}, runtime="litert")
    small_limits.load()
    with pytest.raises(ImageRejected, match="200 pixels a side") as refused:
        read_number(small_limits, number_png)  # 336 pixels wide
    assert refused.value.status == 413


def test_the_rate_limit_applies(classifier, number_png):
    app = create_app({"TESTING": True, "CLASSIFIER": classifier, "RATE_LIMIT": "2 per minute"})
    client = app.test_client()
    statuses = [client.post("/predict/number", data=number_png, content_type="image/png").status_code
                for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_digits_read_are_counted_in_metrics(client, number_png):
    before = client.get("/metrics").get_data(as_text=True)
    client.post("/predict/number", data=number_png, content_type="image/png")
    after = client.get("/metrics").get_data(as_text=True)

    def count(text, digit):
        for line in text.splitlines():
            if line.startswith(f'digitpad_predictions_total{{digit="{digit}"}}'):
                return float(line.split()[-1])
        return 0.0

    assert count(after, "2") == count(before, "2") + 1
    assert count(after, "0") == count(before, "0") + 1
