"""Per-client rate limits (Flask-Limiter), set per route from the app's config.

Every limit is keyed by `client_key`: an IPv4 client by its address, an IPv6 client by its /64
(one subscriber, one home or one phone gets a whole /64 and may pick any address in it, so
keying by the address would give it 2**64 limits). The address is the proxy's X-Forwarded-For
with DIGITPAD_TRUSTED_PROXIES. The counts are held in memory (per worker) or in
DIGITPAD_RATE_LIMIT_STORAGE (redis://..., shared by every worker of every server), never in the
database. When that storage cannot be reached, each worker counts in its own memory until it
answers again (docs/deploying.md#redis): predictions go on, limited per worker.
"""

import ipaddress

from flask import request
from flask_limiter import Limiter

IPV6_PREFIX = 64


def client_key(address=None):
    """The key a client's requests are counted under: an IPv4 address as it is, an IPv6 address
    as its /64 network ("2001:db8:1:2::/64"), an IPv4-mapped IPv6 address as the IPv4 one."""
    address = request.remote_addr if address is None else address
    try:
        parsed = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:  # Not an address (a Unix socket, a test client): counted as it is.
        return address or "unknown"
    if parsed.version == 6:
        if parsed.ipv4_mapped:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)


def storage_settings(config):
    """Flask-Limiter's storage settings from the app's: where a shared storage (Redis) is
    configured, a request waits at most RATE_LIMIT_STORAGE_TIMEOUT_SECONDS for it, and while it
    cannot be reached every worker counts in memory (Flask-Limiter's in-memory fallback, which
    tries the storage again after 1, 2, 4 ... 32 s)."""
    uri = config["RATELIMIT_STORAGE_URI"]
    if uri.startswith("memory://"):
        return {}
    seconds = config["RATE_LIMIT_STORAGE_TIMEOUT_SECONDS"]
    options = {"socket_connect_timeout": seconds, "socket_timeout": seconds} if uri.startswith(
        ("redis://", "rediss://", "unix://", "redis+unix://")) else {}
    return {
        "RATELIMIT_STORAGE_OPTIONS": options,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        # Any other failure of the storage (one while the fallback is being tried): answered.
        "RATELIMIT_SWALLOW_ERRORS": True,
    }


limiter = Limiter(key_func=client_key)
