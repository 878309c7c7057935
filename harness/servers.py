"""Start the app exactly as the Procfile's web process does, on 127.0.0.1 (tests and bench)."""

import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn_command(*arguments):
    """The virtual environment's gunicorn, whether or not it is on PATH."""
    return [str(Path(sys.executable).parent / "gunicorn"), *arguments]


def procfile_line(process_type):
    """The command of one of the Procfile's process types ("web", "release")."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return next(line for line in lines if line.startswith(f"{process_type}:")).split(":", 1)[1]


def procfile_web_command(port):
    """The Procfile's web command with $PORT filled in, listening on loopback only."""
    command = procfile_line("web").replace("$PORT", str(port)).replace("0.0.0.0", "127.0.0.1")
    program, *arguments = shlex.split(command)
    assert program == "gunicorn", f"the Procfile's web process runs {program}, not gunicorn"
    return gunicorn_command(*arguments)


def run_release_phase(environment):
    """The Procfile's release command (the database migrations), as Heroku runs it before the
    web processes start; the virtual environment's programs, whether or not it is on PATH."""
    program, *arguments = shlex.split(procfile_line("release"))
    subprocess.run(
        [str(Path(sys.executable).parent / program), *arguments],
        cwd=ROOT, env=environment, check=True, capture_output=True, timeout=120,
    )


@contextmanager
def procfile_server(environment=None, ready_timeout=90, log_path=None, command=procfile_web_command, port=None):
    """Yield (base_url, process) once /readyz says ready; stop the server afterwards.

    `command(port)` gives the command line; by default the Procfile's web process. `port`: a
    free one unless given (a server started again where a load balancer expects it).
    """
    port = port or free_port()
    env = {**os.environ, "PORT": str(port), "DIGITPAD_RATE_LIMIT": "", **(environment or {})}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # gunicorn.conf.py makes a fresh one.
    database_folder = None
    if "DATABASE_URL" not in env:
        # Never the checkout's own instance/ database.
        database_folder = tempfile.TemporaryDirectory(prefix="digitpad-database-")
        env["DATABASE_URL"] = f"sqlite:///{database_folder.name}/digitpad.sqlite3"
    if command is procfile_web_command:
        run_release_phase(env)
    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    process = subprocess.Popen(
        command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        # The Procfile's gunicorn: until every worker has loaded the model, not just the one
        # that answered /readyz first (the others would answer 503, or make a request wait).
        wait_until_ready(base_url, process, ready_timeout, every_worker=command is procfile_web_command)
        yield base_url, process
    finally:
        stop_process_group(process)
        if log_path:
            log.close()
        if database_folder:
            database_folder.cleanup()


def stop_process_group(process, first_signal=signal.SIGTERM):
    """End the server we started (its whole process group), gracefully if it can."""
    try:
        os.killpg(process.pid, first_signal)
        process.wait(timeout=30)
    except ProcessLookupError:  # Already gone (a test killed it).
        process.wait()
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def parent_pids():
    """{pid: its parent's pid} for every process now."""
    parents = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:  # The process ended while we looked.
            continue
        parents[int(status.parent.name)] = int(fields.get("PPid", "0").strip() or 0)
    return parents


def worker_pids(master_pid):
    """The gunicorn workers: the processes whose parent is the master."""
    return sorted(pid for pid, parent in parent_pids().items() if parent == master_pid)


def server_processes(master_pid):
    """The master and every process under it (workers, batch processes, their helpers)."""
    parents = parent_pids()
    tree, frontier = [master_pid], [master_pid]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def resident_megabytes(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid):
    """CPU time (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_ready(base_url, process, timeout, every_worker=False):
    """Seconds until /readyz answered 200 (and, with `every_worker`, until every gunicorn worker
    of `process` serves a model); raises if the server died or never got ready."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"The server exited with status {process.returncode}")
        try:
            if requests.get(f"{base_url}/readyz", timeout=2).status_code == 200 and (
                not every_worker or workers_serving(base_url) >= len(worker_pids(process.pid))
            ):
                return time.monotonic() - started
        except requests.RequestException:  # Not listening yet, or busy starting.
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{base_url} was not ready within {timeout} s")


def workers_serving(base_url):
    """How many workers serve a model: each loaded worker sets its own series of the
    digitpad_served_model gauge to 1 (Prometheus's multiprocess mode labels it with its pid)."""
    metrics = requests.get(f"{base_url}/metrics", timeout=2).text
    return len({
        line.split("pid=", 1)[1].split('"')[1]
        for line in metrics.splitlines()
        if line.startswith("digitpad_served_model{") and "pid=" in line and line.endswith(" 1.0")
    })


def flask_command(environment, *arguments, timeout=300):
    """`flask --app app ARGUMENTS` as an operator runs it, with these settings added to the
    environment; (its output, the seconds it took). RuntimeError with its errors if it fails."""
    started = time.monotonic()
    result = subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "--app", "app", *map(str, arguments)],
        cwd=ROOT, env={**os.environ, **environment}, capture_output=True, text=True, timeout=timeout,
    )
    if result.returncode:
        raise RuntimeError(f"flask {' '.join(map(str, arguments))}: {result.stderr[-1500:]}")
    return result.stdout, time.monotonic() - started
