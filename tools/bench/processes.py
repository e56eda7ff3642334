"""B7 and B8: a function's cold start (process start to its first answer) and peak memory.

Cold start: a new functions-framework process is spawned and asked, every 10 ms, a request its own
code answers (HTTP functions: an unknown path, answered by their API, which builds its clients on
the first request; pushed functions: a Pub/Sub push of a message for nobody). The time from spawn
to the first answer is the figure; ``noop`` is the same for a function with nothing to import.
Peak memory: VmHWM (the kernel's high-water mark of resident memory) of the gunicorn master and
its worker, read once the load has run: what one instance needed at its largest.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

from tools.bench.scenarios import fresh_event
from tools.bench.servers import BASELINES, BenchStack
from tools.stack import REPO_ROOT

PROBE_INTERVAL_SECONDS = 0.01
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


def peak_rss_mib(pid: int) -> float:
    """VmHWM of a process and its children (functions-framework's gunicorn master and worker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total_kib = 0
    for member in [pid, *map(int, children)]:
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total_kib += int(line.split()[1])
    return total_kib / 1024
