"""Rate limits are keyed by client: IPv4 by address, IPv6 by its /64."""

import pytest

from harness.strokes import encode, render, strokes_named
from web.rate_limits import client_key, storage_settings
from web.settings import settings_from_environment


@pytest.mark.parametrize("address, key", [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("2001:DB8:1:2:a:b:c:d", "2001:db8:1:2::/64"),
    ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
    ("::ffff:203.0.113.7", "203.0.113.7"),
    ("fe80::1%eth0", "fe80::/64"),
    ("", "unknown"),
    ("not-an-address", "not-an-address"),
])
def test_ipv4_clients_are_keyed_by_address_and_ipv6_clients_by_their_64(address, key):
    assert client_key(address) == key


def test_every_address_of_a_64_shares_one_limit_and_the_next_64_has_its_own(classifier):
    from app import create_app

    seven_png = encode(render(strokes_named("7-crossed")))

    app = create_app({"TESTING": True, "CLASSIFIER": classifier, "RATE_LIMIT": "2 per minute"})
    client = app.test_client()

    def post(address):
        return client.post("/predict/", data=seven_png, content_type="image/png",
                           environ_base={"REMOTE_ADDR": address}).status_code

    assert [post(f"2001:db8:aa:1::{n}") for n in (1, 2, 3)] == [200, 200, 429]
    assert post("2001:db8:aa:2::1") == 200  # Another /64: another client.
    assert [post("198.51.100.1"), post("198.51.100.2")] == [200, 200]  # IPv4: per address.


def test_a_shared_storage_waits_briefly_and_falls_back_to_memory():
    config = settings_from_environment({})
    assert storage_settings(config) == {}  # memory://: nothing to fall back from.
    shared = storage_settings({**config, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379"})
    assert shared["RATELIMIT_STORAGE_OPTIONS"] == {"socket_connect_timeout": 0.25, "socket_timeout": 0.25}
    assert shared["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] and shared["RATELIMIT_SWALLOW_ERRORS"]
