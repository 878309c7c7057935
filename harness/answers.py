"""Checks of the server's answers shared by the API and server tests."""

import io

import numpy as np
from PIL import Image

from model.preprocessing import decode_data_url, to_grayscale


def model_input_of(answer):
    """The 28x28 image the server says the network saw, as an array."""
    return np.asarray(Image.open(io.BytesIO(decode_data_url(answer["input_image"]))))


def assert_error(response, status, *words):
    assert response.status_code == status, response.data[:300]
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["status"] == status and error["title"] and error["message"]
    for word in words:
        assert word.lower() in error["message"].lower()
    assert b"Traceback" not in response.data


def kept_as_its_pixels(kept_png, sent_data_url):
    """Whether a stored drawing is the sent image's pixels in grey, re-encoded (web/corrections.py
    keeps no drawing as sent)."""
    sent = Image.open(io.BytesIO(decode_data_url(sent_data_url)))
    kept = Image.open(io.BytesIO(kept_png))
    return kept.mode == "L" and np.array_equal(np.asarray(kept), np.asarray(to_grayscale(sent).convert("L")))
