"""Corrections as load: many drawings posted to /api/corrections by many clients, and what the
database kept of them (the corrections benchmark and the server tests)."""

import base64
import hashlib
import http.client
import json
import threading
import time
from collections import Counter
from urllib.parse import urlsplit

import numpy as np
from sqlalchemy import create_engine, text

from harness.strokes import STROKE_DIGITS, encode, render
from model.pad import SENT_SIZE
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
