"""Soak: digitpad as the Procfile runs it, under steady mixed load for minutes; is it flat?

    .venv/bin/python -m bench.soak [--minutes 10] [--clients 4] [--slow 20]

`--clients` threads send a steady mix (drawings as the page posts them, uploaded PNG files,
bad inputs, corrections, 50-image batches, health checks) while `--slow` connections trickle
headers or bodies, are cut off by the server and come back. Every minute it prints, for the
server's processes (master, workers, batch processes), resident memory per process, open file
descriptors and threads, and for the requests p50/p99, 4xx (the bad inputs) and 5xx. At the
end: flat means the last minute's memory within 10 % of the second's, no more descriptors or
threads than in the second minute, and no 5xx or failed request. Rate limits are off.
"""

import argparse
import base64
import http.client
import json
import os
import random
import threading
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from bench.bench_serving import drawn_digit_bodies
from bench.bench_slow_clients import SlowAttack
from harness.corrections_load import correction_bodies
from harness.servers import procfile_server, resident_megabytes, server_processes

RATE_LIMITS_OFF = {"DIGITPAD_RATE_LIMIT": "", "DIGITPAD_CORRECTIONS_RATE_LIMIT": "", "DIGITPAD_BATCH_RATE_LIMIT": "",
                   "DIGITPAD_CORRECTIONS_QUOTA": ""}
BATCH_IMAGES = 50


def request_mix():
    """(weight, name, method, path, body, content type, statuses expected)."""
    drawings = drawn_digit_bodies()
    pngs = [base64.b64decode(json.loads(body)["image"].split(",", 1)[1]) for body, _ in drawings]
    boundary = "digitpad-soak"
    uploads = [
        (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"digit.png\"\r\n"
         f"Content-Type: image/png\r\n\r\n").encode() + png + f"\r\n--{boundary}--\r\n".encode()
        for png in pngs
    ]
    bad = [
        (b"garbage", "text/plain"),
        (b"", "application/json"),
        (b'{"image": 5}', "application/json"),
        (b'{"image": "data:image/png;base64,!!!"}', "application/json"),
        (pngs[0][: len(pngs[0]) // 2], "image/png"),
        (os.urandom(2000), "application/octet-stream"),
        (b"<html></html>", "text/html"),
    ]
    images = [json.loads(body)["image"] for body, _ in drawings]
    batch = json.dumps({"images": (images * BATCH_IMAGES)[:BATCH_IMAGES]}).encode()
    corrections = correction_bodies(400)
    return [
        (60, "drawing", "POST", "/predict/", [body for body, _ in drawings], "application/json", {200}),
        (12, "upload", "POST", "/predict/", uploads, f"multipart/form-data; boundary={boundary}", {200}),
        (12, "bad input", "POST", "/predict/", bad, None, {400, 413, 415, 422}),
        (5, "correction", "POST", "/api/corrections", corrections, "application/json", {200, 201}),
        (3, "batch", "POST", "/predict/batch", [batch], "application/json", {200}),
        (8, "health", "GET", "/readyz", [None], None, {200}),
    ]


class Minutes:
    """Per-minute outcomes of the load, shared by the client threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = defaultdict(list)
        self.statuses = defaultdict(lambda: defaultdict(int))
        self.unexpected = defaultdict(list)

    def record(self, minute, name, status, expected, elapsed_ms):
        with self.lock:
            self.statuses[minute][status] += 1
            if status in expected:
                self.latencies[minute].append(elapsed_ms)
            elif len(self.unexpected[minute]) < 5:
                self.unexpected[minute].append(f"{name}: {status}")


def client(port, mix, minutes, started, deadline, seed, budget):
    rng = random.Random(seed)
    weights = [entry[0] for entry in mix]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < deadline:
        with minutes.lock:
            if budget[0] <= 0:
                break
            budget[0] -= 1
        _, name, method, path, bodies, content_type, expected = rng.choices(mix, weights)[0]
        body = rng.choice(bodies)
        if name == "bad input":
            body, content_type = body
        headers = {"Content-Type": content_type} if content_type else {}
        minute = int((time.monotonic() - started) // 60)
        sent = time.perf_counter()
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = "failed"
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        minutes.record(minute, name, status, expected, (time.perf_counter() - sent) * 1000)
    connection.close()


def sample(master_pid):
    """{pid: (name, RSS MB, descriptors, threads)} for the server's processes now."""
    figures = {}
    for pid in server_processes(master_pid):
        try:
            status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                          if ":" in line)
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            descriptors = len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:  # Ended while we looked.
            continue
        name = ("master" if pid == master_pid else "worker" if b"gunicorn" in command[1] else
                "batch process" if b"spawn_main" in b" ".join(command) else "helper")
        figures[pid] = (name, resident_megabytes(pid), descriptors, int(status["Threads"]))
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--slow", type=int, default=20, help="trickling connections (half headers, half bodies)")
    parser.add_argument("--max-requests", type=int, default=2_000_000)
    arguments = parser.parse_args()
    mix = request_mix()
    minutes = Minutes()
    samples = []
    print(f"{arguments.minutes} minutes, {arguments.clients} clients, {arguments.slow} slow connections, "
          f"{os.cpu_count()} cores; mix: " + ", ".join(f"{name} {weight} %" for weight, name, *_ in mix))
    with procfile_server(RATE_LIMITS_OFF) as (url, master):
        port = urlsplit(url).port
        with SlowAttack(port, arguments.slow // 2, arguments.slow - arguments.slow // 2):
            started = time.monotonic()
            deadline = started + arguments.minutes * 60
            budget = [arguments.max_requests]
            threads = [
                threading.Thread(target=client, args=(port, mix, minutes, started, deadline, seed, budget))
                for seed in range(arguments.clients)
            ]
            for thread in threads:
                thread.start()
            print(f"\n{'min':>3} {'requests':>8} {'p50 ms':>7} {'p99 ms':>7} {'4xx':>5} {'5xx':>4} "
                  f"{'failed':>6} {'fds':>5} {'threads':>7}  RSS MB per process")
            for minute in range(arguments.minutes):
                time.sleep(max(0.0, started + (minute + 1) * 60 - time.monotonic()))
                samples.append(sample(master.pid))
                print_minute(minute, minutes, samples[-1])
            for thread in threads:
                thread.join(60)
    verdict(minutes, samples, arguments)


def print_minute(minute, minutes, figures):
    with minutes.lock:
        statuses = dict(minutes.statuses[minute])
        latencies = list(minutes.latencies[minute])
    count = sum(statuses.values())
    client_errors = sum(n for status, n in statuses.items() if isinstance(status, int) and 400 <= status < 500)
    server_errors = sum(n for status, n in statuses.items() if isinstance(status, int) and status >= 500)
    p50, p99 = (np.percentile(latencies, [50, 99]) if latencies else (float("nan"),) * 2)
    memory = ", ".join(f"{name} {rss:.0f}" for name, rss, _, _ in sorted(figures.values()))
    print(f"{minute + 1:>3} {count:>8} {p50:>7.2f} {p99:>7.2f} {client_errors:>5} {server_errors:>4} "
          f"{statuses.get('failed', 0):>6} {sum(f[2] for f in figures.values()):>5} "
          f"{sum(f[3] for f in figures.values()):>7}  {memory}", flush=True)
    if minutes.unexpected[minute]:
        print(f"    unexpected: {', '.join(minutes.unexpected[minute])}")


def verdict(minutes, samples, arguments):
    if len(samples) < 3:
        print("\nToo short to judge (needs 3 minutes or more).")
        return
    second, last = samples[1], samples[-1]

    def totals(figures, column):
        return sum(figure[column] for figure in figures.values())

    memory_change = totals(last, 1) / totals(second, 1) - 1
    per_kind = defaultdict(lambda: [0.0, 0.0])
    for index, figures in ((0, second), (1, last)):
        for name, rss, _, _ in figures.values():
            per_kind[name][index] += rss
    server_errors = sum(n for statuses in minutes.statuses.values() for status, n in statuses.items()
                        if isinstance(status, int) and status >= 500)
    failed = sum(statuses.get("failed", 0) for statuses in minutes.statuses.values())
    print(f"\nMemory, last minute against the second: {memory_change * 100:+.1f} % in all ("
          + ", ".join(f"{name}: {b:.0f} against {a:.0f} MB" for name, (a, b) in sorted(per_kind.items())) + ")")
    print(f"Descriptors {totals(second, 2)} -> {totals(last, 2)}, threads {totals(second, 3)} -> "
          f"{totals(last, 3)}, processes {len(second)} -> {len(last)}; 5xx {server_errors}, failed {failed}")
    # Each trickling connection holds a descriptor while it is open: they come and go.
    descriptor_noise = arguments.slow + arguments.clients
    flat = (abs(memory_change) <= 0.10 and totals(last, 2) <= totals(second, 2) + descriptor_noise
            and totals(last, 3) <= totals(second, 3) and server_errors == 0 and failed == 0)
    print("Flat." if flat else "NOT flat.")


if __name__ == "__main__":
    main()
