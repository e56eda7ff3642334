"""``make bench`` (second part): one partner's outage against another partner's deliveries.

The scenario of issue 16 on the local stack: two partners with one webhook each on the stack's
sink. A healthy partner gets an event every ``--interval`` seconds throughout; a failing partner
gets ``--failing-rate`` events per second. First both are healthy (the baseline); then the
failing partner's webhook answers 500 for ``--outage`` seconds, half of that time only after
hanging past the forwarder's timeout; then it recovers. Measured, never asserted:

- the healthy partner's delivery latency (ingest request sent -> the sink received it), p50/p99,
  at baseline and during the outage;
- how long after the recovery the failing partner's last event was delivered (its drain), against
  the retry policy's longest wait (FORWARD_MAX_BACKOFF_SECONDS: one retry interval);
- events left neither delivered nor held when the run ends (must be 0).

Requests go to 127.0.0.1 only, in bounded loops. `--json FILE` also writes the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import requests
from google.cloud import firestore

from shared.events.message import encode_event
from shared.forwarding.delivery_log import DeliveryLog
from tools.forwarding_local import apply_local_partner, local_partner
from tools.stack import DEFAULT_STATE_DIR, LocalStack

EXAMPLE = json.loads((Path(__file__).resolve().parent.parent / "examples/events/user.interaction.view.json").read_text())
WEBHOOK_TIMEOUT_SECONDS = 5  # local_partner's timeoutSeconds
# The platform's retry settings for the run: a short schedule, as in the tests, so the outage and
# drain fit in minutes; 30 attempts as in production, so the outage does not exhaust them.
RETRY_ENV = {"FORWARD_MIN_BACKOFF_SECONDS": "1", "FORWARD_MAX_BACKOFF_SECONDS": "5", "FORWARD_MAX_ATTEMPTS": "30",
             "FORWARD_CIRCUIT_OPEN_SECONDS": "2", "FORWARD_REDRIVE_LEASE_SECONDS": "30"}


class Partner:
    def __init__(self, info: dict, name: str):
        self.whitelabel = f"bench-{name}-{uuid.uuid4().hex[:8]}"
        self.path = f"/hooks/{self.whitelabel}"
        self.sink = info["webhook_sink"]
        config = local_partner(self.whitelabel, self.sink)
        config["destinations"] = [d for d in config["destinations"] if d["kind"] == "webhook"]
        apply_local_partner(config)
        self.ingest = info["functions"]["ingest"] + "/v1/events"
        self.key = info["dev_api_key"]
        self.sent: dict[str, float] = {}  # eventId -> epoch seconds the request was sent
        self.lock = threading.Lock()

    def send(self) -> None:
        event = {**EXAMPLE, "eventId": str(uuid.uuid4()),
                 "data": {**EXAMPLE["data"], "whitelabel": self.whitelabel, "ownerWhitelabel": self.whitelabel}}
        started = time.time()
        answer = requests.post(self.ingest, data=encode_event(event), timeout=30,
                               headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"})
        if answer.status_code == 200:
            with self.lock:
                self.sent[event["eventId"]] = started

    def fail(self, times: int, status: int = 500, delay: float = 0.0) -> None:
        requests.post(f"{self.sink}/control/fail", params={"path": self.path, "times": times, "status": status,
                                                           "delay": delay}, timeout=5).raise_for_status()

    def delivered_at(self) -> dict[str, float]:
        """eventId -> when the sink received its accepted delivery."""
        found = requests.get(f"{self.sink}/deliveries", params={"path": self.path}, timeout=30).json()["deliveries"]
        return {d["webhookId"]: datetime.fromisoformat(d["receivedAt"]).timestamp()
                for d in found if d["answeredStatus"] == 200}



def percentile(values: list[float], q: float) -> float:
    """The value at quantile ``q`` of ``values`` (nearest rank): with few samples, p99 is the slowest."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(figures: dict, json_file: Path | None) -> None:
    """Print the figures as a table, and write them to ``json_file`` when given."""
    for name, value in figures.items():
        print(f"{name:<34} {value}")
    if json_file:
        json_file.write_text(json.dumps(figures, indent=2) + "\n")

def _send_every(partner: Partner, interval: float, until: float, pool: ThreadPoolExecutor) -> None:
    next_at = time.monotonic()
    while next_at < until:
        pool.submit(partner.send)
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))


def _phase(partners: list[tuple[Partner, float]], seconds: float, pool: ThreadPoolExecutor) -> tuple[float, float]:
    """Send for ``seconds``; returns the phase's (start, end) as epoch seconds."""
    start_epoch, until = time.time(), time.monotonic() + seconds
    senders = [threading.Thread(target=_send_every, args=(p, interval, until, pool)) for p, interval in partners]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    return start_epoch, time.time()


def _latencies(partner: Partner, delivered: dict[str, float], start: float, end: float) -> list[float]:
    return [delivered[i] - sent for i, sent in partner.sent.items() if start <= sent < end and i in delivered]


def _summary(values: list[float]) -> dict:
    if not values:
        return {"events": 0}
    return {"events": len(values), "p50_s": round(percentile(values, 0.5), 2),
            "p99_s": round(percentile(values, 0.99), 2), "max_s": round(max(values), 2)}


def run(baseline: float, outage: float, interval: float, failing_rate: float, drain_limit: float) -> dict:
    stack = LocalStack(state_dir=DEFAULT_STATE_DIR / "bench-forwarding", function_env=RETRY_ENV, log=lambda _: None)
    info = stack.start()
    try:
        healthy, failing = Partner(info, "healthy"), Partner(info, "failing")
        log = DeliveryLog(firestore.Client(project=info["project_id"]), keep_days=30)
        traffic = [(healthy, interval), (failing, 1 / failing_rate)]
        with ThreadPoolExecutor(16) as pool:
            for _ in range(5):  # warm-up: imports, channels, caches
                healthy.send(), failing.send()
            base = _phase(traffic, baseline, pool)
            failing.fail(1_000_000, delay=WEBHOOK_TIMEOUT_SECONDS + 2)  # first half: hangs past the timeout
            first_half = _phase(traffic, outage / 2, pool)
            failing.fail(1_000_000)  # second half: 500 at once
            second_half = _phase(traffic, outage / 2, pool)
            recovered_at = time.time()
            failing.fail(0)
        outage_window = (first_half[0], second_half[1])
        deadline = time.monotonic() + drain_limit
        while time.monotonic() < deadline and not set(failing.sent) <= set(failing.delivered_at()):
            time.sleep(0.5)
        failing_delivered = failing.delivered_at()
        healthy_delivered = healthy.delivered_at()
        outage_ids = [i for i, sent in failing.sent.items() if outage_window[0] <= sent < outage_window[1]]
        drained = [failing_delivered[i] for i in outage_ids if i in failing_delivered]
        unaccounted = []
        for partner in (healthy, failing):
            for event_id in partner.sent:
                status = (log.get(event_id, "demo-webhook") or {}).get("status")
                if status not in ("delivered", "dead_lettered"):
                    unaccounted.append(event_id)
        return {
            "healthy_interval_s": interval,
            "failing_events_per_s": failing_rate,
            "outage_s": outage,
            "retry_max_backoff_s": float(RETRY_ENV["FORWARD_MAX_BACKOFF_SECONDS"]),
            "healthy_baseline": _summary(_latencies(healthy, healthy_delivered, *base)),
            "healthy_during_outage": _summary(_latencies(healthy, healthy_delivered, *outage_window)),
            "failing_events_in_outage": len(outage_ids),
            "failing_delivered_after_recovery": len(drained),
            "drain_s_after_recovery": round(max(drained) - recovered_at, 2) if drained else None,
            "failing_attempts_seen_by_sink": len(requests.get(f"{failing.sink}/deliveries",
                                                              params={"path": failing.path}, timeout=30)
                                                 .json()["deliveries"]),
            "unaccounted_events": len(unaccounted),
        }
    finally:
        stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_forwarding", description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=float, default=30.0, help="seconds with both partners healthy")
    parser.add_argument("--outage", type=float, default=40.0, help="seconds the failing partner fails")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between the healthy partner's events")
    parser.add_argument("--failing-rate", type=float, default=1.5, help="the failing partner's events per second")
    parser.add_argument("--drain-limit", type=float, default=120.0, help="longest wait for the drain, seconds")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    report(run(args.baseline, args.outage, args.interval, args.failing_rate, args.drain_limit), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
