"""SSRF guard: address classification range by range, URL form, resolution. Pure: no connection
is opened and no real DNS is asked (resolvers are stubs)."""

from __future__ import annotations

import ipaddress

import pytest

from shared.forwarding.destinations.webhook_guard import (
    BLOCKED_IPV4,
    BLOCKED_IPV6,
    BlockedDestination,
    blocked_reason,
    check_webhook_url,
    resolve_checked,
    url_problems,
)

# For every blocked range: its first address, one inside, its last. Spelt out (not only derived
# from the tables) so a range dropped from a table fails here.
BLOCKED_SAMPLES = {
    "loopback": ["127.0.0.0", "127.0.0.1", "127.255.255.255", "::1"],
    "this network": ["0.0.0.0", "0.1.2.3", "0.255.255.255"],
    "private": ["10.0.0.0", "10.20.30.40", "10.255.255.255", "172.16.0.0", "172.20.1.1", "172.31.255.255",
                "192.168.0.0", "192.168.1.1", "192.168.255.255"],
    "carrier-grade NAT": ["100.64.0.0", "100.100.100.100", "100.127.255.255"],
    "link-local": ["169.254.0.0", "169.254.169.254", "169.254.255.255", "fe80::", "fe80::1", "febf:ffff::1"],
    "IETF protocol assignments": ["192.0.0.0", "192.0.0.170", "192.0.0.255", "2001::", "2001:0:4136:e378::1",
                                  "2001:1ff:ffff::1"],
    "documentation": ["192.0.2.0", "192.0.2.1", "192.0.2.255", "198.51.100.7", "203.0.113.200", "2001:db8::1",
                      "2001:db8:ffff::1"],
    "6to4 relay anycast": ["192.88.99.0", "192.88.99.1", "192.88.99.255"],
    "benchmarking": ["198.18.0.0", "198.18.5.5", "198.19.255.255"],
    "multicast": ["224.0.0.0", "224.0.0.251", "239.255.255.255", "ff00::", "ff02::1", "ffff:ffff::1"],
    "broadcast": ["255.255.255.255"],
    "reserved": ["240.0.0.0", "250.1.2.3", "255.255.255.254"],
    "unspecified": ["::"],
    "IPv4-compatible": ["::7f00:1", "::a00:1"],
    "local-use NAT64": ["64:ff9b:1::", "64:ff9b:1:ffff::1"],
    "discard-only": ["100::", "100::ffff:ffff:ffff:ffff"],
    "unique-local": ["fc00::", "fd12:3456:789a::1", "fdff:ffff::1"],
    "site-local": ["fec0::1", "feff::1"],
}
# IPv6 addresses that embed a blocked IPv4 address (IPv4-mapped, NAT64, 6to4).
EMBEDDED_BLOCKED = ["::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:100.64.0.1",
                    "64:ff9b::a00:1", "64:ff9b::a9fe:a9fe", "2002:a00:1::1", "2002:7f00:1::1", "2002:c0a8:101::1"]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.0", "172.15.255.255",
          "172.32.0.0", "192.167.255.255", "192.169.0.0", "198.17.255.255", "198.20.0.0", "223.255.255.255",
          "2001:4860:4860::8888", "2606:4700:4700::1111", "2a00:1450:4001::1",
          "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"]


def _samples():
    for reason, addresses in BLOCKED_SAMPLES.items():
        for address in addresses:
            yield pytest.param(address, reason, id=f"{reason}-{address}")


@pytest.mark.parametrize("address, reason", list(_samples()))
def test_every_blocked_range_is_refused_with_its_reason(address, reason):
    found = blocked_reason(address)
    assert found is not None and reason.split(" (")[0] in found


def test_every_table_range_is_covered_by_the_samples():
    sampled = [ipaddress.ip_address(a) for addresses in BLOCKED_SAMPLES.values() for a in addresses]
    for network, _ in BLOCKED_IPV4 + BLOCKED_IPV6:
        assert any(a in network for a in sampled), f"no sample in {network}"
        assert blocked_reason(network[0]) and blocked_reason(network[-1]), network


@pytest.mark.parametrize("address", EMBEDDED_BLOCKED)
def test_ipv6_forms_that_embed_a_blocked_ipv4_address_are_refused(address):
    assert "embeds" in blocked_reason(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address):
    assert blocked_reason(address) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"])
def test_loopback_is_allowed_only_by_the_development_setting(address):
    assert blocked_reason(address) is not None
    assert blocked_reason(address, allow_loopback=True) is None


@pytest.mark.parametrize("address", ["10.0.0.1", "169.254.169.254", "192.168.1.1", "fd00::1", "0.0.0.0", "::"])
def test_the_development_setting_allows_loopback_and_nothing_else(address):
    assert blocked_reason(address, allow_loopback=True) is not None


@pytest.mark.parametrize("url, problem", [
    ("http://partner.example/hook", "must use https"),
    ("ftp://partner.example/hook", "must use https"),
    ("https:///hook", "has no host"),
    ("https://user:pw@partner.example/hook", "must not carry credentials"),
    ("https://partner.example/hook#part", "must not have a #fragment"),
    ("https://partner.example:99999/hook", "is not a valid URL"),
    ("", "must be a URL"),
])
def test_url_form_problems(url, problem):
    assert any(problem in p for p in url_problems(url))


def test_plain_http_only_to_loopback_and_only_in_local_development():
    assert url_problems("https://partner.example/hook") == []
    assert url_problems("http://127.0.0.1:8080/hook", allow_loopback=True) == []
    assert url_problems("http://localhost:8080/hook", allow_loopback=True) == []
    assert url_problems("http://[::1]:8080/hook", allow_loopback=True) == []
    assert url_problems("http://127.0.0.1:8080/hook") != []
    assert url_problems("http://partner.example/hook", allow_loopback=True) != []


class StubResolver:
    def __init__(self, *answers: list[str]):
        self.answers = list(answers)
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


def test_a_name_is_resolved_once_and_its_checked_address_returned():
    resolver = StubResolver(["93.184.216.34"], ["127.0.0.1"])
    assert resolve_checked("partner.example", 443, resolver=resolver) == "93.184.216.34"
    assert resolver.calls == [("partner.example", 443)]


def test_a_name_with_any_blocked_address_is_refused():
    resolver = StubResolver(["93.184.216.34", "10.1.2.3"])
    with pytest.raises(BlockedDestination, match="partner.example resolves to 10.1.2.3: private"):
        resolve_checked("partner.example", 443, resolver=resolver)


def test_a_name_resolving_to_the_metadata_server_is_refused():
    with pytest.raises(BlockedDestination, match="link-local"):
        resolve_checked("metadata.example", 80, resolver=StubResolver(["169.254.169.254"]))


def test_an_address_literal_is_checked_without_resolving():
    resolver = StubResolver(["93.184.216.34"])
    with pytest.raises(BlockedDestination, match="loopback"):
        resolve_checked("127.0.0.1", 443, resolver=resolver)
    with pytest.raises(BlockedDestination, match="unique-local"):
        resolve_checked("[fd00::1]", 443, resolver=resolver)
    assert resolver.calls == []


def test_unresolvable_names_are_refused():
    def fails(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    with pytest.raises(BlockedDestination, match="does not resolve"):
        resolve_checked("nowhere.example", 443, resolver=fails)
    with pytest.raises(BlockedDestination, match="does not resolve"):
        resolve_checked("nowhere.example", 443, resolver=StubResolver([]))


def test_registration_check_combines_form_and_resolution():
    public = StubResolver(["93.184.216.34"])
    private = StubResolver(["192.168.0.10"])
    assert check_webhook_url("https://partner.example/hook", resolver=public) == []
    assert "private" in check_webhook_url("https://partner.example/hook", resolver=private)[0]
    assert "must use https" in check_webhook_url("http://partner.example/hook", resolver=public)[0]
    assert check_webhook_url("http://127.0.0.1:9/hook", allow_loopback=True, resolver=public) == []
