"""Corrections benchmark: many clients posting corrections at once to digitpad started as the
Procfile does (release phase, then gunicorn: 2 gevent workers), on SQLite and PostgreSQL.

    .venv/bin/python -m bench.bench_corrections [--seconds 10] [--clients 32] [--databases sqlite postgresql]

Every request carries a different drawing, so each one answered is a new row. Prints
corrections per second, latency percentiles and errors, and checks that the rows in the database
are exactly the 201s answered. PostgreSQL is a throwaway server of its own (tests/postgres.py).
"""

import argparse
import tempfile
from contextlib import ExitStack

import numpy as np

from harness.corrections_load import correction_bodies, post_corrections, serving_environment, stored_ids
from harness.postgres import postgres_server
from harness.servers import procfile_server


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"],
                        choices=["sqlite", "postgresql"])
    arguments = parser.parse_args()
    # More drawings than the server could take in the time, so none is sent twice.
    bodies = correction_bodies(int(arguments.seconds * 400))
    print(f"{arguments.clients} clients, {arguments.seconds:.0f} s, each request a new drawing\n")
    print("| database | corrections/s | p50 ms | p99 ms | 201s | rows stored | other statuses | no answer |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for database in arguments.databases:
        with ExitStack() as stack:
            if database == "sqlite":
                folder = stack.enter_context(tempfile.TemporaryDirectory())
                database_url = f"sqlite:///{folder}/corrections.sqlite3"
            else:
                database_url = stack.enter_context(postgres_server()).create_database("bench")
            url, _ = stack.enter_context(procfile_server(serving_environment(database_url)))
            post_corrections(url, bodies[-64:], 8, 2.0)  # Warm both workers and the database.
            before = stored_ids(database_url)
            result = post_corrections(url, bodies[:-64], arguments.clients, arguments.seconds)
            rows = len(stored_ids(database_url) - before)
        latencies = result["latencies"] or [float("nan")]
        others = {status: count for status, count in result["statuses"].items() if status != 201}
        print(
            f"| {database} | {len(result['acknowledged']) / result['seconds']:.0f} "
            f"| {np.percentile(latencies, 50):.1f} | {np.percentile(latencies, 99):.1f} "
            f"| {len(result['acknowledged'])} | {rows} | {others or 'none'} | {result['unanswered']} |"
        )


if __name__ == "__main__":
    main()
