"""Where a new beacon impression's time goes, beside a raw Firestore create (B5), measured.

    python -m tools.bench.beacon_profile [--requests 300] [--rounds 3]

Starts the emulators and servers of the local stack (no function process), registers a display
campaign, and runs in this process, one at a time and in interleaved rounds: the beacon's own
answer to an impression with a new session and user (``BeaconService``, as the function wires it,
with INFO log lines written to /dev/null), and what ``bench/baselines/raw_firestore`` does
(``json.loads`` and one document ``create()``). For each it prints the wall time per request
(p50), this thread's CPU, and the CPU the Firestore emulator spent per request (its process
group's, from /proc): on the 2-core machine the bench stack is CPU-bound, so the sum of the two
CPUs is what sets throughput there.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

from tools.bench.forwarder_profile import process_cpu_seconds

WARM_UP_REQUESTS = 100  # the emulator's JIT, the clients, the ad cache


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.beacon_profile", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="requests measured per round (default 300)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    args = parser.parse_args()

    from tools.stack import LocalStack

    os.environ["LOG_LEVEL"] = "INFO"
    stack = LocalStack(state_dir=Path(tempfile.mkdtemp(prefix="beacon-profile-")), log=lambda _: None)
    try:
        stack.start_servers()
        emulator_group = next(c.process.pid for c in stack.children if c.name == "firestore-emulator")
        for line in measure(emulator_group, args.requests, args.rounds):
            print(line, flush=True)
    finally:
        stack.stop()
    return 0


def measure(emulator_group: int, requests: int, rounds: int, warm_up: int = WARM_UP_REQUESTS) -> list[str]:
    """One line per round and scenario; ``emulator_group``: the Firestore emulator's process group."""
    from google.cloud import firestore

    from shared.platform import logs
    from shared.platform.clock import utc_now
    from shared.platform.http import Request
    from shared.retail_media.beacon import BeaconService
    from shared.retail_media.campaigns import AdLookup, Campaign, CampaignStore
    from shared.retail_media.settings import AttributionSettings, BeaconSettings

    logs.configure("INFO")
    logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))
    db = firestore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    suffix = uuid.uuid4().hex[:8]
    ad_id = f"ad-profile-{suffix}"
    CampaignStore(db).apply(Campaign(f"c-profile-{suffix}", "pub-profile", "display", ("SKU-1",), (ad_id,), "profile"))
    settings = BeaconSettings.from_env()
    service = BeaconService(settings, db, AdLookup(CampaignStore(db).ad, settings.campaign_cache_seconds),
                            lambda messages: [], utc_now, AttributionSettings.from_env())

    def new_identity() -> bytes:
        unique = uuid.uuid4().hex
        return json.dumps({"session_id": f"s-{unique}", "user_id": f"u-{unique}"}).encode()

    def beacon() -> None:
        answer = service.api.answer(Request("POST", f"/v1/beacon/impression/{ad_id}",
                                            {"Content-Type": "application/json"}, {}, "127.0.0.1", new_identity(), False))
        if answer.status != 202:
            raise RuntimeError(f"the beacon answered {answer.status}: {answer.body}")

    def raw_create() -> None:
        db.collection("bench_raw_firestore").document().create(json.loads(new_identity()))

    scenarios: dict[str, Callable[[], None]] = {"raw Firestore create": raw_create, "beacon impression, new": beacon}
    for work in scenarios.values():
        for _ in range(warm_up):
            work()
    lines = []
    for round_number in range(1, rounds + 1):
        for name, work in scenarios.items():
            walls = []
            cpu_before, emulator_before = time.thread_time(), process_cpu_seconds().get(emulator_group, 0.0)
            for _ in range(requests):
                started = time.perf_counter()
                work()
                walls.append(time.perf_counter() - started)
            client_ms = (time.thread_time() - cpu_before) / requests * 1e3
            emulator_ms = (process_cpu_seconds().get(emulator_group, 0.0) - emulator_before) / requests * 1e3
            lines.append(f"round {round_number} {name:24s} wall p50 {statistics.median(walls) * 1e3:.2f} ms, "
                         f"CPU here {client_ms:.2f} ms, Firestore emulator CPU {emulator_ms:.2f} ms")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
