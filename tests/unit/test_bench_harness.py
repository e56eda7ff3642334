"""The pieces of `make bench` (tools/bench) work: spreads and ratios, the results document, wrk's
result line, the B6 pipelines, and each baseline function under functions-framework's test
client. Nothing here is timed: benchmarks are never timed tests."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest
from functions_framework import create_app

from tools.bench import __main__ as bench_main
from tools.bench import cpu, processes, wrk
from tools.bench.results import Figure, Goal, Report, Spread, table
from tools.bench.servers import BASELINE_FUNCTIONS
from tools.stack import REPO_ROOT


def test_a_spread_is_the_median_min_and_max_of_the_runs():
    spread = Spread.of([30.0, 10.0, 20.0, 50.0])
    assert (spread.median, spread.min, spread.max, spread.runs) == (25.0, 10.0, 50.0, [30.0, 10.0, 20.0, 50.0])
    assert spread.text() == "25 [10-50]" and Spread.of([7.0]).text() == "7"
    with pytest.raises(ValueError):
        Spread.of([])


def test_a_figure_is_its_median_over_its_baselines_median_against_its_goal():
    faster = Figure("B1", "ingest", "req/s", Spread.of([80.0, 90.0, 85.0]), "raw_publish", Spread.of([100.0]),
                    Goal(">=", 0.8))
    assert faster.ratio == pytest.approx(0.85) and faster.met is True
    costly = Figure("B6", "ingest", "us", Spread.of([40.0]), "json.loads", Spread.of([10.0]), Goal("<=", 3))
    assert costly.ratio == 4.0 and costly.met is False
    context = Figure("B1", "ingest", "req/s", Spread.of([1.0]))
    assert context.ratio is None and context.met is None
    assert Figure("B1", "x", "u", Spread.of([1.0]), "zero", Spread.of([0.0]), Goal(">=", 1)).met is None


def test_the_results_document_holds_figures_baselines_ratios_machine_and_commit():
    report = Report(settings={"runs": 3})
    report.record("ingest_single", [{"req_per_s": 90.0}, {"req_per_s": 80.0}, {"req_per_s": 100.0}])
    report.record("raw_publish", [{"req_per_s": 100.0}, {"req_per_s": 110.0}, {"req_per_s": 120.0}])
    report.figures = [Figure("B1", "ingest", "req/s", report.measure("ingest_single", "req_per_s"), "raw_publish",
                             report.measure("raw_publish", "req_per_s"), Goal(">=", 0.8))]
    document = json.loads(json.dumps(report.to_json({"cpus": 2}, {"sha": "abc", "dirty": False})))
    assert document["commit"] == {"sha": "abc", "dirty": False} and document["machine"] == {"cpus": 2}
    assert document["measurements"]["raw_publish"]["req_per_s"] == {"median": 110.0, "min": 100.0, "max": 120.0,
                                                                    "runs": [100.0, 110.0, 120.0]}
    [figure] = document["figures"]
    assert figure["baseline"]["name"] == "raw_publish" and figure["ratio"] == pytest.approx(0.818, abs=1e-3)
    assert figure["goal"] == ">= 0.8x" and figure["met"] is True
    assert "| B1 | ingest | req/s | 90 [80-100] | raw_publish: 110 [100-120] | 0.82x | >= 0.8x | yes |" in table(
        report.figures)


def _full_report() -> Report:
    """Every measurement a run records, with made-up values."""
    report = Report(settings={})
    http = ["noop", "raw_publish", "ingest_single", "monitor_event", "raw_firestore", "beacon_impression_new",
            "beacon_impression_duplicate", "beacon_conversion"]
    http += [f"{kind}_{size}" for size in (100, 500) for kind in ("ingest_batch", "raw_batch_publish")]
    for name in http:
        report.record(name, [wrk.WrkRun(100, 1.0, 0, 2.0, 9.0).measures()])
    for name in ("forward_webhook", "direct_webhook", "forward_mongodb", "direct_mongodb", "forward_gcs", "direct_gcs"):
        report.record(name, [{"events_per_s": 50.0, "delay_p50_ms": 10.0, "delay_p99_ms": 20.0, "lost": 0.0}])
    for name in cpu.cases():
        report.record(f"cpu_{name}", [{"cpu_us": 12.0, "json_loads_us": 5.0}])
    for name in ("noop", "ingest"):
        report.record(f"cold_{name}", [{"seconds": 1.0}])
    report.record("rss_ingest", [{"mib": 100.0, "vmhwm_sum_mib": 150.0}])
    return report


def test_every_figure_of_the_issue_has_its_row():
    rows = bench_main.figures(_full_report(), ["ingest"])
    assert {r.id for r in rows} == {f"B{n}" for n in range(1, 9)}
    assert all(r.baseline is not None for r in rows)
    memory, upper_bound = [r for r in rows if r.id == "B8"]
    assert memory.ratio == pytest.approx(100 / 256) and memory.met is True
    assert upper_bound.goal is None and upper_bound.value.median == 150.0


def test_an_instances_memory_counts_the_pages_its_processes_share_once():
    """A forked child shares its parent's pages: the sum of PSS counts them once, VmHWM twice.
    Run in a process of its own, whose only child is the fork."""
    script = """
import os, signal, sys
from tools.bench import processes
ballast = bytearray(64 * 1024 * 1024)
ballast[::4096] = b"x" * len(ballast[::4096])  # resident, then shared with the child
child = os.fork()
if child == 0:
    signal.pause()
try:
    peak = processes.MemorySampler({"me": os.getpid()}).stop()["me"]
    print(peak, processes.peak_rss_mib(os.getpid()))
finally:
    os.kill(child, signal.SIGKILL)
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=60, check=True)
    pss_peak, vmhwm_sum = map(float, result.stdout.split())
    assert pss_peak >= 64
    assert vmhwm_sum - pss_peak > 48  # the 64 MiB counted twice by VmHWM, once by PSS


def test_wrks_result_line_is_read():
    output = ("Running 2s test @ http://127.0.0.1:1\n"
              'BENCH_RESULT {"requests":500,"duration_us":2000000,"bytes":1,'
              '"errors":{"connect":0,"read":1,"write":0,"status":2,"timeout":0},'
              '"latency_us":{"p50":1500,"p90":3000,"p99":9000,"max":12000,"mean":1800.0}}\n')
    run = wrk.parse(output)
    assert (run.requests, run.errors, run.p50_ms, run.p99_ms) == (500, 3, 1.5, 9.0)
    assert run.measures(100)["items_per_s"] == 25000.0
    with pytest.raises(RuntimeError, match="no result line"):
        wrk.parse("unable to connect")


def test_the_cpu_pipelines_do_what_the_functions_do():
    cases = cpu.cases()
    body, pipeline = cases["ingest"]
    message = pipeline(body)
    assert json.loads(message.data) == json.loads(body) and message.attributes["eventType"] == "user.interaction"
    body, pipeline = cases["ingest_handler"]
    answer = pipeline(body)
    assert answer.status_code == 200 and json.loads(answer.get_data())["name"] == "user.interaction:response"
    body, pipeline = cases["ingest_invalid"]
    pipeline(body)  # raises if the event were accepted
    body, pipeline = cases["beacon_conversion"]
    assert json.loads(pipeline(body).data)["conversion"] == json.loads(body)
    body, pipeline = cases["monitor_event"]
    event = json.loads(pipeline(body).data)
    assert event["eventType"] == "monitor.event" and event["data"]["fields"]["courseId"] == "course-1"


def _baseline_app(name: str):
    baseline = next(b for b in BASELINE_FUNCTIONS if b.name == name)
    return create_app(name, str(baseline.source), baseline.signature_type)


def test_the_noop_baseline_answers_an_empty_object():
    answer = _baseline_app("noop").test_client().post("/", data=b'{"a": 1}')
    assert answer.status_code == 200 and answer.get_json() == {}


@pytest.mark.parametrize("baseline", [b.name for b in BASELINE_FUNCTIONS if b.name != "noop"])
def test_every_baseline_loads_under_functions_framework(baseline, monkeypatch):
    # Clients are built at import and connect on first use: port 9 (discard) is never reached.
    for name, value in {"PUBSUB_EMULATOR_HOST": "127.0.0.1:9", "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9",
                        "STORAGE_EMULATOR_HOST": "http://127.0.0.1:9", "GOOGLE_CLOUD_PROJECT": "bench",
                        "BENCH_TOPIC": "bench-sink", "BENCH_MONGODB_URI": "mongodb://127.0.0.1:9",
                        "BENCH_DATABASE": "bench", "BENCH_COLLECTION": "raw", "BENCH_BUCKET": "raw",
                        "BENCH_PREFIX": "raw"}.items():
        monkeypatch.setenv(name, value)
    app = _baseline_app(baseline)
    assert app.url_map.bind("localhost").match("/", method="POST")


def test_a_pushed_functions_cold_start_probe_is_a_pubsub_push():
    method, path, body = processes.probe("cloudevent", "forward_webhook")
    event = json.loads(base64.b64decode(body["message"]["data"]))
    assert (method, path) == ("POST", "/") and event["data"]["whitelabel"] == "bench-nobody"
    assert processes.probe("http", "ingest") == ("GET", "/bench/cold-start", None)
