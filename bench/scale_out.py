"""Several servers together: three app servers behind nginx (deploy/nginx.conf), one PostgreSQL,
one Redis, all local processes on 127.0.0.1 as compose.yaml runs them (harness/cluster.py).

    .venv/bin/python -m bench.scale_out [--seconds 10] [--limit-seconds 60] [--clients 16]

Prints: throughput through nginx at 1, 2 and 3 servers (one gunicorn worker each, so servers are
workers), per second and per core; requests failed when one server is SIGKILLed under load and
how long until it serves again once started; a flooding client's answers through three servers
against one (DIGITPAD_RATE_LIMIT's default, counted in Redis) and, for contrast, through three
servers counting in memory; how long each server takes to serve a promoted version; and what
predictions do while Redis is killed and after it is back. Rate limits are off except where one
is measured. tests/server/test_scale_out.py checks the same, shorter.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from harness.cluster import (
    LIMITS_OFF,
    add_unmeasured,
    cluster,
    flood,
    kill_and_restart,
    promote,
    rate_limit_keys,
    seconds_until_every_server_serves,
    served_versions,
)
from harness.load import Load


def latency_ms(answers, since, until):
    values = [(answer.answered - answer.sent) * 1000 for answer in answers
              if since <= answer.answered < until and answer.status == 200]
    return np.percentile(values, [50, 99]) if values else (float("nan"), float("nan"))


def throughput(group, seconds, clients):
    """Predictions a second through nginx over the first 1, 2 and 3 servers."""
    from harness.nginx import nginx_server

    print(f"\nThroughput through nginx, {clients} clients, {seconds:g} s each, one gunicorn worker a server, "
          f"{os.cpu_count()} cores:")
    for count in range(1, len(group.servers) + 1):
        with nginx_server([server.port for server in group.servers[:count]]) as url, Load(url, clients) as load:
            time.sleep(seconds)
        rate = load.statuses()[200] / load.seconds
        p50, p99 = latency_ms(load.answers, 0, float("inf"))
        print(f"  {count} server(s): {rate:6.0f} predictions/s, {rate / os.cpu_count():5.0f} per core; "
              f"p50 {p50:.1f} ms, p99 {p99:.1f} ms; not 200: {len(load.answers) - load.statuses()[200]}")


def sigkill(group, seconds, clients):
    with Load(group.url, clients) as load:
        time.sleep(seconds / 3)
        killed = time.monotonic()
        back_after = kill_and_restart(group, load, victim=0, down_seconds=2.0)
        time.sleep(seconds / 3)
    statuses = load.statuses()
    print(f"\nSIGKILL of one server (master and workers) under {clients} clients: {len(load.answers):,} requests, "
          f"{len(load.answers) - statuses[200]} not answered 200 ({dict(statuses)}); started again 2 s later, "
          f"it answered through nginx {back_after:.2f} s after it was ready")
    p50, p99 = latency_ms(load.answers, killed, killed + 3)
    print(f"  latency in the 3 s after the kill: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    for error in load.errors:
        print(f"  no answer: {error}")


def promotions(group, switches=3):
    from harness.model_folders import copy_of_committed_model
    from model.classifier import DigitClassifier
    from model.loader import DEFAULT_MODEL_DIR, read_metadata

    classifier = DigitClassifier()
    classifier.load()
    committed = read_metadata(DEFAULT_MODEL_DIR)["version"]
    with tempfile.TemporaryDirectory() as folder:
        second = copy_of_committed_model(Path(folder) / "second", "scale-out-second")
        add_unmeasured(group.database_url, [DEFAULT_MODEL_DIR, second], classifier)
    print("\nPromotion (`flask models promote`), seconds from the command's end until every worker of each server serves it:")
    for number in range(switches):
        version = "scale-out-second" if number % 2 == 0 else committed
        command = promote(group.environment, version)
        reached = seconds_until_every_server_serves(group.servers, version)
        print(f"  {version:<24} command {command:.1f} s; servers: " + ", ".join(f"{s:.2f} s" for s in reached.values())
              + (f"; {len(group.servers) - len(reached)} never" if len(reached) < len(group.servers) else ""))


def flood_report(label, urls, seconds, redis=None):
    if redis:
        redis.command("FLUSHALL")
    statuses = flood(urls, seconds)
    print(f"  {label}: {statuses[200]:,} answered 200, {statuses[429]:,} refused 429 in {seconds:g} s")
    return statuses[200]


def rate_limits(seconds):
    """One client flooding for `seconds` with the default limit (20 a second, 600 a minute)."""
    from harness.nginx import nginx_server
    from web.settings import settings_from_environment

    limit = settings_from_environment({})["RATE_LIMIT"]
    environment = {**LIMITS_OFF, "DIGITPAD_RATE_LIMIT": limit, "WEB_CONCURRENCY": "2"}
    print(f"\nOne client flooding /predict/ through nginx with DIGITPAD_RATE_LIMIT={limit!r}, 2 workers a server:")
    with cluster(3, environment) as group:
        with nginx_server([group.servers[0].port]) as one:
            alone = flood_report("1 server, Redis", [one], seconds, group.redis)
        three = flood_report("3 servers, Redis", [group.url], seconds, group.redis)
        print(f"  3 servers against 1: {three / alone:.3f} times as many through")
        redis_goes_away(group, seconds=min(seconds, 30))
    with cluster(3, environment, redis=False) as group:
        flood_report("3 servers, memory:// (each worker counts alone; for contrast)", [group.url], seconds)


def redis_goes_away(group, seconds, clients=16):
    """16 clients, each its own address at 5 requests a second, straight to the servers; Redis
    SIGKILLed for 10 s, then started again (empty)."""
    addresses = [f"10.1.0.{n + 1}" for n in range(clients)]
    group.redis.command("FLUSHALL")
    with Load([server.url for server in group.servers], clients, pace=0.2, addresses=addresses) as load:
        time.sleep(seconds / 3)
        killed = time.monotonic()
        group.redis.kill()
        time.sleep(1)
        gone = flood([server.url for server in group.servers], 2.0, forwarded_for="10.3.0.1")
        time.sleep(7)
        group.redis.start()
        restarted = time.monotonic()
        while rate_limit_keys(group.redis) == 0 and time.monotonic() - restarted < 70:
            time.sleep(0.1)
        counted_again = time.monotonic() - restarted
        workers = sum(len(served_versions(server.url)) for server in group.servers)
        time.sleep(seconds / 3)
    back = flood([server.url for server in group.servers], 2.0, forwarded_for="10.3.0.2")
    print(f"\nRedis SIGKILLed for 10 s under {clients} clients (5 requests/s each, the default limit): "
          f"{dict(load.statuses())}, {len(load.errors)} without an answer")
    for label, since, until in (("before", 0, killed), ("Redis gone", killed, restarted),
                                ("after", restarted, float("inf"))):
        p50, p99 = latency_ms(load.answers, since, until)
        print(f"  latency {label:<10}: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
              f"{dict(load.statuses(since) - load.statuses(until) if until != float('inf') else load.statuses(since))}")
    print(f"  first count in Redis again {counted_again:.1f} s after it was back ({workers} workers)")
    print(f"  one client flooding the 3 servers for 2 s (the limit allows 40): while Redis was gone {gone[200]} "
          f"answered 200 (each worker counting alone), {seconds / 3 + counted_again:.0f} s after it was back {back[200]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="each throughput and SIGKILL run")
    parser.add_argument("--limit-seconds", type=float, default=60, help="each flood of the rate-limit runs")
    parser.add_argument("--clients", type=int, default=16)
    arguments = parser.parse_args()
    with cluster(3, {**LIMITS_OFF, "WEB_CONCURRENCY": "1"}) as group:
        throughput(group, arguments.seconds, arguments.clients)
        sigkill(group, arguments.seconds, arguments.clients)
        promotions(group)
    rate_limits(arguments.limit_seconds)


if __name__ == "__main__":
    main()
