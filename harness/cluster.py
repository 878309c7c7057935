"""Several app servers behind nginx, sharing one PostgreSQL and one Redis, all local processes
on 127.0.0.1, as compose.yaml runs them in containers, and what the several-servers test and
benchmark do to them: flood, promote, kill and restart a server, read what each serves
(tests/server/test_scale_out.py, bench/scale_out.py)."""

import os
import re
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager

import numpy as np
import requests

from harness.load import PNG, SEVEN_PNG
from harness.nginx import nginx_server
from harness.postgres import postgres_server
from harness.redis_server import redis_server
from harness.servers import flask_command, free_port, procfile_server, run_release_phase, stop_process_group

# Benchmarks turn the limits off, except where a limit itself is measured.
LIMITS_OFF = {"DIGITPAD_RATE_LIMIT": "", "DIGITPAD_CORRECTIONS_RATE_LIMIT": "", "DIGITPAD_BATCH_RATE_LIMIT": "",
              "DIGITPAD_CORRECTIONS_QUOTA": ""}


class AppServer:
    """One gunicorn server (the Procfile's web process) on a port of its own, which it keeps
    when killed and started again, so nginx finds it where it was."""

    def __init__(self, environment):
        self.environment, self.port = environment, free_port()
        self.stack, self.url, self.master = None, f"http://127.0.0.1:{self.port}", None

    def start(self):
        self.stack = ExitStack()
        self.url, self.master = self.stack.enter_context(procfile_server(self.environment, port=self.port))

    def kill(self):
        """SIGKILL to the master and its workers at once (its process group)."""
        stop_process_group(self.master, signal.SIGKILL)
        self.stop()

    def stop(self):
        if self.stack:
            self.stack.close()
            self.stack = None


class Cluster:
    def __init__(self, servers, redis, environment, nginx_url):
        self.servers, self.redis, self.environment, self.url = servers, redis, environment, nginx_url
        self.database_url = environment["DATABASE_URL"]


@contextmanager
def cluster(servers=3, environment=None, redis=True):
    """Yield a Cluster: PostgreSQL, Redis (unless redis=False: memory://), the migrations run
    once (compose's migrate job), `servers` app servers started together, nginx in front."""
    with ExitStack() as stack:
        postgres = stack.enter_context(postgres_server())
        shared = {"DATABASE_URL": postgres.create_database("scale"), "DIGITPAD_TRUSTED_PROXIES": "1",
                  # The same for every server sharing the database (compose.yaml: a secret).
                  "DIGITPAD_CLIENT_SALT": os.environ.get("DIGITPAD_CLIENT_SALT", "scale-out-test-salt")}
        redis_process = None
        if redis:
            redis_process = stack.enter_context(redis_server())
            shared["DIGITPAD_RATE_LIMIT_STORAGE"] = redis_process.url
        full = {**shared, **(environment or {})}
        run_release_phase({**os.environ, **full})
        apps = [AppServer(full) for _ in range(servers)]
        for app in apps:
            stack.callback(app.stop)
        with ThreadPoolExecutor(servers) as pool:
            list(pool.map(AppServer.start, apps))
        url = stack.enter_context(nginx_server([app.port for app in apps]))
        yield Cluster(apps, redis_process, full, url)


class NoEvaluation:
    """Evaluation sets with no images: a version added with them is not measured (tests and
    benchmarks of switching, where measuring would take minutes and need the data sets)."""

    def get(self, name):
        return np.zeros((0, 28, 28, 1), np.float32), np.zeros(0, np.int64)


def add_unmeasured(database_url, folders, classifier):
    """Add these model folders to the registry of `database_url` without measuring them."""
    from harness.apps import migrated_app
    from web.database import db
    from web.model_registry import add_version

    application = migrated_app({"CLASSIFIER": classifier, "SQLALCHEMY_DATABASE_URI": database_url,
                                "MODEL_POLL_SECONDS": 0, "CLIENT_SALT": "not-used-by-the-registry"})
    with application.app_context():
        for folder in folders:
            add_version(folder, NoEvaluation(), report=lambda message: None)
        db.engine.dispose()


def served_versions(server_url):
    """{worker pid: version} of one server, from its Prometheus gauge."""
    versions = {}
    for line in requests.get(f"{server_url}/metrics", timeout=5).text.splitlines():
        match = re.match(r'digitpad_served_model\{(.*)\} 1\.0$', line)
        if match:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
            versions[labels["pid"]] = labels["version"]
    return versions


def predictions_answered(server_url):
    """How many /predict/ requests this server (all its workers) has answered 200."""
    metrics = requests.get(f"{server_url}/metrics", timeout=5).text
    found = re.search(r'digitpad_http_requests_total\{endpoint="/predict/",status="200"\} ([0-9.e+]+)', metrics)
    return float(found.group(1)) if found else 0.0


def flood(urls, seconds, path="/predict/", forwarded_for=None, files=None):
    """One client sending requests one after another for `seconds`, to the URLs in turn;
    Counter of statuses. `forwarded_for`: the address it claims (to servers that trust one hop)."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    statuses, session, turn = Counter(), requests.Session(), 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        url = urls[turn % len(urls)] + path
        turn += 1
        if files:
            response = session.post(url, files=files, headers=headers, timeout=30)
        else:
            response = session.post(url, data=SEVEN_PNG, headers={**PNG, **headers}, timeout=30)
        statuses[response.status_code] += 1
    return statuses


def promote(environment, version):
    """`flask --app app models promote VERSION --force` as an operator runs it; seconds it took."""
    return flask_command(environment, "models", "promote", version, "--force", timeout=120)[1]


def seconds_until_every_server_serves(servers, version, timeout=30):
    """From now until every worker of every server reports `version`: {server url: seconds}."""
    started, reached = time.monotonic(), {}
    while len(reached) < len(servers) and time.monotonic() - started < timeout:
        for server in servers:
            if server.url not in reached:
                versions = served_versions(server.url)
                if versions and set(versions.values()) == {version}:
                    reached[server.url] = time.monotonic() - started
        time.sleep(0.05)
    return reached


def rate_limit_keys(redis):
    return int(redis.command("DBSIZE") or 0)


def kill_and_restart(group, load, victim=0, down_seconds=2.0):
    """SIGKILL one server under `load`, start it again; (failed requests, seconds until it
    answered through nginx again after it was started)."""
    server = group.servers[victim]
    server.kill()
    time.sleep(down_seconds)
    server.start()
    started, before = time.monotonic(), predictions_answered(server.url)
    while predictions_answered(server.url) <= before and time.monotonic() - started < 30:
        time.sleep(0.05)
    return time.monotonic() - started
