"""Serving benchmark: digitpad as the Procfile starts it, against the original tutorial's path.

    .venv/bin/python -m bench.bench_serving [--seconds 8] [--clients 1 8 32] [--rounds 1]

Both servers run under gunicorn with the same settings (gunicorn.conf.py), on 127.0.0.1, and are driven
with the same drawn-digit PNGs (the page's JSON body) for a bounded time per client count.
Prints requests per second, client-side latency percentiles, the server's own time per request
(its Server-Timing header), errors and wrong answers; then the in-process cost of decoding +
preprocessing and of inference at batch 1 and 32. Compare figures as ratios within one run:
the machine is shared.
"""

import argparse
import base64
import http.client
import json
import os
import statistics
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from handwriting.render import SENT_SIZE
from harness.servers import (
    cpu_seconds,
    gunicorn_command,
    procfile_server,
    resident_megabytes,
    worker_pids,
)
from harness.strokes import STROKE_DIGITS, encode, render
from model.classifier import DigitClassifier
from model.loader import load_network
from model.preprocessing import decode_data_url, to_model_input


def drawn_digit_bodies():
    """(JSON body as the page sends it, label) for every example digit."""
    bodies = []
    for _, label, strokes in STROKE_DIGITS:
        # Opaque RGBA, as a canvas filled with white gives it.
        png = encode(render(strokes, size=SENT_SIZE).convert("RGBA"))
        url = "data:image/png;base64," + base64.b64encode(png).decode()
        bodies.append((json.dumps({"image": url}).encode(), label))
    return bodies


def percentile(values, fraction):
    return float(np.percentile(values, fraction * 100)) if values else float("nan")


def drive(port, bodies, clients, seconds, server_pids, max_requests=20000, timeout=30):
    """Bounded load: `clients` threads with keep-alive connections for `seconds`.

    A request that gets no answer within `timeout` seconds counts as an error.

    Besides the rates and latencies it reports the CPU time used per request by the server's
    processes and by this load generator, which shares the machine's cores with them.
    """
    latencies, server_times, failures, wrong = [], [], [0], [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    budget = [max_requests]

    def client(offset):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        index = offset
        while time.monotonic() < deadline:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            body, label = bodies[index % len(bodies)]
            index += 1
            started = time.perf_counter()
            try:
                connection.request("POST", "/predict/", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                payload = response.read()
                elapsed = time.perf_counter() - started
                timing = response.getheader("Server-Timing", "")
                with lock:
                    if response.status != 200:
                        failures[0] += 1
                        continue
                    latencies.append(elapsed * 1000)
                    if "dur=" in timing:
                        server_times.append(float(timing.split("dur=")[1]))
                    if json.loads(payload)["digit"] != label:
                        wrong[0] += 1
            except (OSError, http.client.HTTPException):
                with lock:
                    failures[0] += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        connection.close()

    server_cpu = sum(cpu_seconds(pid) for pid in server_pids)
    client_cpu = time.process_time()
    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    server_cpu = sum(cpu_seconds(pid) for pid in server_pids) - server_cpu
    client_cpu = time.process_time() - client_cpu
    answered = max(len(latencies), 1)
    return {
        "clients": clients,
        "requests": len(latencies),
        "req_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.50),
        "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
        "server_p50_ms": percentile(server_times, 0.50),
        "server_cpu_ms": server_cpu * 1000 / answered,
        "client_cpu_ms": client_cpu * 1000 / answered,
        "errors": failures[0],
        "wrong": wrong[0],
    }


def naive_command(port):
    """The tutorial's app under the same gunicorn settings (gunicorn.conf.py) as digitpad."""
    return gunicorn_command("--bind", f"127.0.0.1:{port}", "bench.naive_app:create_naive_app()")


def measure(url, master, bodies, client_counts, seconds):
    """Warm a started server up, then drive it at each client count; its rows and worker memory."""
    port = urlsplit(url).port
    workers = worker_pids(master.pid)
    server_pids = [master.pid, *workers]
    drive(port, bodies, 4, 1.0, server_pids)  # Warm the connections and every worker.
    rows = [drive(port, bodies, clients, seconds, server_pids) for clients in client_counts]
    memory = ", ".join(f"{resident_megabytes(pid):.0f} MB" for pid in workers)
    return rows, memory


def print_table(title, rows):
    print(f"\n{title}")
    print(f"{'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'server p50':>10} {'CPU/req server':>14} {'client':>6} {'requests':>8} {'errors':>6} "
          f"{'wrong':>5}")
    for row in rows:
        print(f"{row['clients']:>7} {row['req_per_s']:>8.1f} {row['p50_ms']:>8.2f} "
              f"{row['p95_ms']:>8.2f} {row['p99_ms']:>8.2f} {row['server_p50_ms']:>10.2f} "
              f"{row['server_cpu_ms']:>11.2f} ms {row['client_cpu_ms']:>6.2f} "
              f"{row['requests']:>8} {row['errors']:>6} {row['wrong']:>5}")


def in_process_costs(bodies, repeats=200):
    print("\nIn-process cost per call (median of repeated calls)")
    classifier_by_runtime = {}
    for runtime in ("litert", "tensorflow"):
        classifier = DigitClassifier(runtime=runtime)
        classifier.load()
        assert classifier.ready, classifier.load_error
        classifier_by_runtime[runtime] = classifier
    pngs = [json.loads(body)["image"] for body, _ in bodies]

    def median_ms(function, count=repeats):
        times = []
        for index in range(count):
            started = time.perf_counter()
            function(index)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    classifier = classifier_by_runtime["litert"]
    decoded = [decode_data_url(url) for url in pngs]
    print(f"  decode data URL + PNG + preprocess: "
          f"{median_ms(lambda i: classifier.preprocess(decode_data_url(pngs[i % len(pngs)]))):.3f} ms")
    digits = np.stack([classifier.preprocess(data) for data in decoded])
    batch_32 = np.resize(digits, (32, 28, 28))
    for runtime, each in classifier_by_runtime.items():
        one = median_ms(lambda i, each=each: each.predict(digits[i % len(digits)][np.newaxis]))
        many = median_ms(lambda i, each=each: each.predict(batch_32), repeats // 4)
        print(f"  {runtime:<10} inference batch 1: {one:.3f} ms   batch 32: {many:.3f} ms "
              f"({many / 32:.3f} ms per image)")
    network = load_network()
    naive = median_ms(lambda i: network.predict(to_model_input(digits[i % len(digits)]), verbose=0), 50)
    print(f"  keras model.predict, batch 1 (the tutorial's way): {naive:.3f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="load time per client count")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--workers", default="2")
    parser.add_argument("--threads", default="8", help="threads per worker, for --worker-classes gthread")
    parser.add_argument("--batch-waits", type=float, nargs="+", default=[0.0, 2.0],
                        help="DIGITPAD_BATCH_MAX_WAIT_MS values to compare")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the digitpad settings this many times, interleaved, and also "
                             "print each one's median (the machine's noise is often 10 %%)")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--model-dirs", nargs="+", default=[None], metavar="DIR",
                        help="serve these model folders in turn, each with every setting, in the "
                             "same run (default: the served model only)")
    parser.add_argument("--worker-classes", nargs="+", default=[None], metavar="CLASS",
                        help="GUNICORN_WORKER_CLASS values to compare in the same run, e.g. gthread "
                             "web.gunicorn_worker.GeventSocketsWorker (default: gunicorn.conf.py's)")
    arguments = parser.parse_args()

    bodies = drawn_digit_bodies()
    gunicorn = {"WEB_CONCURRENCY": arguments.workers, "GUNICORN_THREADS": arguments.threads}
    print(f"{len(bodies)} drawn digits, {arguments.workers} workers, "
          f"{arguments.seconds:.0f} s per client count, {os.cpu_count()} cores")

    batching = [("no batching", {"DIGITPAD_BATCH_MAX_SIZE": "1"})] + [
        (f"batching, wait {wait:g} ms", {"DIGITPAD_BATCH_MAX_WAIT_MS": str(wait)})
        for wait in arguments.batch_waits
    ]
    settings = batching if arguments.model_dirs == [None] else [
        (f"{name}, {model_dir}", {**environment, "DIGITPAD_MODEL_DIR": str(Path(model_dir).resolve())})
        for model_dir in arguments.model_dirs
        for name, environment in batching
    ]
    if arguments.worker_classes != [None]:
        settings = [
            (f"{worker_class.rsplit('.', 1)[-1]}, {name}", {**environment, "GUNICORN_WORKER_CLASS": worker_class})
            for worker_class in arguments.worker_classes
            for name, environment in settings
        ]
    runs = {name: [] for name, _ in settings}
    for _ in range(arguments.rounds):
        for name, environment in settings:
            started = time.monotonic()
            with procfile_server({**gunicorn, **environment}) as (url, process):
                ready_seconds = time.monotonic() - started
                rows, memory = measure(url, process, bodies, arguments.clients, arguments.seconds)
            runs[name].append(rows)
            print_table(f"digitpad, {name} (ready in {ready_seconds:.1f} s; worker RSS {memory})", rows)
    # The round with the median throughput at the most clients stands for each setting.
    results = {
        name: sorted(rounds, key=lambda rows: rows[-1]["req_per_s"])[len(rounds) // 2]
        for name, rounds in runs.items()
    }
    if arguments.rounds > 1:
        print("\nMedian req/s over the rounds:")
        for name, rounds in runs.items():
            medians = [statistics.median(rows[index]["req_per_s"] for rows in rounds)
                       for index in range(len(arguments.clients))]
            print(f"  {name:<24} " + "  ".join(
                f"{clients} clients: {median:.0f}" for clients, median in zip(arguments.clients, medians)))

    if not arguments.skip_naive:
        with procfile_server(gunicorn, ready_timeout=120, command=naive_command) as (url, process):
            naive_rows, memory = measure(url, process, bodies, arguments.clients, arguments.seconds)
        print_table("naive (tutorial: whole-canvas resize, model.predict per request; worker RSS "
                    f"{memory})", naive_rows)
        print("\nThroughput ratio, digitpad / naive, per client count:")
        for name, rows in results.items():
            ratios = [row["req_per_s"] / max(naive["req_per_s"], 1e-9) for row, naive in zip(rows, naive_rows)]
            print(f"  {name:<24} " + "  ".join(
                f"{row['clients']} clients: {ratio:.0f}x" for row, ratio in zip(rows, ratios)))

    in_process_costs(bodies)


if __name__ == "__main__":
    main()
