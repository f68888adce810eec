"""Where a request comes from: the customer's IP address, for the per-IP limits.

Two ways in:
* Requests the customer's browser makes to the back-office itself (uploads, H5 pages, the console): the peer
  address, or behind `HALL_PROXIES_COUNT` trusted reverse proxies the address they appended to
  X-Forwarded-For (the n-th from the right; anything further left is the client's own claim).
* Bot-API requests come from the action server on behalf of a conversation: the REST channel put the
  customer's address into the message metadata (connectors/rest.py), the action passes it as `client_ip`, and
  the bot API sets it here for the request (a context variable: it follows the request into the thread that
  runs the service call). WeChat messages come from Tencent's servers: they carry none, the openid is the key.
"""
from __future__ import annotations

import ipaddress
from contextvars import ContextVar

_CLIENT_IP: ContextVar[str | None] = ContextVar("hall_client_ip", default=None)


def parse_ip(raw) -> str | None:
    """A normalised IP address (IPv4-mapped IPv6 as IPv4), or None for anything else."""
    try:
        address = ipaddress.ip_address(str(raw or "").strip())
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


def limit_key(ip: str) -> str:
    """What a per-IP limit counts: the address, or for IPv6 its /64 (one subscriber's usual allocation)."""
    address = ipaddress.ip_address(ip)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def set_client_ip(raw) -> None:
    _CLIENT_IP.set(parse_ip(raw))


def client_ip() -> str | None:
    return _CLIENT_IP.get()


def peer_address(remote: str | None, forwarded_for: str | None, proxies: int) -> str:
    """The client's address of a request that reached us directly or through `proxies` trusted proxies."""
    if proxies > 0 and forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return parse_ip(hops[-proxies]) or "unknown"
    return parse_ip(remote) or "unknown"


def networks(values) -> list:
    """Networks from strings ("10.0.0.0/8", "::1"); a typo raises ValueError (at start-up, where they are read)."""
    return [ipaddress.ip_network(str(v).strip(), strict=False) for v in values if str(v).strip()]


def exempt(ip: str, nets: list) -> bool:
    """Addresses the per-IP code limits leave alone (the local simulator, an app backend on the same host)."""
    address = ipaddress.ip_address(ip)
    return any(address in net for net in nets)
