"""Corrections against the app started as the Procfile says (release phase, then gunicorn with
2 gevent workers), on SQLite and on a real PostgreSQL: concurrency and a crash."""

import signal
import threading
import time

import pytest
import requests

from harness.corrections_load import (
    correction_bodies,
    post_corrections,
    serving_environment,
    sqlite_integrity,
    stored_ids,
)
from harness.servers import procfile_server, stop_process_group

pytestmark = pytest.mark.slow

CLIENTS = 32


@pytest.fixture(scope="module")
def bodies():
    return correction_bodies(1200)


def test_32_clients_at_once_get_no_errors_and_every_201_is_one_row(database_url, bodies):
    environment = {**serving_environment(database_url), "WEB_CONCURRENCY": "2"}
    with procfile_server(environment) as (url, _):
        result = post_corrections(url, bodies[:600], CLIENTS, seconds=4.0)
    assert result["unanswered"] == 0
    assert set(result["statuses"]) == {201}, result["statuses"]
    assert len(result["acknowledged"]) > CLIENTS
    assert stored_ids(database_url) == set(result["acknowledged"])


def test_every_acknowledged_correction_survives_a_sigkill_of_the_server(database_url, bodies):
    environment = serving_environment(database_url)
    stop = threading.Event()
    with procfile_server(environment) as (url, master):
        outcome = {}
        burst = threading.Thread(
            target=lambda: outcome.update(post_corrections(url, bodies[600:1190], CLIENTS, 10.0, stop))
        )
        burst.start()
        time.sleep(1.5)  # In the middle of the burst.
        stop_process_group(master, signal.SIGKILL)  # Master and workers, no chance to clean up.
        stop.set()
        burst.join()
    acknowledged = set(outcome["acknowledged"])
    assert acknowledged, "nothing was acknowledged before the kill"
    assert acknowledged <= stored_ids(database_url)
    if database_url.startswith("sqlite"):
        assert sqlite_integrity(database_url) == "ok"
    # Started again on the same database, it serves.
    with procfile_server(environment) as (url, _):
        again = post_corrections(url, bodies[-5:], 1, 10.0)
        assert again["statuses"] == {201: 5}
        three = requests.post(f"{url}/predict/", data=bodies[0], headers={"Content-Type": "application/json"})
        assert three.status_code == 200 and three.json()["digit"] is not None
    assert acknowledged | set(again["acknowledged"]) <= stored_ids(database_url)
