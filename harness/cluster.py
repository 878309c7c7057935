"""Several app servers behind nginx, sharing one PostgreSQL and one Redis, all local processes
on 127.0.0.1, as compose.yaml runs them in containers (tests/server/test_scale_out.py,
bench/scale_out.py)."""

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager

import numpy as np

from harness.nginx import nginx_server
from harness.postgres import postgres_server
from harness.redis_server import redis_server
from harness.servers import free_port, procfile_server, run_release_phase, stop_process_group

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
