"""Load from wrk (Debian's package): one run against one URL, read from wrk_report.lua's last line."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

SCRIPT = Path(__file__).with_name("wrk_report.lua")
RESULT_MARK = "BENCH_RESULT "
INSTALL_HINT = "wrk not found: install Debian's package (apt-get install -y wrk)"


@dataclass(frozen=True)
class Load:
    """What to send: ``{{unique}}`` in the body becomes a value unique in the run."""

    method: str
    path: str
    body: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True)
class WrkRun:
    requests: int
    seconds: float
    errors: int  # connection errors, timeouts and answers with status >= 400
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def measures(self, items_per_request: int = 1) -> dict[str, float]:
        return {"req_per_s": self.per_second, "items_per_s": self.per_second * items_per_request,
                "p50_ms": self.p50_ms, "p99_ms": self.p99_ms, "errors": float(self.errors)}


def parse(output: str) -> WrkRun:
    line = next((line for line in reversed(output.splitlines()) if line.startswith(RESULT_MARK)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result line:\n{output[-2000:]}")
    result = json.loads(line[len(RESULT_MARK):])
    return WrkRun(requests=result["requests"], seconds=result["duration_us"] / 1e6,
                  errors=sum(result["errors"].values()),
                  p50_ms=result["latency_us"]["p50"] / 1000, p99_ms=result["latency_us"]["p99"] / 1000)


def require() -> str:
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError(INSTALL_HINT)
    return binary


def run(url: str, load: Load, seconds: float, connections: int, threads: int = 2) -> WrkRun:
    binary = require()
    with tempfile.NamedTemporaryFile(suffix=".body") as body:
        body.write(load.body)
        body.flush()
        command = [binary, f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s",
                   "-s", str(SCRIPT), url, "--", load.method, load.path, body.name, uuid.uuid4().hex[:12],
                   *[f"{name}: {value}" for name, value in load.headers.items()]]
        finished = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if finished.returncode != 0:
        raise RuntimeError(f"wrk failed ({finished.returncode}): {finished.stderr[-2000:]}")
    return parse(finished.stdout)
