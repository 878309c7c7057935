"""Prometheus metrics (gunicorn.conf.py sets up multiprocess mode for several workers)."""

import os
import time

from flask import Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "digitpad_http_requests_total", "HTTP requests by endpoint and status", ["endpoint", "status"]
)
LATENCY = Histogram(
    "digitpad_http_request_duration_seconds",
    "Time to answer a request, by endpoint",
    ["endpoint"],
    buckets=(0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
PREDICTIONS = Counter(
    "digitpad_predictions_total", "Answers by predicted digit ('none' when no ink)", ["digit"]
)
BATCH_SIZES = Histogram(
    "digitpad_batch_size", "Images per network call", buckets=(1, 2, 4, 8, 16, 32, 64, 128)
)
BATCH_REQUEST_IMAGES = Histogram(
    "digitpad_batch_request_images",
    "Images per /predict/batch request",
    buckets=(1, 10, 32, 100, 250, 500, 1000, 5000),
)
# 1 for the model version a worker serves (one series per worker: "liveall" drops dead ones).
SERVED_MODEL = Gauge(
    "digitpad_served_model", "The model version this worker serves (1)", ["version"], multiprocess_mode="liveall"
)
CORRECTIONS = Counter(
    "digitpad_corrections_total",
    "Corrections answered, by kind and by what was stored (new, unchanged, replaced)",
    ["kind", "stored"],
)


def metrics_registry():
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def start_timer():
    g.request_started = time.perf_counter()


def record_request(response):
    # The route's pattern, not the path: unknown paths must not create new label values.
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    REQUESTS.labels(endpoint, str(response.status_code)).inc()
    if "request_started" in g:
        seconds = time.perf_counter() - g.request_started
        LATENCY.labels(endpoint).observe(seconds)
        # The server's own time for the request, for browsers' dev tools and the benchmark.
        response.headers["Server-Timing"] = f"app;dur={seconds * 1000:.3f}"
    return response


def metrics_response():
    # content_type, not mimetype: Flask would add a second charset to the one the type has.
    return Response(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
