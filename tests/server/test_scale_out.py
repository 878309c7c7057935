"""Three app servers behind nginx (deploy/nginx.conf), sharing one PostgreSQL and one Redis, all
local processes on 127.0.0.1 as compose.yaml runs them: a server killed under load, rate limits
across servers, a promotion, corrections, and Redis going away. bench/scale_out.py measures the
same for longer."""

import time
from collections import Counter

import pytest
import requests

from harness.cluster import (
    add_unmeasured,
    cluster,
    flood,
    kill_and_restart,
    promote,
    rate_limit_keys,
    seconds_until_every_server_serves,
)
from harness.corrections_load import correction_bodies, post_corrections, stored_ids
from harness.load import SEVEN_PNG, Load
from harness.model_folders import copy_of_committed_model
from model.loader import DEFAULT_MODEL_DIR

pytestmark = pytest.mark.slow

# Predictions limited far above what the tests send (so each one is counted in Redis); batches
# limited low: the limit the tests exceed.
BATCH_LIMIT = 12
ENVIRONMENT = {
    "WEB_CONCURRENCY": "2", "DIGITPAD_RATE_LIMIT": "100000 per minute", "DIGITPAD_CORRECTIONS_RATE_LIMIT": "",
    "DIGITPAD_CORRECTIONS_QUOTA": "", "DIGITPAD_BATCH_RATE_LIMIT": f"{BATCH_LIMIT} per 30 seconds",
}


@pytest.fixture(scope="module")
def group():
    try:
        with cluster(3, ENVIRONMENT) as started:
            yield started
    except RuntimeError as error:  # PostgreSQL, Redis or nginx is not installed.
        from tests.conftest import missing

        missing(f"Cannot start the servers: {error}")


def test_a_server_sigkilled_under_16_clients_fails_no_request_and_comes_back(group):
    with Load(group.url, 16) as load:
        time.sleep(1.5)
        back_after = kill_and_restart(group, load, victim=0, down_seconds=2.0)
        time.sleep(0.5)
    assert load.statuses() == {200: len(load.answers)}, (load.statuses(), load.errors[:3])
    assert len(load.answers) > 100
    assert back_after < 10, f"the server started again got no request for {back_after:.1f} s"


def test_a_client_over_its_limit_is_refused_at_the_configured_rate_across_all_servers(group):
    batch = {"file": ("seven.png", SEVEN_PNG, "image/png")}
    servers = [server.url for server in group.servers]
    # Straight to the three servers in turn (each trusts the address in one X-Forwarded-For).
    ipv4 = flood(servers, 3.0, "/predict/batch", forwarded_for="198.51.100.7", files=batch)
    assert ipv4[200] == BATCH_LIMIT and ipv4[429] > 0, ipv4
    # Every address of an IPv6 /64 is one client; the next /64 is another.
    statuses = [requests.post(f"{servers[n % 3]}/predict/batch", files=batch, timeout=10,
                              headers={"X-Forwarded-For": f"2001:db8:7:8::{n + 1:x}"}).status_code
                for n in range(BATCH_LIMIT + 3)]
    assert statuses == [200] * BATCH_LIMIT + [429] * 3
    assert requests.post(f"{servers[0]}/predict/batch", files=batch, timeout=10,
                         headers={"X-Forwarded-For": "2001:db8:7:9::1"}).status_code == 200
    # Through nginx, whatever X-Forwarded-For the client sends: it is the address nginx saw.
    spoofed = Counter()
    for n in range(BATCH_LIMIT + 4):
        spoofed[requests.post(f"{group.url}/predict/batch", files=batch, timeout=10,
                              headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code] += 1
    assert spoofed == {200: BATCH_LIMIT, 429: 4}


def test_a_promoted_version_is_served_by_every_server_within_3_seconds(group, classifier, tmp_path):
    second = copy_of_committed_model(tmp_path / "second", "scale-out-second")
    add_unmeasured(group.database_url, [DEFAULT_MODEL_DIR, second], classifier)
    promote(group.environment, "scale-out-second")
    reached = seconds_until_every_server_serves(group.servers, "scale-out-second", timeout=10)
    assert len(reached) == 3 and max(reached.values()) < 3.0, reached
    answer = requests.post(f"{group.url}/predict/", data=SEVEN_PNG, headers={"Content-Type": "image/png"}).json()
    assert answer["model_version"] == "scale-out-second"


def test_corrections_posted_through_every_server_are_all_in_the_one_database(group):
    bodies = correction_bodies(160, seed=11)
    urls = [server.url for server in group.servers] + [group.url]
    acknowledged = set()
    for number, url in enumerate(urls):
        result = post_corrections(url, bodies[number * 40:(number + 1) * 40], 8, seconds=30)
        assert result["statuses"] == {201: 40} and result["unanswered"] == 0, result["statuses"]
        acknowledged |= set(result["acknowledged"])
    assert len(acknowledged) == 160
    assert acknowledged <= stored_ids(group.database_url)


def test_predictions_go_on_while_redis_is_killed_and_limits_are_shared_again_once_it_is_back(group):
    redis = group.redis
    assert rate_limit_keys(redis) > 0  # The predictions' counts are in Redis.
    with Load(group.url, 4) as load:
        time.sleep(1.0)
        redis.kill()
        killed = time.monotonic()
        time.sleep(3.0)
        redis.start()  # Empty: nothing was saved.
        restarted = time.monotonic()
        deadline = restarted + 45  # Each worker tries Redis again after 1, 2, 4 ... 32 s.
        while rate_limit_keys(redis) == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        counted_again = time.monotonic() - restarted
    assert load.statuses() == {200: len(load.answers)}, load.statuses()
    assert load.statuses(since=killed + 0.5)[200] > 20  # Answered while Redis was gone.
    slowest = max(answer.answered - answer.sent for answer in load.answers if killed <= answer.answered < restarted)
    assert slowest < 2.0, f"a prediction took {slowest:.1f} s while Redis was gone"
    assert counted_again < 45, "no worker counted in Redis again"
