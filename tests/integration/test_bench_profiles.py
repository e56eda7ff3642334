"""The profiling tools of tools/bench run against the real emulators: what they print are
measurements of work that succeeded (nothing here is timed: benchmarks are never timed tests)."""

from __future__ import annotations

import re

from tools.bench import beacon_profile
from tools.stack import LocalStack

LINE = re.compile(r"round 1 (?P<name>.+?) +wall p50 (?P<wall>[\d.]+) ms, CPU here (?P<cpu>[\d.]+) ms, "
                  r"Firestore emulator CPU (?P<emulator>[\d.]+) ms")


def test_beacon_profile_measures_the_beacon_and_the_raw_create_against_the_emulator(local_stack: LocalStack) -> None:
    emulator = next(c.process.pid for c in local_stack.children if c.name == "firestore-emulator")
    # Enough requests for the emulator's CPU to span many clock ticks (/proc counts in 10 ms ticks).
    lines = beacon_profile.measure(emulator, requests=60, rounds=1, warm_up=2)
    found = {m["name"]: m for m in map(LINE.fullmatch, lines) if m}
    assert set(found) == {"raw Firestore create", "beacon impression, new"}, lines
    for match in found.values():
        assert float(match["wall"]) > 0 and float(match["cpu"]) > 0
        assert float(match["emulator"]) > 0, "the emulator's process group did the writes"
