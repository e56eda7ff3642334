"""HTTP figures driven by wrk: ingest (B1, B2), beacon (B5), monitor events, and their baselines.

The scenarios of one group run interleaved, run 1 of each, then run 2 of each, ..., so a change
of the machine's load over the run touches a figure and its baseline alike. Every scenario gets
one short unmeasured run first (imports, connections, the API key cache).
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import requests

from tools.bench import wrk
from tools.bench.servers import BenchStack
from tools.stack import REPO_ROOT

EXAMPLE_EVENT = json.loads((REPO_ROOT / "examples/events/user.interaction.view.json").read_text())
JSON_HEADERS = {"Content-Type": "application/json"}
BATCH_SIZES = (100, 500)
# A display ad: an impression of it writes its dedup key and one ad_events record, no touchpoint.
BENCH_AD = "ad-display-1"
WARM_UP_SECONDS = 1.0


@dataclass(frozen=True)
class HttpScenario:
    name: str
    target: str  # BenchStack.urls key
    load: wrk.Load
    items_per_request: int = 1


def fresh_event() -> dict[str, Any]:
    event = copy.deepcopy(EXAMPLE_EVENT)
    event["eventId"] = str(uuid.uuid4())
    event["eventDate"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return event


def _json(document: Any) -> bytes:
    return json.dumps(document).encode("utf-8")


def ingest_group(bench: BenchStack) -> list[HttpScenario]:
    auth = {**JSON_HEADERS, "Authorization": f"Bearer {bench.info['dev_api_key']}"}
    single = _json(fresh_event())
    group = [
        HttpScenario("noop", "noop", wrk.Load("POST", "/", single, JSON_HEADERS)),
        HttpScenario("raw_publish", "raw_publish", wrk.Load("POST", "/", single, JSON_HEADERS)),
        HttpScenario("ingest_single", "ingest", wrk.Load("POST", "/v1/events", single, auth)),
        HttpScenario("monitor_event", "monitor", _monitor_event_load(bench)),
    ]
    for size in BATCH_SIZES:
        batch = _json([fresh_event() for _ in range(size)])
        group += [
            HttpScenario(f"raw_batch_publish_{size}", "raw_batch_publish", wrk.Load("POST", "/", batch, JSON_HEADERS),
                         size),
            HttpScenario(f"ingest_batch_{size}", "ingest", wrk.Load("POST", "/v1/events/batch", batch, auth), size),
        ]
    return group


def _monitor_event_load(bench: BenchStack) -> wrk.Load:
    """An occurrence of the example event type (examples/monitor) by a user created for the bench."""
    auth = {**JSON_HEADERS, "Authorization": f"Bearer {bench.info['dev_api_key']}"}
    answer = requests.post(bench.urls["monitor"] + "/v1/users", json={}, headers=auth, timeout=30)
    answer.raise_for_status()
    track_id = answer.json()["lum_user"]["trackId"]
    body = {"lum_user": {"trackId": track_id}, "courseId": "course-1", "score": 9.5, "tags": ["intro"]}
    return wrk.Load("POST", "/v1/events/course.completed/data", _json(body), auth)


def beacon_group() -> list[HttpScenario]:
    ad_path = f"/v1/beacon/impression/{BENCH_AD}"
    new_identity = _json({"session_id": "s-{{unique}}", "user_id": "u-{{unique}}"})
    # The same user every time: after the first request (in the warm-up) every one is a duplicate.
    duplicate = _json({"session_id": "s-dup", "user_id": f"u-dup-{uuid.uuid4().hex}"})
    conversion = _json({
        "channel": "ecommerce", "publisher_id": "demo-publisher", "user_id": "u-{{unique}}",
        "session_id": "s-{{unique}}", "order_id": "o-{{unique}}", "email_hashed": "0" * 64,
        "items": [{"sku": "SKU-004", "seller_id": None, "product_id": None, "quantity": 1, "price": 110.0,
                   "promotional_price": 99.9}],
        "created_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    })
    return [
        HttpScenario("raw_firestore", "raw_firestore", wrk.Load("POST", "/", new_identity, JSON_HEADERS)),
        HttpScenario("beacon_impression_new", "beacon", wrk.Load("POST", ad_path, new_identity, JSON_HEADERS)),
        HttpScenario("beacon_impression_duplicate", "beacon", wrk.Load("POST", ad_path, duplicate, JSON_HEADERS)),
        HttpScenario("beacon_conversion", "beacon", wrk.Load("POST", "/v1/beacon/conversion", conversion,
                                                            JSON_HEADERS)),
    ]


def run_group(bench: BenchStack, group: list[HttpScenario], runs: int, seconds: float, connections: int,
              log: Callable[[str], None]) -> dict[str, list[dict[str, float]]]:
    """Each scenario's runs, interleaved with the others of its group: name -> [measures per run]."""
    for scenario in group:
        wrk.run(bench.urls[scenario.target], scenario.load, WARM_UP_SECONDS, connections)
    results: dict[str, list[dict[str, float]]] = {s.name: [] for s in group}
    for index in range(runs):
        for scenario in group:
            outcome = wrk.run(bench.urls[scenario.target], scenario.load, seconds, connections)
            results[scenario.name].append(outcome.measures(scenario.items_per_request))
            log(f"  run {index + 1}/{runs} {scenario.name}: {outcome.per_second * scenario.items_per_request:,.0f} "
                f"items/s, p99 {outcome.p99_ms:.0f} ms" + (f", {outcome.errors} errors" if outcome.errors else ""))
    return results
