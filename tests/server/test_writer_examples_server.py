"""A writer's correction made through one server counts on their next prediction through
another server sharing the database (each started as the Procfile says, 2 gevent workers each),
on SQLite and on PostgreSQL."""

import base64

import pytest
import requests

from harness.corrections_load import serving_environment
from harness.servers import procfile_server
from harness.strokes import encode, render, strokes_named
from web.writers import WRITER_COOKIE

pytestmark = pytest.mark.slow


def test_a_correction_through_one_server_counts_through_another_at_once(database_url):
    seven = "data:image/png;base64," + base64.b64encode(encode(render(strokes_named("7-plain")))).decode()
    environment = {**serving_environment(database_url), "WEB_CONCURRENCY": "2"}
    with procfile_server(environment) as (first, _), procfile_server(environment) as (second, _):
        me, other = requests.Session(), requests.Session()
        me.get(first + "/")
        other.get(second + "/")
        assert me.cookies.get(WRITER_COOKIE) and other.cookies.get(WRITER_COOKIE)
        anonymous = requests.post(second + "/predict/", json={"image": seven}, timeout=10).content
        # Every worker of the second server caches the writer's (empty) examples first.
        for _ in range(6):
            assert me.post(second + "/predict/", json={"image": seven}, timeout=10).json()["personal"] is False

        stored = me.post(first + "/api/corrections", json={"image": seven, "label": 1, "kind": "wrong"}, timeout=10)
        assert stored.status_code == 201, stored.text
        # The very next prediction, through either server and any of its workers.
        for server in (second, first, second, second):
            answer = me.post(server + "/predict/", json={"image": seven}, timeout=10).json()
            assert (answer["digit"], answer["personal"]) == (1, True)
        assert other.post(second + "/predict/", json={"image": seven}, timeout=10).json()["digit"] == 7
        assert requests.post(second + "/predict/", json={"image": seven}, timeout=10).content == anonymous

        forgotten = me.delete(second + "/api/writer", timeout=10)
        assert forgotten.json() == {"forgotten": True, "corrections_deleted": 1}
        assert me.post(first + "/predict/", json={"image": seven}, timeout=10).content == anonymous
