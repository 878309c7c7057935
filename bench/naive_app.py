"""The original tutorial's server, kept only to measure against.

Per request it decodes the data URL, shrinks the whole canvas to 28x28 and calls
`model.predict()` on the one image, with the Keras network loaded at import time.
"""

import re

import numpy as np
from flask import Flask, jsonify, request

from model.loader import load_network
from model.preprocessing import decode_data_url, naive_resize, to_model_input


def create_naive_app():
    app = Flask(__name__)
    network = load_network()

    @app.post("/predict/")
    def predict():
        data_url = re.search(rb"data:image/png;base64,[A-Za-z0-9+/=]+", request.get_data()).group()
        digit = naive_resize(decode_data_url(data_url.decode()))
        probabilities = network.predict(to_model_input(digit), verbose=0)[0]
        return jsonify({"digit": int(np.argmax(probabilities))})

    @app.get("/readyz")
    def ready():
        return jsonify({"status": "ready"})

    return app
