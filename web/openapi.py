"""GET /openapi.json: the API's OpenAPI 3.1 description, written in web/openapi.yaml.

The YAML is read once, when this module is imported, and served as JSON in the order it was
written (jsonify would sort the keys). tests/api/test_openapi.py checks that it describes every
route the app has and fuzzes the running app against it.
The docs render it too (docs/hooks/openapi_reference.py).
"""

import json
from pathlib import Path

import yaml
from flask import Blueprint, Response

DESCRIPTION_FILE = Path(__file__).resolve().with_name("openapi.yaml")


def read_description(path=DESCRIPTION_FILE):
    """The description as a dict (the YAML's own types: no dates or other tags beyond JSON's)."""
    with open(path, encoding="utf-8") as file:
        return yaml.safe_load(file)


def description_json(description):
    return json.dumps(description, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


DESCRIPTION_JSON = description_json(read_description())

openapi = Blueprint("openapi", __name__)


@openapi.get("/openapi.json")
def openapi_json():
    return Response(DESCRIPTION_JSON, mimetype="application/json")
