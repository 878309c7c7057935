"""Corrections benchmark: many clients posting corrections at once to digitpad started as the
Procfile does (release phase, then gunicorn: 2 gevent workers), on SQLite and PostgreSQL.

    .venv/bin/python -m bench.bench_corrections [--seconds 10] [--clients 32] [--databases sqlite postgresql]

Every request carries a different drawing, so each one answered is a new row. Prints
corrections per second, latency percentiles and errors, and checks that the rows in the database
are exactly the 201s answered. PostgreSQL is a throwaway server of its own (tests/postgres.py).
"""

import argparse
import base64
import hashlib
import http.client
import json
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from urllib.parse import urlsplit

import numpy as np
from sqlalchemy import create_engine, text

from handwriting.render import SENT_SIZE
from harness.postgres import postgres_server
from harness.servers import procfile_server
from harness.strokes import STROKE_DIGITS, encode, render
from web.database import sqlalchemy_url


def correction_bodies(count, seed=0):
    """`count` JSON bodies as the page sends them, each with a different drawing."""
    rng = np.random.default_rng(seed)
    bodies, seen = [], set()
    while len(bodies) < count:
        _, label, strokes = STROKE_DIGITS[len(bodies) % len(STROKE_DIGITS)]
        image = render(
            strokes, size=SENT_SIZE, scale=rng.uniform(0.6, 1.0), offset=tuple(rng.uniform(-0.1, 0.1, 2))
        )
        png = encode(image)
        digest = hashlib.sha256(png).digest()
        if digest in seen:
            continue
        seen.add(digest)
        url = "data:image/png;base64," + base64.b64encode(png).decode()
        kind = "right" if len(bodies) % 2 else "wrong"
        bodies.append(json.dumps({"image": url, "label": label, "kind": kind}).encode())
    return bodies


def post_corrections(url, bodies, clients, seconds, stop=None):
    """`clients` threads with keep-alive connections post the bodies, each once, for at most
    `seconds` (or until `stop` is set). Returns the ids acknowledged with 201, the statuses,
    the latencies and the requests that got no answer."""
    port = urlsplit(url).port
    lock = threading.Lock()
    next_body = iter(range(len(bodies)))
    acknowledged, statuses, latencies, unanswered = [], Counter(), [], [0]
    deadline = time.monotonic() + seconds
    stop = stop or threading.Event()

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < deadline and not stop.is_set():
            with lock:
                index = next(next_body, None)
            if index is None:
                break
            started = time.perf_counter()
            try:
                connection.request(
                    "POST", "/api/corrections", bodies[index], {"Content-Type": "application/json"}
                )
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                with lock:
                    unanswered[0] += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            elapsed = time.perf_counter() - started
            with lock:
                statuses[response.status] += 1
                if response.status == 201:
                    acknowledged.append(json.loads(payload)["id"])
                    latencies.append(elapsed * 1000)
        connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "seconds": time.monotonic() - started,
        "acknowledged": acknowledged,
        "statuses": statuses,
        "latencies": latencies,
        "unanswered": unanswered[0],
    }


def stored_ids(database_url):
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.connect() as connection:
            return {row[0] for row in connection.execute(text("SELECT id FROM corrections"))}
    finally:
        engine.dispose()


def sqlite_integrity(database_url):
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("PRAGMA integrity_check")).scalar()
    finally:
        engine.dispose()


def serving_environment(database_url):
    # The benchmark measures the database, not the limits that stop one client's flood.
    # A server database needs the client hashes' salt (web/client_salt.py).
    return {"DATABASE_URL": database_url, "DIGITPAD_RATE_LIMIT": "", "DIGITPAD_CORRECTIONS_RATE_LIMIT": "",
            "DIGITPAD_CORRECTIONS_QUOTA": "", "DIGITPAD_CLIENT_SALT": "bench-salt-" + "0" * 32}


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
