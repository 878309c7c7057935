"""Slow clients: does an ordinary user still get answers while hundreds of connections trickle?

    .venv/bin/python -m bench.bench_slow_clients [--setups procfile gthread gevent nginx]
        [--slow-headers 500] [--slow-bodies 500] [--seconds 15]

For each server set-up: one ordinary client posts drawn digits to /predict/ (keep-alive, as a
browser does) for `--seconds` before the attack and again during it. The attack keeps
`--slow-headers` connections sending a request's headers one byte a second and `--slow-bodies`
connections sending a declared 100 kB body one byte a second; each connection the server cuts
off is opened again at once, as an attacker would. Prints the ordinary client's share of
answered requests and its p50 before and during, and how long the server let the slow
connections live. Every set-up is bounded in time and connections; the rate limit is off.
"""

import argparse
import asyncio
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench.bench_serving import drawn_digit_bodies, drive
from harness.servers import ROOT, gunicorn_command, procfile_server, procfile_web_command, worker_pids

SLOW_BODY_BYTES = 100_000
TRICKLE_INTERVAL_S = 1.0
ORDINARY_TIMEOUT_S = 5.0

# The candidates measured side by side. "procfile" is whatever the Procfile starts now.
NGINX_CANDIDATE_CONF = """
worker_processes 1;
pid {folder}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    client_header_timeout 5s;
    client_body_timeout 5s;
    keepalive_timeout 5s;
    send_timeout 10s;
    client_max_body_size 12m;
    client_body_buffer_size 1m;
    upstream app {{ server unix:{folder}/gunicorn.sock; keepalive 32; }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


def gthread_command(port):
    return gunicorn_command("--bind", f"127.0.0.1:{port}", "--worker-class", "gthread", "app:create_app()")


def gevent_command(port):
    return gunicorn_command(
        "--bind", f"127.0.0.1:{port}", "--worker-class", "gevent", "--worker-connections", "4000",
        "app:create_app()",
    )


def nginx_command(port):
    folder = tempfile.mkdtemp(prefix="digitpad-nginx-")
    os.chmod(folder, 0o755)  # nginx's workers run as another user when it is started as root.
    Path(folder, "nginx.conf").write_text(NGINX_CANDIDATE_CONF.format(folder=folder, port=port))
    gunicorn = " ".join(
        f"'{part}'" for part in gunicorn_command("--bind", f"unix:{folder}/gunicorn.sock", "app:create_app()")
    )
    return ["sh", "-c", f"{gunicorn} & exec nginx -p {folder} -c {folder}/nginx.conf -e stderr "
                        "-g 'daemon off;'"]


SETUPS = {
    "procfile": procfile_web_command,
    "gthread": gthread_command,
    "gevent": gevent_command,
    "nginx": nginx_command,
}


class SlowAttack:
    """Keeps the slow connections trickling from a process of its own, so that the attack does
    not share the ordinary client's interpreter lock; its figures once it has stopped."""

    def __init__(self, port, slow_headers, slow_bodies):
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._results = context.Queue()
        self._process = context.Process(
            target=run_trickling_connections,
            args=(port, {"header": slow_headers, "body": slow_bodies}, self._stop, self._results),
            daemon=True,
        )

    def __enter__(self):
        self._process.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        connections = self._results.get(timeout=60)
        self._process.join(timeout=30)
        self.lifetimes, self.answers = connections.lifetimes, connections.answers
        self.refused, self.open_now = connections.refused, connections.open_at_end


def run_trickling_connections(port, counts, stop, results):
    connections = TricklingConnections(port, counts)
    asyncio.run(connections.run_until(stop))
    results.put(connections)


class TricklingConnections:
    """`counts[kind]` connections of each kind, each opened again as soon as the server cuts it."""

    def __init__(self, port, counts):
        self.port = port
        self.counts = counts
        self.lifetimes = {"header": [], "body": []}  # Seconds until the server cut one off.
        self.answers = {"header": {}, "body": {}}  # The server's status line, when it sent one.
        self.refused = 0
        self.open_now = {"header": 0, "body": 0}
        self.open_at_end = {}

    def __getstate__(self):
        return {key: value for key, value in self.__dict__.items() if key != "_stopping"}

    async def run_until(self, stop):
        self._stopping = asyncio.Event()
        tasks = [
            asyncio.create_task(self._connection(kind))
            for kind, count in self.counts.items() for _ in range(count)
        ]
        while not stop.is_set():
            await asyncio.sleep(0.1)
        self._stopping.set()
        self.open_at_end = dict(self.open_now)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _connection(self, kind):
        if kind == "header":
            start = b"POST /predict/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
        else:
            start = (b"POST /predict/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % SLOW_BODY_BYTES)
        while not self._stopping.is_set():
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                self.refused += 1
                await asyncio.sleep(TRICKLE_INTERVAL_S)
                continue
            opened = time.monotonic()
            self.open_now[kind] += 1
            answer = asyncio.create_task(reader.read(200))
            try:
                writer.write(start)
                while not answer.done():
                    await asyncio.wait({answer}, timeout=TRICKLE_INTERVAL_S)
                    if not answer.done():
                        writer.write(b"a")
                        await writer.drain()
                reply = answer.result()
                self.lifetimes[kind].append(time.monotonic() - opened)
                status = reply.split(b"\r\n", 1)[0].decode(errors="replace") or "closed without an answer"
                self.answers[kind][status] = self.answers[kind].get(status, 0) + 1
            except (ConnectionError, OSError):
                self.lifetimes[kind].append(time.monotonic() - opened)
                self.answers[kind]["reset"] = self.answers[kind].get("reset", 0) + 1
            finally:
                answer.cancel()
                self.open_now[kind] -= 1
                writer.close()


def measure(setup, bodies, arguments):
    command = SETUPS[setup]
    with procfile_server(command=command, ready_timeout=120) as (url, process):
        port = urlsplit(url).port
        pids = [process.pid, *worker_pids(process.pid)]
        drive(port, bodies, 2, 1.0, pids)  # Warm every worker.
        before = drive(port, bodies, 1, arguments.seconds, pids, timeout=ORDINARY_TIMEOUT_S)
        with SlowAttack(port, arguments.slow_headers, arguments.slow_bodies) as attack:
            time.sleep(arguments.ramp)
            during = drive(port, bodies, 1, arguments.seconds, pids, timeout=ORDINARY_TIMEOUT_S)
        after = drive(port, bodies, 1, 2.0, pids, timeout=ORDINARY_TIMEOUT_S)
    return before, during, after, attack


def answered_share(row):
    attempted = row["requests"] + row["errors"]
    return 100.0 * row["requests"] / attempted if attempted else 0.0


def describe_lifetimes(values):
    if not values:
        return "none cut off"
    return (f"{len(values)} cut off, after {statistics.median(values):.1f} s median "
            f"({min(values):.1f}-{max(values):.1f} s)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setups", nargs="+", default=["procfile"], choices=sorted(SETUPS))
    parser.add_argument("--slow-headers", type=int, default=500)
    parser.add_argument("--slow-bodies", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=15.0, help="ordinary load before and during")
    parser.add_argument("--ramp", type=float, default=3.0, help="seconds of attack before measuring")
    arguments = parser.parse_args()
    bodies = drawn_digit_bodies()
    print(f"{arguments.slow_headers} slow-header + {arguments.slow_bodies} slow-body connections, "
          f"one byte every {TRICKLE_INTERVAL_S:g} s; one ordinary client, {arguments.seconds:g} s before "
          f"and during, {ORDINARY_TIMEOUT_S:g} s timeout; {os.cpu_count()} cores; Procfile: "
          f"{(ROOT / 'Procfile').read_text().splitlines()[-1]}")
    rows = []
    for setup in arguments.setups:
        before, during, after, attack = measure(setup, bodies, arguments)
        rows.append((setup, before, during, after))
        print(f"\n{setup}")
        for name, row in (("before", before), ("during", during), ("after", after)):
            print(f"  {name:<7} answered {answered_share(row):6.1f} % of {row['requests'] + row['errors']:>5} "
                  f"requests, p50 {row['p50_ms']:7.2f} ms, p99 {row['p99_ms']:7.2f} ms, {row['wrong']} wrong")
        for kind in ("header", "body"):
            answers = ", ".join(f"{status}: {count}" for status, count in sorted(attack.answers[kind].items()))
            label = "slow headers" if kind == "header" else "slow bodies"
            print(f"  {label}: {describe_lifetimes(attack.lifetimes[kind])}; "
                  f"{attack.open_now[kind]} open at the end; answers {answers or 'none'}")
        print(f"  connections refused: {attack.refused}")
    print(f"\n{'set-up':<10} {'answered before':>15} {'during':>8} {'p50 before':>11} {'during':>8} "
          f"{'target p50':>10}")
    for setup, before, during, _ in rows:
        target = 2 * before["p50_ms"] + 5
        print(f"{setup:<10} {answered_share(before):>14.1f}% {answered_share(during):>7.1f}% "
              f"{before['p50_ms']:>8.2f} ms {during['p50_ms']:>5.2f} ms {target:>7.2f} ms")


if __name__ == "__main__":
    main()
