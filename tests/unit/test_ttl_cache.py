"""The per-process TTL cache behind partner and secret lookups."""

from __future__ import annotations

from shared.platform.ttl_cache import TtlCache


def test_values_absent_ones_included_are_reused_until_they_expire():
    now = [0.0]
    loads: list[str] = []
    cache: TtlCache[str | None] = TtlCache(5, clock=lambda: now[0])

    def load(key: str) -> str | None:
        loads.append(key)
        return None if key == "unknown" else key.upper()

    assert cache.get("a", lambda: load("a")) == "A"
    assert cache.get("unknown", lambda: load("unknown")) is None
    now[0] = 4.9
    assert cache.get("a", lambda: load("a")) == "A" and cache.get("unknown", lambda: load("unknown")) is None
    assert loads == ["a", "unknown"]
    now[0] = 5.0
    assert cache.get("a", lambda: load("a")) == "A"
    assert loads == ["a", "unknown", "a"]


def test_a_failed_load_is_not_cached():
    cache: TtlCache[str] = TtlCache(60)

    def failing() -> str:
        raise RuntimeError("unavailable")

    try:
        cache.get("k", failing)
    except RuntimeError:
        pass
    assert cache.get("k", lambda: "loaded") == "loaded"
