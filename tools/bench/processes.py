"""B7 and B8: a function's cold start (process start to its first answer) and peak memory.

Cold start: a new functions-framework process is spawned and asked, every 10 ms, a request its own
code answers (HTTP functions: an unknown path, answered by their API, which builds its clients on
the first request; pushed functions: a Pub/Sub push of a message for nobody). The time from spawn
to the first answer is the figure; ``noop`` is the same for a function with nothing to import.
Peak memory: what one instance needed at its largest, as its container is charged for it. The
gunicorn master imports the function and forks its worker, which shares those pages: summing the
two processes' resident memory counts them twice (an ingest instance at rest: 140 MiB of VmRSS
summed for 87 MiB of PSS). The figure is the sum of the two processes' PSS (proportional set
size: each shared page split between its sharers, so counted once in the sum), sampled every
``SAMPLE_SECONDS`` during the whole load by ``MemorySampler``. A peak shorter than a second can fall
between two samples: the sum of their VmHWM (the kernel's high-water marks, exact peaks but shared
pages counted twice) is kept beside it as an upper bound.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

from tools.bench.scenarios import fresh_event
from tools.bench.servers import BASELINES, BenchStack
from tools.stack import REPO_ROOT

PROBE_INTERVAL_SECONDS = 0.01
# Reading smaps_rollup costs about a millisecond per process: once a second stays out of the figures.
SAMPLE_SECONDS = 1.0
COLD_START_TIMEOUT_SECONDS = 60.0


def _push_body(data: dict) -> dict:
    published = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    return {"message": {"data": base64.b64encode(json.dumps(data).encode()).decode(), "attributes": {},
                        "messageId": "cold-start", "publishTime": published},
            "subscription": "projects/fpass-local/subscriptions/cold-start"}


def probe(signature_type: str, function: str) -> tuple[str, str, dict | None]:
    """(method, path, JSON body) of the first request a cold instance answers."""
    if signature_type == "http":
        return "GET", "/bench/cold-start", None
    if function == "attribution":
        conversion = {"channel": "ecommerce", "publisher_id": "bench-nobody", "user_id": "u", "session_id": "s",
                      "order_id": "cold", "email_hashed": "0" * 64, "created_at": "2026-01-01T00:00:00Z",
                      "items": [{"sku": "x", "quantity": 1, "price": 1, "promotional_price": 1}]}
        return "POST", "/", _push_body({"conversionId": "cold-start", "receivedAt": "2026-01-01T00:00:00Z",
                                        "conversion": conversion})
    event = fresh_event()
    event["data"]["whitelabel"] = event["data"]["ownerWhitelabel"] = "bench-nobody"
    return "POST", "/", _push_body(event)


def cold_start_seconds(bench: BenchStack, function: str, run: int) -> float:
    if function == "noop":
        source, signature_type = BASELINES / "noop" / "main.py", "http"
        env = {"THREADS": str(bench.threads("ingest"))}
    else:
        source, signature_type = REPO_ROOT / "functions" / function / "main.py", bench.stack.topology.function(function).signature_type
        env = bench.stack.env_of(function)
    method, path, body = probe(signature_type, function)
    name = f"cold-{function}-{run}"
    started = time.monotonic()
    child, url = bench.spawn(name, Path(source), function, signature_type, env)
    try:
        while time.monotonic() - started < COLD_START_TIMEOUT_SECONDS:
            if child.process.poll() is not None:
                raise RuntimeError(f"{name} exited during start-up:\n{child.log_tail()}")
            try:
                requests.request(method, url + path, json=body, timeout=COLD_START_TIMEOUT_SECONDS)
                return time.monotonic() - started
            except requests.ConnectionError:
                time.sleep(PROBE_INTERVAL_SECONDS)
        raise RuntimeError(f"{name} did not answer within {COLD_START_TIMEOUT_SECONDS:g} s")
    finally:
        bench.stack.stop_child(name)


def _instance(pid: int) -> list[int]:
    """A functions-framework process and its children (gunicorn's master and worker)."""
    return [pid, *map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]


def _kib(path: Path, field: str) -> int:
    line = next(line for line in path.read_text().splitlines() if line.startswith(field))
    return int(line.split()[1])


def peak_rss_mib(pid: int) -> float:
    """The sum of the VmHWM of an instance's processes: an upper bound (shared pages counted twice)."""
    return sum(_kib(Path(f"/proc/{member}/status"), "VmHWM:") for member in _instance(pid)) / 1024


def pss_mib(pid: int) -> float:
    """The memory an instance uses now, shared pages counted once: the sum of its processes' PSS."""
    return sum(_kib(Path(f"/proc/{member}/smaps_rollup"), "Pss:") for member in _instance(pid)) / 1024


class MemorySampler:
    """The largest ``pss_mib`` of each instance, sampled every SAMPLE_SECONDS until ``stop()``."""

    def __init__(self, pids: dict[str, int]):
        self._pids = pids
        self.peak_mib: dict[str, float] = dict.fromkeys(pids, 0.0)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            for name, pid in self._pids.items():
                try:
                    self.peak_mib[name] = max(self.peak_mib[name], pss_mib(pid))
                except (OSError, StopIteration):  # an instance restarting between two reads
                    pass
            if self._stopped.wait(SAMPLE_SECONDS):
                return

    def stop(self) -> dict[str, float]:
        self._stopped.set()
        self._thread.join()
        return self.peak_mib
