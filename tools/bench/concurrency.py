"""How many requests one instance of each HTTP function should take at once: a sweep, measured.

    python -m tools.bench.concurrency [--threads 8 20 40 80] [--seconds 5] [--runs 2]

Cloud Run sends an instance up to its ``max_instance_request_concurrency`` requests at once, and
functions-framework serves them with THREADS threads: topology.yaml's ``concurrency`` sets both,
here and in Terraform. For ingest (one event per request), beacon (an impression of a new
identity) and monitor (an event), the sweep starts one instance per value on the bench stack (its
topic nobody reads, production's settings) and loads it with as many wrk connections as it has
threads, so each value is the concurrency Cloud Run would give it. It prints req/s, p50, p99 and
the instance's peak memory (PSS, as B8) per value, and writes bench/results/concurrency.json.
On the 2-core development machine the emulators share the instance's cores, so the curve's shape
(where req/s stops rising, where p99 and memory climb) is what carries over, not its numbers.
"""

from __future__ import annotations

import argparse
import json

from tools.bench import processes, scenarios, wrk
from tools.bench.results import RESULTS_FILE, commit, machine
from tools.bench.servers import SINK_TOPIC, BenchStack

FUNCTIONS = {
    # function -> (its publish topic setting, the scenario of tools/bench/scenarios.py it runs)
    "ingest": ("EVENTS_TOPIC", "ingest_single"),
    "beacon": ("CONVERSIONS_TOPIC", "beacon_impression_new"),
    "monitor": ("EVENTS_TOPIC", "monitor_event"),
}
OUTPUT = RESULTS_FILE.with_name("concurrency.json")


def sweep(bench: BenchStack, threads: list[int], seconds: float, runs: int) -> list[dict]:
    loads = {s.name: s.load for s in scenarios.ingest_group(bench) + scenarios.beacon_group()}
    rows = []
    for function, (topic_setting, scenario) in FUNCTIONS.items():
        for count in threads:
            instance = f"-concurrency-{count}"
            url = bench.stack.launch_function(function, {topic_setting: SINK_TOPIC, "THREADS": str(count)},
                                              instance=instance)
            name = f"function-{function}{instance}"
            try:
                memory = processes.MemorySampler({function: bench.child(name).process.pid})
                wrk.run(url, loads[scenario], scenarios.WARM_UP_SECONDS, count)
                measured = [wrk.run(url, loads[scenario], seconds, count) for _ in range(runs)]
                peak = memory.stop()[function]
            finally:
                bench.stack.stop_child(name)
            best = max(measured, key=lambda run: run.per_second)
            row = {"function": function, "threads": count, "connections": count,
                   "req_per_s": [round(run.per_second, 1) for run in measured],
                   "p50_ms": [run.p50_ms for run in measured], "p99_ms": [run.p99_ms for run in measured],
                   "errors": sum(run.errors for run in measured), "peak_pss_mib": round(peak, 1)}
            rows.append(row)
            print(f"{function:8s} THREADS={count:<3d} {best.per_second:7,.0f} req/s (best of {runs}), "
                  f"p50 {best.p50_ms:6.1f} ms, p99 {best.p99_ms:6.1f} ms, peak {peak:5.0f} MiB"
                  + (f", {row['errors']} errors" if row["errors"] else ""), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.concurrency", description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[8, 20, 40, 80],
                        help="THREADS (and wrk connections) to measure (default 8 20 40 80)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per wrk run (default 5)")
    parser.add_argument("--runs", type=int, default=2, help="runs per value (default 2)")
    args = parser.parse_args(argv)
    wrk.require()
    at_start = machine()
    bench = BenchStack.start(log=lambda _: None)
    try:
        rows = sweep(bench, args.threads, args.seconds, args.runs)
    finally:
        bench.stop()
    document = {"machine": {**at_start, "load_average_at_end": machine()["load_average"]}, "commit": commit(),
                "settings": {"seconds_per_run": args.seconds, "runs": args.runs}, "rows": rows}
    OUTPUT.write_text(json.dumps(document, indent=2) + "\n")
    print(f"written to {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
