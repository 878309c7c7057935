"""Against the Procfile's gunicorn: batch processes die with a killed worker, and the access log
keeps no whole client address."""

import base64
import os
import signal
import time
from pathlib import Path

import pytest
import requests

from harness.servers import parent_pids, procfile_server, worker_pids
from harness.strokes import encode, render, strokes_named
from model.runtimes import available_cores

SEVEN = "data:image/png;base64," + base64.b64encode(encode(render(strokes_named("7-crossed")))).decode()


def alive(pid):
    """Whether a process runs (a zombie waiting for its reaper does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.slow
def test_batch_processes_die_with_a_killed_worker_and_the_log_keeps_no_whole_address(tmp_path):
    if available_cores() < 2:
        pytest.skip("one core: a batch is read in the worker, with no batch processes")
    log_path = tmp_path / "gunicorn.log"
    environment = {"WEB_CONCURRENCY": "1", "DIGITPAD_BATCH_RATE_LIMIT": ""}
    with procfile_server(environment, log_path=log_path) as (url, master):
        [worker] = worker_pids(master.pid)
        response = requests.post(f"{url}/predict/batch", json={"images": [SEVEN] * 40}, timeout=120)
        assert response.status_code == 200 and {result["digit"] for result in response.json()["results"]} == {7}
        batch_processes = [pid for pid, parent in parent_pids().items() if parent == worker]
        assert batch_processes, "the batch started no batch processes"

        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(alive(pid) for pid in batch_processes):
            time.sleep(0.1)
        survivors = [pid for pid in batch_processes if alive(pid)]
        for pid in survivors:  # Never left behind by a failing test.
            os.kill(pid, signal.SIGKILL)
        assert survivors == [], f"batch processes {survivors} outlived their killed worker by 5 s"

    log = log_path.read_text()
    requests_logged = [line for line in log.splitlines() if '"POST /predict/batch' in line]
    assert requests_logged and all(line.startswith("127.0.0.0/24 ") for line in requests_logged), requests_logged
    assert "127.0.0.1 " not in log
