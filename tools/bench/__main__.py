"""``make bench``: every figure of docs/performance.md (B1..B8) beside its baseline, in one run.

    python -m tools.bench            # the full run: 3 runs per figure, bench/results/latest.json
    python -m tools.bench --quick    # 1 short run per figure (checks the harness): bench/results/quick.json

Starts the local stack (production's log level and caches), instances of ingest, beacon and
monitor that publish to a topic nobody reads, and the baseline functions of bench/baselines/;
drives HTTP load with wrk, measures forwarding by publishing bursts, CPU per event in process,
cold starts and peak memory. Loopback only. Figures are printed and written, never asserted:
ratios to a baseline of the same run are what compare across machines.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tools.bench import cpu, flows, processes, scenarios, wrk
from tools.bench.results import RESULTS_FILE, Figure, Goal, Report, Spread, commit, machine, table
from tools.bench.servers import BASELINE_FUNCTIONS, BenchStack

MEMORY_LIMIT_MIB = 256
# The instances the load goes to, where they are not the stack's own (tools/bench/servers.py).
MEASURED_INSTANCES = {"ingest": "function-ingest-bench", "beacon": "function-beacon-bench",
                      "monitor": "function-monitor-bench"}


@dataclass(frozen=True)
class Plan:
    runs: int
    seconds: float
    connections: int
    flow_events: int
    flow_timeout: float
    cpu_seconds: float
    output: Path

    @classmethod
    def of(cls, args: argparse.Namespace) -> "Plan":
        quick = args.quick
        return cls(runs=args.runs or (1 if quick else 3), seconds=args.seconds or (2.0 if quick else 5.0),
                   connections=args.connections, flow_events=100 if quick else 300,
                   flow_timeout=60.0 if quick else 90.0, cpu_seconds=0.3 if quick else 1.0,
                   output=args.output or (RESULTS_FILE.with_name("quick.json") if quick else RESULTS_FILE))


def figures(report: Report, functions: list[str]) -> list[Figure]:
    m = report.measure
    rows = [
        Figure("B1", "ingest, one event per request", "req/s", m("ingest_single", "req_per_s"), "raw_publish",
               m("raw_publish", "req_per_s"), Goal(">=", 0.8)),
        Figure("B1", "ingest, one event per request: p50", "ms", m("ingest_single", "p50_ms"), "raw_publish",
               m("raw_publish", "p50_ms"), digits=1),
        Figure("B1", "ingest, one event per request: p99", "ms", m("ingest_single", "p99_ms"), "raw_publish",
               m("raw_publish", "p99_ms"), digits=1),
        Figure("B1", "ingest, one event per request", "req/s", m("ingest_single", "req_per_s"), "noop",
               m("noop", "req_per_s"), note="context: the HTTP stack alone"),
    ]
    for size in scenarios.BATCH_SIZES:
        batch = m(f"ingest_batch_{size}", "items_per_s")
        rows += [Figure("B2", f"ingest, batches of {size}", "events/s", batch, "B1 ingest single",
                        m("ingest_single", "items_per_s"), Goal(">=", 10)),
                 Figure("B2", f"ingest, batches of {size}", "events/s", batch, f"raw_batch_publish of {size}",
                        m(f"raw_batch_publish_{size}", "items_per_s"), Goal(">=", 0.7))]
    rows += [
        Figure("B3", "webhook forwarding, end to end", "events/s", m("forward_webhook", "events_per_s"),
               "emulator pushing to the sink", m("direct_webhook", "events_per_s"), Goal(">=", 0.7)),
        Figure("B3", "webhook forwarding: delay p50", "ms", m("forward_webhook", "delay_p50_ms"),
               "emulator pushing to the sink", m("direct_webhook", "delay_p50_ms"), note="burst, queueing included"),
        Figure("B3", "webhook forwarding: delay p99", "ms", m("forward_webhook", "delay_p99_ms"),
               "emulator pushing to the sink", m("direct_webhook", "delay_p99_ms"), note="burst, queueing included"),
        Figure("B4", "MongoDB forwarding", "events/s", m("forward_mongodb", "events_per_s"), "raw_mongodb",
               m("direct_mongodb", "events_per_s"), Goal(">=", 0.7)),
        Figure("B4", "Cloud Storage forwarding", "events/s", m("forward_gcs", "events_per_s"), "raw_gcs",
               m("direct_gcs", "events_per_s"), Goal(">=", 0.7)),
    ]
    raw_firestore = m("raw_firestore", "req_per_s")
    for name, label in (("beacon_impression_new", "beacon impression, new identity"),
                        ("beacon_impression_duplicate", "beacon impression, duplicate"),
                        ("beacon_conversion", "beacon conversion")):
        rows += [Figure("B5", label, "req/s", m(name, "req_per_s"), "raw_firestore", raw_firestore, Goal(">=", 0.8)),
                 Figure("B5", f"{label}: p99", "ms", m(name, "p99_ms"), "raw_firestore", m("raw_firestore", "p99_ms"),
                        digits=1)]
    rows.append(Figure("B5", "beacon impression, duplicate", "req/s", m("beacon_impression_duplicate", "req_per_s"),
                       "new identity", m("beacon_impression_new", "req_per_s"), Goal(">=", 1.0)))
    for name, label, goal, note in (
            ("ingest", "ingest: parse, validate, build the message", Goal("<=", 3), ""),
            ("beacon_conversion", "beacon conversion: parse, validate, build the message", Goal("<=", 3), ""),
            ("monitor_event", "monitor event: parse, validate, build the message", Goal("<=", 3), ""),
            ("ingest_invalid", "ingest, an invalid event", None, "may cost more"),
            ("ingest_handler", "ingest, whole in-process answer", None, "context: auth, log line, answer")):
        rows.append(Figure("B6", label, "CPU us/event", m(f"cpu_{name}", "cpu_us"), "json.loads",
                           m(f"cpu_{name}", "json_loads_us"), goal, digits=1, note=note))
    noop_start = m("cold_noop", "seconds")
    rows += [Figure("B7", f"cold start: {f}", "s", m(f"cold_{f}", "seconds"), "noop", noop_start, Goal("<=", 1.5),
                    digits=2) for f in functions]
    limit = Spread.of([float(MEMORY_LIMIT_MIB)])
    for name in (n for n in report.measurements if n.startswith("rss_")):
        function = name.removeprefix("rss_")
        rows += [Figure("B8", f"peak memory: {function}", "MiB", m(name, "mib"), f"{MEMORY_LIMIT_MIB} MiB", limit,
                        Goal("<=", 0.75), note="PSS of master and worker; room to spare: a quarter free"),
                 Figure("B8", f"peak RSS: {function}", "MiB", m(name, "vmhwm_sum_mib"), f"{MEMORY_LIMIT_MIB} MiB",
                        limit, note="context: VmHWM summed, shared pages counted twice")]
    return rows


def run(plan: Plan, log: Callable[[str], None] = print) -> Report:
    report = Report(settings={"runs": plan.runs, "seconds_per_run": plan.seconds, "connections": plan.connections,
                              "flow_events_per_run": plan.flow_events, "cpu_seconds_per_run": plan.cpu_seconds})
    log("B6: CPU per event in process ...")
    for name, runs in cpu.measure(plan.runs, plan.cpu_seconds).items():
        report.record(f"cpu_{name}", runs)
    log("starting the local stack and the bench instances ...")
    bench = BenchStack.start(log=log)
    try:
        report.settings["threads"] = {f.name: f.concurrency for f in bench.stack.topology.functions}
        baselines = {b.name: b for b in BASELINE_FUNCTIONS}
        for name in ("noop", "raw_publish", "raw_batch_publish"):
            bench.start_baseline(baselines[name], {"BENCH_TOPIC": "bench-sink"})
        bench.start_baseline(baselines["raw_firestore"], {})
        instances = {function: bench.child(MEASURED_INSTANCES.get(function, f"function-{function}")).process.pid
                     for function in (f.name for f in bench.stack.topology.functions)}
        memory = processes.MemorySampler(instances)
        for label, group in (("B1, B2: ingest", scenarios.ingest_group(bench)),
                             ("B5: beacon", scenarios.beacon_group())):
            log(f"{label} ...")
            for name, runs in scenarios.run_group(bench, group, plan.runs, plan.seconds, plan.connections, log).items():
                report.record(name, runs)
        log("B3, B4: forwarding ...")
        for name, runs in flows.run_flows(flows.Flows(bench), plan.runs, plan.flow_events, plan.flow_timeout,
                                          log).items():
            report.record(name, runs)
        log("B8: peak memory ...")
        for function, peak in memory.stop().items():
            report.record(f"rss_{function}", [{"mib": peak, "vmhwm_sum_mib": processes.peak_rss_mib(instances[function])}])
        log("B7: cold starts ...")
        functions = [f.name for f in bench.stack.topology.functions]
        for function in ["noop", *functions]:
            report.record(f"cold_{function}", [{"seconds": processes.cold_start_seconds(bench, function, index)}
                                               for index in range(plan.runs)])
    finally:
        bench.stop()
    report.figures = figures(report, functions)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short run per figure: checks the harness")
    parser.add_argument("--runs", type=int, help="runs per figure (default 3; --quick: 1)")
    parser.add_argument("--seconds", type=float, help="seconds per wrk run (default 5; --quick: 2)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--output", type=Path, help="where to write the results (default bench/results/latest.json)")
    plan = Plan.of(parser.parse_args(argv))
    try:
        wrk.require()
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    started = time.monotonic()
    machine_at_start = machine()
    report = run(plan)
    machine_info = {**machine_at_start, "load_average_at_end": machine()["load_average"],
                    "bench_seconds": round(time.monotonic() - started)}
    plan.output.parent.mkdir(parents=True, exist_ok=True)
    plan.output.write_text(json.dumps(report.to_json(machine_info, commit()), indent=2) + "\n")
    print()
    print(table(report.figures))
    print(f"\n{len(report.figures)} figures in {machine_info['bench_seconds']} s; load average at start "
          f"{machine_at_start['load_average'][0]:.1f}, at end {machine_info['load_average_at_end'][0]:.1f} "
          f"({machine_at_start['cpus']} CPUs); written to {plan.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
