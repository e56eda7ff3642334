"""Forwarding figures (B3, B4): events published to topic ``events`` until their partner has them,
against the Pub/Sub emulator pushing the same messages to the same place without the forwarder.

Each kind gets a partner with only that destination, so the forwarder of that kind delivers and
the other two acknowledge ("nothing to deliver"), as in production. The baselines:
- webhook: a push subscription whose endpoint is the webhook sink itself;
- mongodb, gcs: a push subscription to bench/baselines/raw_mongodb or raw_gcs, which make the same
  write with the raw client, served with the forwarder's THREADS.
A run publishes a burst of N events and waits until all N are there: events/s is N over the time
from the first publish to the last arrival; webhook delays (sink receipt minus publish) include the
burst's queueing.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import requests

from shared.events.message import event_message
from tools.bench.scenarios import fresh_event
from tools.bench.servers import BASELINE_FUNCTIONS, BenchStack
from tools.forwarding_local import MONGODB_URI_ENV, WEBHOOK_SECRET_ENV, apply_local_partner, create_bucket

DIRECT_HOOK = "/hooks/bench-direct"
FORWARDED_BUCKET = "bench-forwarded"
RAW_BUCKET = "bench-raw"
DATABASE = "bench"
POLL_SECONDS = {"webhook": 0.5, "mongodb": 0.05, "gcs": 0.1}


@dataclass(frozen=True)
class FlowRun:
    events: int
    arrived: int
    seconds: float
    delays_ms: list[float]

    def measures(self) -> dict[str, float]:
        ordered = sorted(self.delays_ms) or [0.0]
        return {"events_per_s": self.arrived / self.seconds if self.seconds else 0.0,
                "delay_p50_ms": ordered[len(ordered) // 2], "delay_p99_ms": ordered[int(0.99 * (len(ordered) - 1))],
                "lost": float(self.events - self.arrived)}


class Flows:
    """The partners, buckets, baseline functions and subscriptions of B3 and B4."""

    def __init__(self, bench: BenchStack):
        from google.cloud import pubsub_v1, storage
        from pymongo import MongoClient

        self.bench = bench
        info = bench.info
        self.sink = info["webhook_sink"]
        project = self.project = bench.stack.project_id
        self.storage = storage.Client(project=project)
        self.mongo = MongoClient(info["emulators"]["mongodb"])
        self.publisher = pubsub_v1.PublisherClient()
        for bucket in (FORWARDED_BUCKET, RAW_BUCKET):
            create_bucket(project, bucket)
        hook = {"id": "bench-webhook", "kind": "webhook", "url": f"{self.sink}/hooks/bench-webhook",
                "signingSecrets": [f"env:{WEBHOOK_SECRET_ENV}"], "timeoutSeconds": 5}
        mongodb = {"id": "bench-mongodb", "kind": "mongodb", "connectionString": f"env:{MONGODB_URI_ENV}",
                   "database": DATABASE, "collection": "forwarded"}
        gcs = {"id": "bench-gcs", "kind": "gcs", "bucket": FORWARDED_BUCKET, "prefix": "forwarded"}
        for kind, destination in (("webhook", hook), ("mongodb", mongodb), ("gcs", gcs)):
            apply_local_partner({"whitelabel": f"bench-{kind}", "name": f"bench {kind}", "destinations": [destination]})
        baselines = {b.name: b for b in BASELINE_FUNCTIONS}
        raw_mongodb = bench.start_baseline(baselines["raw_mongodb"], {
            "BENCH_MONGODB_URI": info["emulators"]["mongodb"], "BENCH_DATABASE": DATABASE, "BENCH_COLLECTION": "raw"})
        raw_gcs = bench.start_baseline(baselines["raw_gcs"], {"BENCH_BUCKET": RAW_BUCKET, "BENCH_PREFIX": "raw"})
        for kind, endpoint in (("webhook", self.sink + DIRECT_HOOK), ("mongodb", raw_mongodb + "/"),
                               ("gcs", raw_gcs + "/")):
            bench.create_push_subscription(f"bench-direct-{kind}", f"bench-direct-{kind}", endpoint)

    def run(self, kind: str, direct: bool, count: int, timeout: float) -> FlowRun:
        events = [fresh_event() for _ in range(count)]
        for event in events:
            event["data"]["whitelabel"] = event["data"]["ownerWhitelabel"] = f"bench-{kind}"
        ids = {e["eventId"] for e in events}
        topic = self.publisher.topic_path(self.project, f"bench-direct-{kind}" if direct else "events")
        started = time.time()
        published_at: dict[str, float] = {}
        futures = []
        for event in events:
            message = event_message(event, event["eventId"])
            published_at[event["eventId"]] = time.time()
            futures.append(self.publisher.publish(topic, message.data, **dict(message.attributes)))
        for future in futures:
            future.result(timeout=30)
        arrivals = self._await_arrivals(kind, direct, ids, started + timeout)
        last = max(arrivals.values(), default=time.time())
        delays = [(arrivals[i] - published_at[i]) * 1000 for i in arrivals] if kind == "webhook" else []
        return FlowRun(count, len(arrivals), last - started, delays)

    def _await_arrivals(self, kind: str, direct: bool, ids: set[str], deadline: float) -> dict[str, float]:
        """eventId -> when it arrived: the sink's receipt time for webhooks, else when seen."""
        arrivals: dict[str, float] = {}
        while time.time() < deadline:
            seen_at = time.time()
            for event_id, at in self._arrived(kind, direct, ids - set(arrivals)).items():
                arrivals[event_id] = at if at is not None else seen_at
            if len(arrivals) == len(ids):
                break
            time.sleep(POLL_SECONDS[kind])
        return arrivals

    def _arrived(self, kind: str, direct: bool, waiting: set[str]) -> dict[str, float | None]:
        if kind == "webhook":
            path = DIRECT_HOOK if direct else "/hooks/bench-webhook"
            deliveries = requests.get(f"{self.sink}/deliveries", params={"path": path}, timeout=30).json()["deliveries"]
            found = {}
            for delivery in deliveries:
                body = json.loads(delivery["body"])
                event = json.loads(base64.b64decode(body["message"]["data"])) if direct else body
                if event.get("eventId") in waiting:
                    found[event["eventId"]] = datetime.fromisoformat(delivery["receivedAt"]).timestamp()
            return found
        if kind == "mongodb":
            collection = self.mongo[DATABASE]["raw" if direct else "forwarded"]
            return {doc["_id"]: None for doc in collection.find({"_id": {"$in": list(waiting)}}, {"_id": 1})}
        bucket, prefix = (RAW_BUCKET, "raw/") if direct else (FORWARDED_BUCKET, "forwarded/")
        names = {blob.name.rsplit("/", 1)[-1].removesuffix(".json") for blob in self.storage.list_blobs(bucket, prefix=prefix)}
        return {event_id: None for event_id in waiting & names}


def run_flows(flows: Flows, runs: int, count: int, timeout: float,
              log: Callable[[str], None]) -> dict[str, list[dict[str, float]]]:
    """name -> [measures per run], baseline and forwarder of each kind interleaved."""
    results: dict[str, list[dict[str, float]]] = {}
    for kind in ("webhook", "mongodb", "gcs"):
        flows.run(kind, False, 10, timeout)  # warm-up: the forwarders' clients and partner caches
        flows.run(kind, True, 10, timeout)
        for index in range(runs):
            for direct in (True, False):
                name = f"{'direct' if direct else 'forward'}_{kind}"
                outcome = flows.run(kind, direct, count, timeout)
                results.setdefault(name, []).append(outcome.measures())
                log(f"  run {index + 1}/{runs} {name}: {outcome.arrived}/{outcome.events} in {outcome.seconds:.1f} s")
    return results
