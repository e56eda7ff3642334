"""What a bench run produces: each measurement's runs (median, min, max), the figures of the issue
(B1..B8) as ratios to their same-run baselines, and bench/results/latest.json. Pure: no I/O but
``machine()`` and ``commit()``.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULTS_FILE = REPO_ROOT / "bench" / "results" / "latest.json"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Spread:
    """One measure over several runs."""

    median: float
    min: float
    max: float
    runs: list[float]

    @classmethod
    def of(cls, values: list[float]) -> "Spread":
        if not values:
            raise ValueError("no run to summarise")
        return cls(statistics.median(values), min(values), max(values), list(values))

    def text(self, digits: int = 0) -> str:
        if len(self.runs) == 1:
            return f"{self.median:,.{digits}f}"
        return f"{self.median:,.{digits}f} [{self.min:,.{digits}f}-{self.max:,.{digits}f}]"


@dataclass(frozen=True)
class Goal:
    """``figure / baseline`` must be at least (``>=``) or at most (``<=``) ``ratio``."""

    op: str
    ratio: float

    def met(self, ratio: float) -> bool:
        return ratio >= self.ratio if self.op == ">=" else ratio <= self.ratio

    def text(self) -> str:
        return f"{self.op} {self.ratio:g}x"


@dataclass(frozen=True)
class Figure:
    """One row of the table: a measure of a scenario against a measure of its baseline."""

    id: str
    name: str
    unit: str
    value: Spread
    baseline_name: str | None = None
    baseline: Spread | None = None
    goal: Goal | None = None
    digits: int = 0
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline.median:
            return None
        return self.value.median / self.baseline.median

    @property
    def met(self) -> bool | None:
        ratio = self.ratio
        return None if self.goal is None or ratio is None else self.goal.met(ratio)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "unit": self.unit, "value": asdict(self.value),
            "baseline": None if self.baseline is None else {"name": self.baseline_name, **asdict(self.baseline)},
            "ratio": None if self.ratio is None else round(self.ratio, 3),
            "goal": None if self.goal is None else self.goal.text(), "met": self.met, "note": self.note,
        }


@dataclass
class Report:
    settings: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    # Every scenario and baseline measured: name -> measure -> runs.
    measurements: dict[str, dict[str, Spread]] = field(default_factory=dict)

    def measure(self, name: str, measure: str) -> Spread:
        return self.measurements[name][measure]

    def record(self, name: str, runs: list[dict[str, float]]) -> dict[str, Spread]:
        """Keep the runs of one scenario or baseline: a list of {measure: value}, one per run."""
        measures = {key: Spread.of([run[key] for run in runs]) for key in runs[0]}
        self.measurements[name] = measures
        return measures

    def to_json(self, machine_info: dict[str, Any], commit_info: dict[str, Any]) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "commit": commit_info,
            "machine": machine_info,
            "settings": self.settings,
            "figures": [f.to_json() for f in self.figures],
            "measurements": {name: {m: asdict(s) for m, s in measures.items()}
                             for name, measures in self.measurements.items()},
        }


def table(figures: list[Figure]) -> str:
    """The figures as a Markdown table: value and baseline as median [min-max] of the runs."""
    lines = ["| # | figure | unit | measured | baseline (same run) | ratio | goal | met |",
             "|---|---|---|---|---|---|---|---|"]
    for f in figures:
        baseline = "" if f.baseline is None else f"{f.baseline_name}: {f.baseline.text(f.digits)}"
        ratio = "" if f.ratio is None else f"{f.ratio:.2f}x"
        met = {None: "", True: "yes", False: "**no**"}[f.met]
        name = f"{f.name} ({f.note})" if f.note else f.name
        lines.append(f"| {f.id} | {name} | {f.unit} | {f.value.text(f.digits)} | {baseline} | {ratio} | "
                     f"{'' if f.goal is None else f.goal.text()} | {met} |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    cpu_model = ""
    memory_mib = None
    try:
        cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                          if line.startswith("model name")), "")
        memory_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal:"))
        memory_mib = memory_kib // 1024
    except (OSError, StopIteration, ValueError):
        pass
    return {"cpus": os.cpu_count(), "cpu_model": cpu_model, "memory_mib": memory_mib,
            "platform": platform.platform(), "python": platform.python_version(),
            "load_average": list(os.getloadavg())}


def commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()

    return {"sha": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
