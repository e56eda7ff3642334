"""Where a forwarder's push goes (B3, B4): wall and CPU time per push, measured.

    python -m tools.bench.forwarder_profile [--events 300] [--kinds webhook mongodb gcs] [--top 25]
    python -m tools.bench.forwarder_profile --stack [--events 300]

**In one process** (the default): starts the emulators and servers of the local stack (no
function process), registers a partner per kind with only that destination (as
tools/bench/flows.py does), and pushes fresh events one at a time through each forwarder's
functions-framework app with werkzeug's test client: the same Pub/Sub push body, CloudEvent
conversion, wiring (shared/forwarding/app.py) and INFO log lines as the deployed function, the
lines written to /dev/null. Per kind and per push it prints the wall time, this thread's CPU time
(and the process's, the clients' background threads included), the Firestore round trips, and
each part's own wall and CPU time (PARTS); then the same for a push of an event owed elsewhere
(what the two other forwarders do with every event), and for the raw write alone as
bench/baselines/ make it (raw_mongodb, raw_gcs through the same test client; for webhooks, the
POST the Pub/Sub emulator makes to the sink); then the top of a cProfile of more fresh pushes.
Every scenario is warmed up first (the emulators' JIT, the clients, the partner cache) and the
measured pushes run in interleaved rounds, so a change of the machine's load touches all alike.

**On the stack** (``--stack``): B3/B4's bursts on the bench stack (tools/bench/flows.py), forwarded
and direct, with the CPU time every process of the stack spent per event.

Timing is the machine's: run it on a quiet machine and compare runs made in one session.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import json
import logging
import os
import pstats
import statistics
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

if TYPE_CHECKING:
    from shared.forwarding.forwarder import Forwarder
    from tools.stack import LocalStack

KINDS = ("webhook", "mongodb", "gcs")
FUNCTIONS = {"webhook": "forward_webhook", "mongodb": "forward_mongodb", "gcs": "forward_gcs"}
WARM_UP_PUSHES = 150
ROUNDS = 5
BUCKET = "profile-forwarded"
RAW_BUCKET = "profile-raw"
DATABASE = "profile"
RAW_HOOK = "/hooks/profile-raw"
# The Firestore client's RPCs (google.cloud.firestore_v1's GAPIC client), each one round trip.
FIRESTORE_RPCS = ("commit", "batch_get_documents", "run_query", "run_aggregation_query", "begin_transaction",
                  "rollback", "list_documents")
STREAMING_RPCS = ("batch_get_documents", "run_query", "run_aggregation_query")
# The parts of a push, in the order they happen; each one's time is its own (nested parts taken out).
PARTS = (("framework", "functions-framework and werkzeug: the request, the CloudEvent, the answer"),
         ("parse", "the message and the event: base64, JSON, the attributes"),
         ("partner", "the partner lookup (cached)"),
         ("claim", "claim_new_event, less its Firestore round trip: building the writes"),
         ("deliver", "the destination's write"),
         ("record", "record_attempt, less its Firestore round trip: building the write"),
         ("firestore", "the Firestore round trips (RPCs)"),
         ("log lines", "formatting the JSON log lines"),
         ("forwarder", "the rest: the forwarder's own logic, the content hash, and this tool's timing"))

# A scenario prepares one push (outside the measure) and returns what makes it.
Scenario = Callable[[], Callable[[], None]]


@dataclass
class Span:
    """Time spent in one kind of call during one push."""

    calls: int = 0
    wall: float = 0.0
    cpu: float = 0.0


@dataclass
class Push:
    wall: float
    cpu: float
    process_cpu: float
    spans: dict[str, Span] = field(default_factory=dict)


class Meter:
    """Accumulates the spans of the push being measured (one push at a time, this thread only).

    A Firestore round trip made inside a span wrapped with ``rpc_label`` is also added to that
    label, so the span's own time can be told from its round trip's."""

    def __init__(self) -> None:
        self.spans: dict[str, Span] = {}
        self._thread = threading.get_ident()
        self._open: list[str] = []
        self._rpc_labels: dict[str, str] = {}

    def _add(self, name: str, wall: float, cpu: float) -> None:
        span = self.spans.setdefault(name, Span())
        span.calls += 1
        span.wall += wall
        span.cpu += cpu

    @contextmanager
    def span(self, name: str) -> Iterator[None]:
        if threading.get_ident() != self._thread:  # another thread's work is in the process's CPU
            yield
            return
        wall, cpu = time.perf_counter(), time.thread_time()
        self._open.append(name)
        try:
            yield
        finally:
            self._open.pop()
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            self._add(name, wall, cpu)
            if name == "firestore":
                for label in {self._rpc_labels[n] for n in self._open if n in self._rpc_labels}:
                    self._add(label, wall, cpu)

    def wrap(self, name: str, call: Callable[..., Any], streaming: bool = False,
             rpc_label: str | None = None) -> Callable[..., Any]:
        if rpc_label:
            self._rpc_labels[name] = rpc_label

        def timed(*args: Any, **kwargs: Any) -> Any:
            if not streaming:
                with self.span(name):
                    return call(*args, **kwargs)

            def consume() -> Iterator[Any]:
                with self.span(name):
                    yield from call(*args, **kwargs)
            return consume()
        return timed

    def measure(self, scenario: Scenario) -> Push:
        push = scenario()
        self.spans = {}
        wall, cpu, process = time.perf_counter(), time.thread_time(), time.process_time()
        push()
        measured = Push(time.perf_counter() - wall, time.thread_time() - cpu, time.process_time() - process, self.spans)
        self.spans = {}  # what runs until the next measure (a profile) is not this push's
        return measured


def instrument(meter: Meter, forwarding_app: ModuleType) -> None:
    """Spans around what every forwarder of this process calls (module and class attributes)."""
    from google.cloud.firestore_v1.services.firestore.client import FirestoreClient

    from shared.forwarding import message

    for rpc in FIRESTORE_RPCS:
        setattr(FirestoreClient, rpc, meter.wrap("firestore", getattr(FirestoreClient, rpc), rpc in STREAMING_RPCS))
    forwarding_app.handle = meter.wrap("handle", forwarding_app.handle)
    # Parsing is split between the wiring (the Pub/Sub message) and the forwarder (the event).
    message.PubSubMessage.from_cloud_event_data = staticmethod(  # type: ignore[method-assign]
        meter.wrap("parse", message.PubSubMessage.from_cloud_event_data))
    message.ForwardedEvent.from_message = staticmethod(  # type: ignore[method-assign]
        meter.wrap("parse", message.ForwardedEvent.from_message))
    for handler in logging.getLogger().handlers:
        handler.emit = meter.wrap("log lines", handler.emit)  # type: ignore[method-assign]


def instrument_forwarder(meter: Meter, forwarder: Forwarder) -> None:
    """Spans around the forwarder's collaborators, wrapped in place (its private attributes: this
    is a measuring tool, the forwarder's behaviour is unchanged)."""
    forwarder._partners = meter.wrap("partner", forwarder._partners)
    forwarder._delivery.deliver = meter.wrap("deliver", forwarder._delivery.deliver)
    for name, method in (("claim", "claim_new_event"), ("record", "record_attempt")):
        setattr(forwarder._log, method, meter.wrap(name, getattr(forwarder._log, method), rpc_label=f"{name} rpc"))


def push_body(whitelabel: str, subscription: str) -> dict[str, Any]:
    """A fresh event of partner ``whitelabel`` as the Pub/Sub emulator pushes it."""
    from shared.events.message import event_message
    from tools.bench.scenarios import fresh_event

    event = fresh_event()
    event["data"]["whitelabel"] = event["data"]["ownerWhitelabel"] = whitelabel
    message = event_message(event, str(uuid.uuid4()))
    return {"message": {"data": base64.b64encode(message.data).decode("ascii"), "attributes": dict(message.attributes),
                        "messageId": str(uuid.uuid4().int)[:16], "publishTime": "2026-01-01T00:00:00Z"},
            "subscription": f"projects/p/subscriptions/{subscription}"}


def app_scenario(source: Path, target: str, whitelabel: str) -> Scenario:
    import functions_framework

    client = functions_framework.create_app(target, str(source), "cloudevent").test_client()

    def prepare() -> Callable[[], None]:
        body = json.dumps(push_body(whitelabel, target))

        def push() -> None:
            answer = client.post("/", data=body, content_type="application/json")
            if answer.status_code != 200:
                raise RuntimeError(f"{target} answered {answer.status_code}: {answer.get_data(as_text=True)[:300]}")
        return push
    return prepare


def raw_webhook_scenario(sink: str) -> Scenario:
    """The baseline of B3: the Pub/Sub emulator POSTs the push body to the sink."""
    import urllib3

    pool = urllib3.connection_from_url(sink)

    def prepare() -> Callable[[], None]:
        body = json.dumps(push_body("profile-webhook", "raw")).encode("utf-8")

        def push() -> None:
            answer = pool.urlopen("POST", RAW_HOOK, body=body, headers={"Content-Type": "application/json"})
            if answer.status != 200:
                raise RuntimeError(f"the sink answered {answer.status}")
        return push
    return prepare


def profile(scenario: Scenario, count: int, top: int, sort: str) -> str:
    profiler = cProfile.Profile()
    for _ in range(count):
        push = scenario()
        profiler.enable()
        push()
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(sort).print_stats(top)
    return out.getvalue()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def own_times(push: Push) -> dict[str, tuple[float, float]]:
    """part -> (wall, CPU) of one push, each part without the parts nested in it."""
    def get(name: str) -> Span:
        return push.spans.get(name, Span())
    firestore, handle = get("firestore"), get("handle")
    times = {"framework": (push.wall - handle.wall, push.cpu - handle.cpu), "firestore": (firestore.wall, firestore.cpu)}
    for name in ("parse", "partner", "deliver", "log lines"):
        times[name] = (get(name).wall, get(name).cpu)
    # The healthy path's round trips are made inside claim and record.
    for name in ("claim", "record"):
        rpc = get(f"{name} rpc")
        times[name] = (get(name).wall - rpc.wall, get(name).cpu - rpc.cpu)
    inside = [times[name] for name in ("parse", "partner", "deliver", "log lines", "claim", "record", "firestore")]
    times["forwarder"] = (handle.wall - sum(w for w, _ in inside), handle.cpu - sum(c for _, c in inside))
    return times


def summary(name: str, pushes: list[Push], parts: bool) -> list[str]:
    count = len(pushes)

    def mean(values: Iterable[float]) -> str:
        return ms(sum(values) / count)
    walls = [p.wall for p in pushes]
    round_trips = sum(p.spans.get("firestore", Span()).calls for p in pushes) / count
    lines = [(f"{name}: {count} pushes, wall p50 {ms(statistics.median(walls))} ms, mean {mean(walls)} ms; "
              f"CPU {mean(p.cpu for p in pushes)} ms (this thread), {mean(p.process_cpu for p in pushes)} ms "
              f"(the process); Firestore round trips {round_trips:.2f}")]
    if parts:
        times = [own_times(p) for p in pushes]
        lines.append(f"  {'part':<10} {'wall ms':>8} {'CPU ms':>7}")
        for part, what in PARTS:
            wall, cpu = (sum(t[part][i] for t in times) / count for i in (0, 1))
            if max(wall, cpu) >= 0.000005:  # parts a push of this scenario never reaches are left out
                lines.append(f"  {part:<10} {ms(wall):>8} {ms(cpu):>7}  {what}")
    return lines


def in_process(stack: LocalStack, repo: Path, args: argparse.Namespace) -> None:
    from tools.forwarding_local import (MONGODB_URI_ENV, WEBHOOK_SECRET_ENV, apply_local_partner, create_bucket,
                                        register_demo_partner)

    sink = register_demo_partner(stack)["webhook_sink"]
    for bucket in (BUCKET, RAW_BUCKET):
        create_bucket(stack.project_id, bucket)
    destinations = {
        "webhook": {"id": "profile-webhook", "kind": "webhook", "url": f"{sink}/hooks/profile-webhook",
                    "signingSecrets": [f"env:{WEBHOOK_SECRET_ENV}"], "timeoutSeconds": 5},
        "mongodb": {"id": "profile-mongodb", "kind": "mongodb", "connectionString": f"env:{MONGODB_URI_ENV}",
                    "database": DATABASE, "collection": "forwarded"},
        "gcs": {"id": "profile-gcs", "kind": "gcs", "bucket": BUCKET, "prefix": "forwarded"},
    }
    for kind in KINDS:
        apply_local_partner({"whitelabel": f"profile-{kind}", "name": f"profile {kind}",
                             "destinations": [destinations[kind]]})
    os.environ.update({"BENCH_MONGODB_URI": stack.emulators["mongodb"], "BENCH_DATABASE": DATABASE,
                       "BENCH_COLLECTION": "raw", "BENCH_BUCKET": RAW_BUCKET, "BENCH_PREFIX": "raw"})

    from shared.forwarding import app as forwarding_app

    # The forwarders' JSON log lines are formatted as in production, and thrown away.
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))
    meter = Meter()
    instrument(meter, forwarding_app)
    scenarios: dict[str, dict[str, Scenario]] = {}
    for kind in args.kinds:
        function = FUNCTIONS[kind]
        source = repo / "functions" / function / "main.py"
        # What the two other forwarders do with every event of this kind: nothing owed.
        other = KINDS[(KINDS.index(kind) + 1) % len(KINDS)]
        raw = raw_webhook_scenario(sink) if kind == "webhook" else app_scenario(
            repo / "bench" / "baselines" / f"raw_{kind}" / "main.py", f"raw_{kind}", f"profile-{kind}")
        scenarios[kind] = {
            function: app_scenario(source, function, f"profile-{kind}"),
            f"{function}, an event owed elsewhere (a {other} partner's)": app_scenario(source, function,
                                                                                      f"profile-{other}"),
            f"the raw write alone ({kind})": raw,
        }
        instrument_forwarder(meter, forwarding_app.forwarder(function))
    for kind_scenarios in scenarios.values():
        for scenario in kind_scenarios.values():
            for _ in range(WARM_UP_PUSHES):
                meter.measure(scenario)
    pushes: dict[str, list[Push]] = {}
    for _ in range(ROUNDS):
        for kind_scenarios in scenarios.values():
            for name, scenario in kind_scenarios.items():
                pushes.setdefault(name, []).extend(meter.measure(scenario) for _ in range(args.events // ROUNDS))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    for kind, kind_scenarios in scenarios.items():
        print()
        for name in kind_scenarios:
            print("\n".join(summary(name, pushes[name], parts=name.startswith(FUNCTIONS[kind]))))
        if args.top:
            print(profile(kind_scenarios[FUNCTIONS[kind]], args.events, args.top, args.sort))


def process_cpu_seconds() -> dict[int, float]:
    """Process group -> CPU seconds (user + system) of every process in it, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    groups: dict[int, float] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:  # ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        groups[int(fields[2])] = groups.get(int(fields[2]), 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return groups


def on_stack(args: argparse.Namespace) -> None:
    """B3/B4's bursts on the bench stack, each kind direct then forwarded, in two rounds (the
    emulators' JIT still warms up in the first): events/s, and the CPU each process spent per
    event. Each child of the stack runs in its own process group (tools/stack.py), so its CPU is
    its group's."""
    from tools.bench.flows import Flows
    from tools.bench.servers import BenchStack

    bench = BenchStack.start(log=lambda _: None)
    try:
        flows = Flows(bench)
        names = {child.process.pid: child.name for child in bench.stack.children}
        for kind in args.kinds:
            for direct in (False, True):
                flows.run(kind, direct, WARM_UP_PUSHES, 120.0)
        for _ in range(2):
            for kind in args.kinds:
                for direct in (True, False):
                    before = process_cpu_seconds()
                    run = flows.run(kind, direct, args.events, 120.0)
                    after = process_cpu_seconds()
                    per_event = {name: (after.get(pid, 0.0) - before.get(pid, 0.0)) / max(run.arrived, 1)
                                 for pid, name in names.items()}
                    # Processes below 0.05 ms per event (the idle functions) are left out.
                    busy = sorted(((n, s) for n, s in per_event.items() if s >= 0.00005), key=lambda item: -item[1])
                    print(f"{'direct' if direct else 'forwarded'} {kind}: {run.arrived}/{run.events} events, "
                          f"{run.arrived / run.seconds:.0f}/s; CPU per event {ms(sum(per_event.values()))} ms: "
                          + ", ".join(f"{name} {ms(seconds)}" for name, seconds in busy), flush=True)
    finally:
        bench.stop()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.forwarder_profile",
                                     description="Where a forwarder's push goes: wall and CPU time per push.")
    parser.add_argument("--events", type=int, default=300, help="events measured per scenario (default 300)")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--top", type=int, default=25, help="lines of each profile shown (0: no profile)")
    parser.add_argument("--sort", default="tottime", choices=("tottime", "cumulative"))
    parser.add_argument("--stack", action="store_true", help="CPU per event of every process during B3/B4's bursts")
    args = parser.parse_args()
    if args.stack:
        on_stack(args)
        return 0

    from tools.stack import REPO_ROOT, LocalStack

    os.environ["LOG_LEVEL"] = "INFO"  # production's, as tools/bench/servers.py runs the functions
    stack = LocalStack(state_dir=Path(tempfile.mkdtemp(prefix="forwarder-profile-")), log=lambda _: None)
    try:
        stack.start_servers()
        in_process(stack, REPO_ROOT, args)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
