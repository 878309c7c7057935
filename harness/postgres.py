"""A throwaway PostgreSQL server for the tests and benchmarks: its own cluster in a temporary
folder, listening on 127.0.0.1 only, stopped and removed afterwards.

PostgreSQL refuses to run as root; as root the cluster belongs to the `postgres` user that
Debian's package creates, and its commands run through `runuser`.
"""

import glob
import os
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg

from harness.servers import free_port

SUPERUSER = "digitpad"


def postgres_binaries():
    """The folder holding initdb and pg_ctl, or None where PostgreSQL is not installed."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    # Debian keeps them out of PATH, one folder per major version.
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda path: int(path.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


class PostgresServer:
    def __init__(self, binaries, folder, run_as):
        self.binaries, self.folder, self.run_as = binaries, Path(folder), run_as
        self.data = self.folder / "data"
        self.port = free_port()
        self._numbered = 0

    def _run(self, program, *arguments, check=True):
        prefix = ["runuser", "-u", self.run_as, "--"] if self.run_as else []
        return subprocess.run(
            [*prefix, str(self.binaries / program), *arguments],
            check=check, capture_output=True, text=True, timeout=60,
        )

    def initialise(self):
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-sync")

    def start(self):
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", options,
                  "-w", "-t", "30", "start")

    def stop(self, mode="fast"):
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def url(self, database="postgres"):
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix="test"):
        """A new empty database; its URL."""
        self._numbered += 1
        name = f"{prefix}_{os.getpid()}_{self._numbered}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url):
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def wait_until_accepting(self, timeout=30):
        started = time.monotonic()
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() - started > timeout:
                    raise
                time.sleep(0.1)


@contextmanager
def postgres_server():
    """Yield a started PostgresServer; raises RuntimeError where PostgreSQL is not installed."""
    binaries = postgres_binaries()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    run_as = "postgres" if os.geteuid() == 0 else None
    if run_as and subprocess.run(["id", run_as], capture_output=True).returncode != 0:
        raise RuntimeError("running as root, and there is no 'postgres' user to run PostgreSQL as")
    folder = tempfile.mkdtemp(prefix="digitpad-postgres-")
    if run_as:
        shutil.chown(folder, user=run_as)
    server = PostgresServer(binaries, folder, run_as)
    try:
        server.initialise()
        server.start()
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)
