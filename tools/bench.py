"""``make bench``: latency, throughput and memory of ingest on the local stack.

Measured, never asserted: numbers depend on the machine. Requests go to 127.0.0.1 only, in
bounded loops. Prints one table; `--json FILE` also writes the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tools.stack import DEFAULT_STATE_DIR, LocalStack

EXAMPLE = json.loads((Path(__file__).resolve().parent.parent / "examples/events/user.interaction.view.json").read_text())


def _event() -> dict:
    return {**EXAMPLE, "eventId": str(uuid.uuid4())}


def _rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (gunicorn master + worker)."""
    total = 0
    pids = [pid] + [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for member in pids:
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(requests_count: int, concurrency: int, batch_size: int) -> dict:
    stack = LocalStack(state_dir=DEFAULT_STATE_DIR / "bench", log=lambda _: None)
    info = stack.start()
    try:
        url = info["functions"]["ingest"]
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {info['dev_api_key']}"
        for _ in range(20):  # warm-up: imports, channels, key cache
            session.post(url + "/v1/events", json=_event(), timeout=30)

        latencies = []
        for _ in range(requests_count):
            started = time.perf_counter()
            answer = session.post(url + "/v1/events", json=_event(), timeout=30)
            latencies.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, answer.text

        def one(_: int) -> int:
            return requests.post(url + "/v1/events", json=_event(), timeout=30,
                                 headers={"Authorization": f"Bearer {info['dev_api_key']}"}).status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            statuses = list(pool.map(one, range(requests_count)))
        concurrent_rps = requests_count / (time.perf_counter() - started)

        batch = [_event() for _ in range(batch_size)]
        started = time.perf_counter()
        answer = session.post(url + "/v1/events/batch", json=batch, timeout=60)
        batch_seconds = time.perf_counter() - started
        ingest_pid = next(c.process.pid for c in stack.children if c.name == "function-ingest")
        return {
            "sequential_requests": requests_count,
            "latency_ms_p50": round(statistics.median(latencies), 2),
            "latency_ms_p95": round(_percentile(latencies, 0.95), 2),
            "latency_ms_max": round(max(latencies), 2),
            "concurrency": concurrency,
            "concurrent_requests_per_second": round(concurrent_rps, 1),
            "concurrent_non_200": sum(1 for s in statuses if s != 200),
            "batch_size": batch_size,
            "batch_seconds": round(batch_seconds, 3),
            "batch_events_per_second": round(batch_size / batch_seconds, 1),
            "batch_published": answer.json()["payload"]["published"],
            "ingest_rss_mib": round(_rss_mib(ingest_pid), 1),
        }
    finally:
        stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    report(run(args.requests, args.concurrency, args.batch_size), args.json)
    return 0


def report(figures: dict, json_file: Path | None) -> None:
    """Print the figures as a table, and write them to ``json_file`` when given."""
    for name, value in figures.items():
        print(f"{name:<34} {value}")
    if json_file:
        json_file.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
