"""Model versions switched under load: promote and roll back while 16 clients keep asking.

    .venv/bin/python -m bench.bench_reload [--setups sqlite postgresql] [--switches 10] [--clients 16]

Set-ups: one server on SQLite; two servers (two gunicorn instances on different ports) sharing
one throwaway PostgreSQL. A second version (the committed network under another version id,
added with `flask models add`, which measures it) is promoted and rolled back in turn, with
`flask models promote` / `rollback` as an operator runs them, `--switches` times, `--gap`
seconds apart, while `--clients` threads post drawings to the servers in turn. Prints, per
switch, how long until the last answer from the version it replaced, and in all: failed
requests, answers from a version older than the one promoted 5 s earlier, and p50/p99 latency
in the 5 s after each switch against the rest. Rate limits are off.
"""

import argparse
import os
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from harness.load import Load
from harness.model_folders import copy_of_committed_model
from harness.postgres import postgres_server
from harness.servers import flask_command, procfile_server, run_release_phase
from model.loader import DEFAULT_MODEL_DIR, read_metadata

LATE_AFTER_S = 5.0
SECOND_VERSION = "reload-second-version"


def flask_models(environment, *arguments):
    """`flask --app app models ARGUMENTS`; the seconds it took."""
    return flask_command(environment, "models", *arguments)[1]




def run_setup(name, arguments):
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="digitpad-reload-")))
        if name == "sqlite":
            database_url, servers = f"sqlite:///{folder}/digitpad.sqlite3", 1
        else:
            database_url, servers = stack.enter_context(postgres_server()).create_database("reload"), 2
        environment = {"DATABASE_URL": database_url, "DIGITPAD_RATE_LIMIT": "", "DIGITPAD_CLIENT_SALT": "bench-salt-" + "0" * 32}
        run_release_phase({**os.environ, **environment})
        # Both versions measured and added before the load (the first promotion would add the
        # committed model itself, measuring it meanwhile).
        flask_models(environment, "add", str(DEFAULT_MODEL_DIR))
        flask_models(environment, "add", str(copy_of_committed_model(folder / "second", SECOND_VERSION)))
        urls = [stack.enter_context(procfile_server(environment))[0] for _ in range(servers)]
        committed = read_metadata(DEFAULT_MODEL_DIR)["version"]
        switches = []  # (time the command started, version promoted, seconds it took)
        with Load(urls, arguments.clients, versions=True) as load:
            time.sleep(arguments.gap)
            for number in range(arguments.switches):
                action, version = (("promote", SECOND_VERSION), SECOND_VERSION) if number % 2 == 0 else (
                    ("rollback",), committed)
                started = time.monotonic()
                command_seconds = flask_models(environment, *action)
                # From the command's start: it commits the switch before it returns, so an old
                # answer counted late here is at least that late.
                switches.append((started, version, command_seconds))
                time.sleep(arguments.gap)
        report(name, servers, load.answers, switches)


def report(name, servers, answers, switches):
    failed = [answer for answer in answers if answer.status != 200]
    print(f"\n{name}: {servers} server(s) x 2 workers, {len(answers):,} requests, {len(switches)} switches")
    around, steady, late = [], [], 0
    for index, (switched, version, command_seconds) in enumerate(switches):
        until = switches[index + 1][0] if index + 1 < len(switches) else float("inf")
        # Answered after this switch and before the next, by the version it replaced.
        old = [answer.answered for answer in answers
               if switched <= answer.answered < until and answer.version is not None and answer.version != version]
        late += sum(1 for answered in old if answered - switched > LATE_AFTER_S)
        last_old = max(old) - switched if old else 0.0
        print(f"  switch {index + 1:>2} to {version:<24} command {command_seconds:4.1f} s; last answer from the "
              f"version it replaced {last_old:4.2f} s after the command started")
    for sent, answered, status, _ in answers:
        if status != 200:
            continue
        near = any(0 <= sent - switched < LATE_AFTER_S for switched, _, _ in switches)
        (around if near else steady).append((answered - sent) * 1000)
    print(f"  failed requests: {len(failed)}; answers from a version older than the one promoted "
          f"{LATE_AFTER_S:g} s earlier: {late}")
    for label, values in (("within 5 s after a switch", around), ("the rest", steady)):
        if values:
            p50, p99 = np.percentile(values, [50, 99])
            print(f"  latency {label}: p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(values):,} requests)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setups", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--switches", type=int, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--gap", type=float, default=8.0, help="seconds between switches")
    arguments = parser.parse_args()
    for name in arguments.setups:
        run_setup(name, arguments)


if __name__ == "__main__":
    main()
