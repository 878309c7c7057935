import os
import sqlite3

import pytest
import requests
from alembic.script import ScriptDirectory

from harness.servers import (
    cpu_seconds,
    procfile_line,
    procfile_server,
    procfile_web_command,
    run_release_phase,
    worker_pids,
)
from harness.strokes import encode, render, strokes_named
from web.database import MIGRATIONS

pytestmark = pytest.mark.slow


def test_procfile_runs_gunicorn_on_port():
    command = procfile_web_command(5000)
    assert "127.0.0.1:5000" in command
    assert "--preload" not in command  # A model built before the fork hangs the workers.


def test_the_procfile_web_process_serves_the_app(tmp_path):
    three = encode(render(strokes_named("3-round")))
    log_path = tmp_path / "gunicorn.log"
    with procfile_server({"WEB_CONCURRENCY": "2"}, log_path=log_path) as (url, master):
        assert requests.get(f"{url}/healthz", timeout=5).json() == {"status": "ok"}
        assert requests.get(f"{url}/readyz", timeout=5).json()["status"] == "ready"
        answers = [
            requests.post(f"{url}/predict/", data=three,
                          # /readyz spoke for one worker; the other may still be loading, and a
                          # request waits for it up to DIGITPAD_MODEL_WAIT_SECONDS (20 s).
                          headers={"Content-Type": "image/png"}, timeout=30).json()
            for _ in range(6)
        ]
        assert [answer["digit"] for answer in answers] == [3] * 6
        assert "text/html" in requests.get(url, timeout=5).headers["Content-Type"]
        metrics = requests.get(f"{url}/metrics", timeout=5).text
        # Both workers' counts are merged (multiprocess mode), whichever answered.
        assert 'digitpad_predictions_total{digit="3"} 6.0' in metrics
        # What the benchmark reads to report CPU time per request.
        workers = worker_pids(master.pid)
        assert len(workers) == 2 and all(cpu_seconds(pid) > 0 for pid in workers)
    log = log_path.read_text()
    assert '"POST /predict/ HTTP/1.1" 200' in log  # The access log goes to stdout.


def test_the_release_phase_migrates_the_database_the_web_process_uses(tmp_path):
    database = tmp_path / "release.sqlite3"
    assert procfile_line("release").split() == ["flask", "--app", "app", "db", "upgrade"]
    run_release_phase({**os.environ, "DATABASE_URL": f"sqlite:///{database}"})
    with sqlite3.connect(database) as connection:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"corrections", "settings", "writers", "model_versions", "alembic_version"} <= tables
        newest = ScriptDirectory(str(MIGRATIONS)).get_current_head()
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == (newest,)
