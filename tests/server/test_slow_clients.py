"""Slow clients, restarts and dying workers: the Procfile's server stays up for everyone.

The server tests are bounded: a few connections, a few seconds each, on 127.0.0.1.
"""

import base64
import json
import os
import signal
import socket
import threading
import time

import gevent
import gevent.socket
import pytest
import requests
from werkzeug.exceptions import RequestTimeout

from harness.servers import procfile_server
from harness.strokes import encode, render, strokes_named
from web.settings import settings_from_environment
from web.slow_clients import DeadlineInput

SEVEN_PNG = encode(render(strokes_named("7-crossed")))
# The documented deadlines: gunicorn.conf.py's keepalive for headers, app.py's for bodies.
HEADER_DEADLINE_S = 5
BODY_DEADLINE_S = settings_from_environment({})["BODY_TIMEOUT_SECONDS"]


# --- The body deadline, on a gevent socket pair -------------------------------------------------


def body_stream(chunks, pause_s):
    """A gevent socket's reading end, fed `chunks` with `pause_s` between them by a greenlet."""
    reading, writing = gevent.socket.socketpair()

    def feed():
        try:
            for chunk in chunks:
                writing.sendall(chunk)
                gevent.sleep(pause_s)
        except OSError:  # The reader gave up and closed its end.
            pass
        writing.close()

    gevent.spawn(feed)
    return reading.makefile("rb"), reading


def test_a_trickled_body_ends_with_408_at_its_deadline():
    stream, reading = body_stream([b"x"] * 100, pause_s=0.2)
    deadline_input = DeadlineInput(stream, timeout_seconds=0.5, min_rate=1_000, client_socket=reading)
    started = time.monotonic()
    with pytest.raises(RequestTimeout) as refused:
        while deadline_input.read(100):
            pass
    assert 0.4 < time.monotonic() - started < 2.0
    assert "did not arrive in time" in refused.value.description


def test_a_body_that_keeps_coming_at_the_minimum_rate_is_read_whole():
    # 40 kB in 10 pieces over about 1 s: past the 0.3 s to start with, within 0.3 s + 40 kB at
    # 20 kB a second.
    chunks = [bytes([65 + index]) * 4_000 for index in range(10)]
    stream, reading = body_stream(chunks, pause_s=0.1)
    deadline_input = DeadlineInput(stream, timeout_seconds=0.3, min_rate=20_000, client_socket=reading)
    received = b""
    while piece := deadline_input.read(4_000):
        received += piece
    assert received == b"".join(chunks)


# --- The Procfile's server under slow connections ----------------------------------------------


def trickle(port, first, then, interval_s, stop):
    """Send `first`, then a byte of `then` every `interval_s`; (seconds open, what came back)."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    opened = time.monotonic()
    reply = b""
    try:
        connection.sendall(first)
        connection.settimeout(interval_s)
        for byte in then:
            if stop.is_set():
                break
            try:
                piece = connection.recv(4096)
            except TimeoutError:  # Nothing from the server yet: trickle on.
                connection.sendall(bytes([byte]))
                continue
            reply += piece
            if not piece:
                break  # Closed by the server.
            connection.settimeout(5)  # An answer is coming: read the rest of it.
        else:
            return None, reply  # Never cut off.
        while piece:
            piece = connection.recv(4096)
            reply += piece
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        connection.close()
    return time.monotonic() - opened, reply


@pytest.mark.slow
def test_slow_headers_and_bodies_are_cut_off_while_others_are_served():
    """Bounded: 8 trickling connections and one ordinary client for about 12 s, one worker (so
    the slow connections outnumber anything it could hold a thread for)."""
    slow_header = (b"POST /predict/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", b"a" * 60)
    slow_body = (b"POST /predict/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                 b"Content-Length: 10000\r\n\r\n", b"a" * 60)
    with procfile_server({"WEB_CONCURRENCY": "1"}) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        stop = threading.Event()
        results = {"header": [], "body": []}

        def slow(kind, request):
            results[kind].append(trickle(port, *request, interval_s=0.5, stop=stop))

        threads = [threading.Thread(target=slow, args=("header", slow_header)) for _ in range(4)]
        threads += [threading.Thread(target=slow, args=("body", slow_body)) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        answers = []
        session = requests.Session()
        while any(thread.is_alive() for thread in threads) and len(answers) < 500:
            response = session.post(f"{url}/predict/", data=SEVEN_PNG,
                                    headers={"Content-Type": "image/png"}, timeout=5)
            answers.append((response.status_code, response.json().get("digit")))
            time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join(40)
    assert len(answers) > 20 and set(answers) == {(200, 7)}, "the ordinary client was not served"
    for lifetime, reply in results["header"]:
        assert lifetime is not None, "a slow header was never cut off"
        assert HEADER_DEADLINE_S - 0.5 < lifetime < HEADER_DEADLINE_S + 3
    for lifetime, reply in results["body"]:
        assert lifetime is not None, "a slow body was never cut off"
        assert BODY_DEADLINE_S - 0.5 < lifetime < BODY_DEADLINE_S + 3
        head, _, payload = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), reply[:200]
        assert "did not arrive in time" in json.loads(payload)["error"]["message"]


# --- Graceful shutdown ------------------------------------------------------------------------


@pytest.mark.slow
def test_sigterm_lets_every_accepted_request_finish_and_the_server_exits(tmp_path):
    """As Heroku restarts a dyno: SIGTERM to every process, while requests are in flight (single
    drawings, 1,000-image batches, a body still on its way); all of them are answered."""
    batch = {"images": [base64.b64encode(SEVEN_PNG).decode()] * 1000}
    # One worker, whose batch processes are started before the signal: a batch process still
    # starting when SIGTERM comes (before it can ignore it) ends, and its batch is answered 503.
    environment = {"WEB_CONCURRENCY": "1", "DIGITPAD_BATCH_RATE_LIMIT": ""}
    with procfile_server(environment, log_path=tmp_path / "gunicorn.log") as (url, master):
        port = int(url.rsplit(":", 1)[1])
        requests.post(f"{url}/predict/batch", json=batch, timeout=60)  # Start the batch processes.
        outcomes = []
        lock = threading.Lock()
        signalled = threading.Event()

        def record(outcome):
            with lock:
                outcomes.append(outcome)

        def singles():
            session = requests.Session()
            while not signalled.is_set():
                response = session.post(f"{url}/predict/", data=SEVEN_PNG,
                                        headers={"Content-Type": "image/png"}, timeout=30)
                record(("single", response.status_code))

        def batches():
            response = requests.post(f"{url}/predict/batch", json=batch, timeout=30)
            record(("batch", response.status_code, len(response.json().get("results", []))))

        def body_on_its_way():
            # Headers and half the body now, the rest after the signal: accepted before it.
            connection = socket.create_connection(("127.0.0.1", port), timeout=30)
            connection.sendall(b"POST /predict/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                               b"Content-Length: %d\r\n\r\n" % len(SEVEN_PNG) + SEVEN_PNG[:100])
            signalled.wait(10)
            time.sleep(1.0)
            connection.sendall(SEVEN_PNG[100:])
            reply = b""
            while b"\r\n\r\n" not in reply or not reply.endswith(b"}\n"):
                piece = connection.recv(4096)
                if not piece:
                    break
                reply += piece
            connection.close()
            record(("slow body", int(reply.split(b" ", 2)[1]) if reply else 0))

        threads = [threading.Thread(target=singles) for _ in range(4)]
        threads += [threading.Thread(target=batches) for _ in range(2)]
        threads.append(threading.Thread(target=body_on_its_way))
        for thread in threads:
            thread.start()
        time.sleep(0.3)  # Every request is on its way; the batches take about a second.
        signalled.set()  # First: no client starts a request after the signal.
        os.killpg(master.pid, signal.SIGTERM)
        signal_time = time.monotonic()
        for thread in threads:
            thread.join(40)
        exit_status = master.wait(timeout=40)
        exited_after = time.monotonic() - signal_time
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/healthz", timeout=2)
    print(f"SIGTERM under load: {len(outcomes)} requests answered, exit after {exited_after:.1f} s")
    assert exit_status == 0
    assert exited_after < 25, "the server did not exit within Heroku's 30 s"
    batches_answered = [outcome for outcome in outcomes if outcome[0] == "batch"]
    assert batches_answered == [("batch", 200, 1000)] * 2
    assert ("slow body", 200) in outcomes
    assert all(outcome[1] == 200 for outcome in outcomes), outcomes
