"""gunicorn's access log without whole client addresses (gunicorn.conf.py sets it as the
logger class unless DIGITPAD_ACCESS_LOG_ADDRESSES=full).

An address in a log is personal data kept as long as the log is: the `h` atom (the client's
address) is written as its network, an IPv4 address as its /24 and an IPv6 address as its /48,
enough to see where a flood comes from, not which person sent a request.
"""

import ipaddress

from gunicorn.glogging import Logger

IPV4_PREFIX = 24
IPV6_PREFIX = 48


def truncated_address(address):
    """"203.0.113.77" -> "203.0.113.0/24", "2001:db8:1:2::5" -> "2001:db8:1::/48"; anything
    that is not an address ("-", a Unix socket's name) as it is."""
    try:
        parsed = ipaddress.ip_address(str(address).split("%", 1)[0])
    except ValueError:
        return address
    if parsed.version == 6 and parsed.ipv4_mapped:
        parsed = parsed.ipv4_mapped
    prefix = IPV4_PREFIX if parsed.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{parsed}/{prefix}", strict=False))


class TruncatedAddressLogger(Logger):
    """gunicorn's logger, with the client's address truncated in the access log."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["h"] = truncated_address(atoms["h"])
        # The same address as an environ atom (%({remote_addr}e)s), should a format use it.
        if "{remote_addr}e" in atoms:
            atoms["{remote_addr}e"] = atoms["h"]
        return atoms
