"""Batch benchmark: images a second through POST /predict/batch against the same images sent one
request each, and the network alone at batch 1, 32, 1,000 and 10,000 on each runtime.

    .venv/bin/python -m bench.bench_batch [--images 1000] [--rounds 5] [--seconds 8]

The server is started as the Procfile starts it (2 gevent workers) and driven on
127.0.0.1: first by 16 clients posting the images one a request (the base of every ratio), then
by one client posting them all in one request, `--rounds` times. Every batch answer is checked
against the single answers. Then the network alone, in this process: LiteRT with one thread and
with a thread per core, and the Keras path on its backend's device (a GPU where one is visible).
Compare figures as ratios within one run: the machine is shared.
"""

import argparse
import base64
import json
import time

import numpy as np
import requests

from bench.bench_serving import drive
from handwriting.render import SENT_SIZE
from harness.servers import procfile_server, worker_pids
from harness.strokes import STROKE_DIGITS, encode, render
from model.loader import DEFAULT_MODEL_DIR, load_litert, load_network
from model.preprocessing import to_model_input
from model.runtimes import KerasInference, LiteRTInference, available_cores

NETWORK_BATCHES = (1, 32, 1000, 10000)


def batch_images(count, seed=0):
    """`count` drawn digits as the page sends them (data URLs), with their labels."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for number in range(count):
        _, label, strokes = STROKE_DIGITS[number % len(STROKE_DIGITS)]
        image = render(strokes, size=SENT_SIZE, scale=rng.uniform(0.7, 1.0), offset=tuple(rng.uniform(-0.08, 0.08, 2)))
        images.append("data:image/png;base64," + base64.b64encode(encode(image.convert("RGBA"))).decode())
        labels.append(label)
    return images, labels


def batch_rounds(url, images, rounds):
    """Seconds per batch request of all the images, and the answers of the last."""
    session = requests.Session()
    body = json.dumps({"images": images})
    session.post(f"{url}/predict/batch", data=body, headers={"Content-Type": "application/json"}, timeout=120)
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = session.post(
            f"{url}/predict/batch", data=body, headers={"Content-Type": "application/json"}, timeout=120
        )
        seconds.append(time.perf_counter() - started)
        response.raise_for_status()
    return seconds, response.json()["results"]


def network_alone(model_dir):
    """Images a second for the network alone on each runtime and batch size."""
    digits = np.random.default_rng(0).integers(0, 256, (max(NETWORK_BATCHES), 28, 28), dtype=np.uint8)
    runtimes = {
        "LiteRT, 1 thread": LiteRTInference(load_litert(model_dir, 1), 1),
        f"LiteRT, {available_cores()} threads": LiteRTInference(
            load_litert(model_dir, available_cores()), available_cores()
        ),
    }
    keras_runtime = KerasInference(load_network(model_dir))
    runtimes[f"Keras ({keras_runtime.backend}) on {keras_runtime.device}"] = keras_runtime
    rows = {}
    for name, infer in runtimes.items():
        rows[name] = {}
        for size in NETWORK_BATCHES:
            batch = to_model_input(digits[:size])
            infer(batch)
            repeats = max(3, min(200, 20000 // size))
            started = time.perf_counter()
            for _ in range(repeats):
                infer(batch)
            rows[name][size] = size * repeats / (time.perf_counter() - started)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=8.0, help="for the single requests")
    parser.add_argument("--model-dir", default=str(DEFAULT_MODEL_DIR))
    arguments = parser.parse_args()
    images, labels = batch_images(arguments.images)
    single_bodies = [(json.dumps({"image": image}).encode(), label) for image, label in zip(images, labels)]
    environment = {
        "DIGITPAD_RATE_LIMIT": "", "DIGITPAD_BATCH_RATE_LIMIT": "", "DIGITPAD_MODEL_DIR": arguments.model_dir
    }
    with procfile_server(environment) as (url, master):
        port = int(url.rsplit(":", 1)[1])
        server_pids = [master.pid, *worker_pids(master.pid)]
        drive(port, single_bodies, 4, 1.0, server_pids)  # Warm the connections and both workers.
        single = drive(port, single_bodies, 16, arguments.seconds, server_pids)
        seconds, answers = batch_rounds(url, images, arguments.rounds)
        single_answers = [
            requests.post(f"{url}/predict/", json={"image": image}, timeout=30).json() for image in images[:50]
        ]
        model = requests.get(f"{url}/api/model", timeout=10).json()
    agree = answers[:50] == single_answers
    wrong = sum(answer.get("digit") != label for answer, label in zip(answers, labels))
    base = single["req_per_s"]
    batch_rate = arguments.images / float(np.median(seconds))
    print(f"{arguments.images:,} drawn digits (112-pixel PNGs as the page sends them), "
          "the app as the Procfile starts it\n")
    print("| path | images/s | ratio | latency |")
    print("| --- | --- | --- | --- |")
    print(f"| /predict/, one image a request, 16 clients | {base:.0f} | 1.0x | p50 {single['p50_ms']:.1f} ms, "
          f"p99 {single['p99_ms']:.1f} ms; {single['errors']} errors |")
    print(f"| /predict/batch, {arguments.images:,} images a request, 1 client | {batch_rate:.0f} | "
          f"{batch_rate / base:.1f}x | median {1000 * np.median(seconds):.0f} ms a request "
          f"(min {1000 * min(seconds):.0f}, max {1000 * max(seconds):.0f}) |")
    print(f"\nBatch answers equal to /predict/'s for the first 50 images: {agree}; "
          f"wrong digits in the batch: {wrong} of {arguments.images:,}")
    print("Runtimes by request size (/api/model):")
    for size in model["runtimes"]["sizes"]:
        print(f"  {size['images']:>10} images: {size['runtime']} in {size['where']} ({size.get('device')})")

    print("\nThe network alone (images/s; ratio to the single-request path's images/s):\n")
    rows = network_alone(arguments.model_dir)
    print("| runtime | " + " | ".join(f"batch {size:,}" for size in NETWORK_BATCHES) + " |")
    print("| --- |" + " --- |" * len(NETWORK_BATCHES))
    for name, rates in rows.items():
        print(f"| {name} | " + " | ".join(f"{rate:,.0f} ({rate / base:.1f}x)" for rate in rates.values()) + " |")
    print(f"\n({available_cores()} cores)")


if __name__ == "__main__":
    main()
