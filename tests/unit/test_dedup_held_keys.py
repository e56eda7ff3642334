"""The beacon's per-instance memory of held dedup keys: pure logic, with a clock the test moves
(tests/integration/test_beacon_dedup.py checks it against Firestore)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shared.retail_media import dedup
from shared.retail_media.dedup import _HeldKeys

START = datetime(2026, 5, 4, 10, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def test_a_key_is_remembered_until_its_expiry_exclusive() -> None:
    clock = Clock()
    held = _HeldKeys(clock)
    holder = {"claimId": "c1", "expireAt": START + timedelta(seconds=60)}
    held.remember("k", holder)
    clock.now = START + timedelta(seconds=60) - timedelta(microseconds=1)
    assert held.all_of(["k"]) == holder
    clock.now = START + timedelta(seconds=60)
    assert held.all_of(["k"]) is None


def test_every_key_must_be_remembered() -> None:
    held = _HeldKeys(Clock())
    held.remember("session", {"claimId": "c1", "expireAt": START + timedelta(seconds=60)})
    assert held.all_of(["session", "user"]) is None
    assert held.all_of([]) is None
    held.remember("user", {"claimId": "c1", "expireAt": START + timedelta(seconds=60)})
    assert held.all_of(["session", "user"])["claimId"] == "c1"


def test_a_holder_without_an_expiry_is_not_remembered() -> None:
    held = _HeldKeys(Clock())
    held.remember("k", {"claimId": "c1"})
    assert held.all_of(["k"]) is None


def test_memory_is_bounded_least_recently_used_first_out(monkeypatch) -> None:
    monkeypatch.setattr(dedup, "HELD_KEYS_REMEMBERED", 2)
    held = _HeldKeys(Clock())
    for key in ("a", "b"):
        held.remember(key, {"expireAt": START + timedelta(seconds=60)})
    assert held.all_of(["a"]) is not None  # "a" used: "b" is now the least recently used
    held.remember("c", {"expireAt": START + timedelta(seconds=60)})
    assert held.all_of(["b"]) is None
    assert held.all_of(["a"]) is not None and held.all_of(["c"]) is not None
