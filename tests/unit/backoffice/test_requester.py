"""Where a request comes from: peer or trusted-proxy address, and the REST channel's metadata."""
from __future__ import annotations

import pytest

from backoffice.core.requester import exempt, limit_key, networks, parse_ip, peer_address


@pytest.mark.parametrize("remote,forwarded,proxies,expected", [
    ("203.0.113.7", None, 0, "203.0.113.7"),
    ("10.0.0.2", "198.51.100.1", 0, "10.0.0.2"),  # no trusted proxy: the header is the client's own claim
    ("10.0.0.2", "198.51.100.1", 1, "198.51.100.1"),
    ("10.0.0.2", "1.2.3.4, 198.51.100.1", 1, "198.51.100.1"),  # the left entry was sent by the client
    ("10.0.0.3", "1.2.3.4, 198.51.100.1, 10.0.0.2", 2, "198.51.100.1"),
    ("10.0.0.2", "not-an-ip", 1, "unknown"),
    ("10.0.0.2", "", 1, "10.0.0.2"),
    (None, None, 0, "unknown"),
])
def test_peer_address(remote, forwarded, proxies, expected):
    assert peer_address(remote, forwarded, proxies) == expected


def test_addresses_are_normalised_and_exemptions_are_networks():
    assert parse_ip(" 2001:DB8::1 ") == "2001:db8::1" and parse_ip("203.0.113.7\n") == "203.0.113.7"
    assert parse_ip("203.0.113.7; DROP") is None and parse_ip(None) is None
    assert exempt("127.0.0.5", networks(["127.0.0.0/8"])) and exempt("::1", networks(["::1/128"]))
    assert not exempt("203.0.113.7", networks(["127.0.0.0/8", "::1/128"]))


def test_ipv6_customers_are_limited_per_64():
    assert parse_ip("::ffff:203.0.113.7") == "203.0.113.7"
    assert limit_key("2001:db8:1:2::1") == limit_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")
    assert limit_key("203.0.113.7") == "203.0.113.7"
