"""SSRF guard for partner webhooks: which URLs and addresses a delivery may go to.

A webhook URL is partner input. It must be https, and every address its host resolves to must be
public: no loopback, private, link-local (169.254.169.254 is the metadata server), CGNAT,
unique-local, multicast, documentation or otherwise reserved range. The check runs when the
partner is registered and again on each delivery, on the very address the connection then uses
(shared.forwarding.destinations.webhook_client connects to that IP: no second DNS lookup an attacker could answer
differently). Loopback (and plain http to it) is allowed only by the explicit local-development
setting WEBHOOK_ALLOW_LOOPBACK, so the local stack can deliver to its sink.

The classification is pure (the ``ipaddress`` module, no I/O) and unit-tested range by range.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Callable, Iterable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Iterable[str]]

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# Ranges no webhook may reach, each with the reason given to the operator. Order matters only for
# the reason reported when ranges nest.
BLOCKED_IPV4: list[tuple[ipaddress.IPv4Network, str]] = [
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("0.0.0.0/8"), "'this network' (unspecified)"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("100.64.0.0/10"), "carrier-grade NAT (shared address space)"),
    (_V4("169.254.0.0/16"), "link-local (cloud metadata server)"),
    (_V4("192.0.0.0/24"), "IETF protocol assignments"),
    (_V4("192.0.2.0/24"), "documentation (TEST-NET-1)"),
    (_V4("198.51.100.0/24"), "documentation (TEST-NET-2)"),
    (_V4("203.0.113.0/24"), "documentation (TEST-NET-3)"),
    (_V4("192.88.99.0/24"), "6to4 relay anycast"),
    (_V4("198.18.0.0/15"), "benchmarking"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("255.255.255.255/32"), "broadcast"),
    (_V4("240.0.0.0/4"), "reserved"),
]
BLOCKED_IPV6: list[tuple[ipaddress.IPv6Network, str]] = [
    (_V6("::1/128"), "loopback"),
    (_V6("::/128"), "unspecified"),
    (_V6("::/96"), "IPv4-compatible (deprecated)"),
    (_V6("64:ff9b:1::/48"), "local-use NAT64"),
    (_V6("100::/64"), "discard-only"),
    (_V6("2001:db8::/32"), "documentation"),
    (_V6("2001::/23"), "IETF protocol assignments (Teredo, ORCHID, benchmarking)"),
    (_V6("fc00::/7"), "unique-local"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "site-local (deprecated)"),
    (_V6("ff00::/8"), "multicast"),
]
# IPv6 ranges that embed an IPv4 address: they are as reachable as the address they carry.
_IPV4_MAPPED = _V6("::ffff:0:0/96")
_NAT64 = _V6("64:ff9b::/96")


class BlockedDestination(Exception):
    """A webhook target the guard refuses; the message says why (never a secret: URLs are not
    logged, only hosts and addresses)."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in _IPV4_MAPPED:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour  # 2002::/16 carries the 6to4 gateway's IPv4 address


def is_loopback(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        return address == ipaddress.IPv6Address("::1") or (embedded is not None and embedded.is_loopback)
    return address.is_loopback


def blocked_reason(address: str | IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why a webhook may not connect to ``address``, or None when it may."""
    ip = ipaddress.ip_address(address)
    if allow_loopback and is_loopback(ip):
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            reason = blocked_reason(embedded)
            return f"embeds {embedded}, {reason}" if reason else None
        table: list = BLOCKED_IPV6
    else:
        table = BLOCKED_IPV4
    for network, reason in table:
        if ip in network:
            return reason
    if not ip.is_global:
        return "not a public address"
    return None


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return is_loopback(ipaddress.ip_address(host))
    except ValueError:
        return False


def url_problems(url: str, *, allow_loopback: bool = False) -> list[str]:
    """What is wrong with the form of a webhook URL (no DNS): https, a host, no credentials."""
    if not isinstance(url, str) or not url:
        return ["must be a URL"]
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        return [f"is not a valid URL ({exc})"]
    problems = []
    host = parts.hostname or ""
    if not host:
        problems.append("has no host")
    if parts.scheme != "https":
        if not (parts.scheme == "http" and allow_loopback and _is_loopback_host(host)):
            problems.append("must use https (plain http only to loopback, in local development)")
    if parts.username is not None or parts.password is not None:
        problems.append("must not carry credentials (the signing secret authenticates deliveries)")
    if parts.fragment:
        problems.append("must not have a #fragment")
    return problems


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve_checked(host: str, port: int, *, allow_loopback: bool = False,
                    resolver: Resolver = system_resolver) -> str:
    """Resolve ``host`` once and return the address to connect to.

    Every address of the host must pass: a name that resolves to one public and one private
    address is refused, whichever one a connection would have picked."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = list(resolver(host, port))
        except (OSError, UnicodeError) as exc:
            raise BlockedDestination(f"{host} does not resolve ({type(exc).__name__})") from None
        if not addresses:
            raise BlockedDestination(f"{host} does not resolve")
    for address in addresses:
        reason = blocked_reason(address.split("%", 1)[0], allow_loopback=allow_loopback)
        if reason:
            shown = address if literal is not None else f"{host} resolves to {address}"
            raise BlockedDestination(f"{shown}: {reason} address")
    return addresses[0]


def check_webhook_url(url: str, *, allow_loopback: bool = False, resolver: Resolver = system_resolver) -> list[str]:
    """Registration-time check: the URL's form, then the addresses its host resolves to now."""
    problems = url_problems(url, allow_loopback=allow_loopback)
    if problems:
        return problems
    parts = urlsplit(url)
    try:
        resolve_checked(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80),
                        allow_loopback=allow_loopback, resolver=resolver)
    except BlockedDestination as exc:
        return [str(exc)]
    return []
