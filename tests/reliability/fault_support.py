"""Fault injection against a local stack of a test module's own: processes frozen (SIGSTOP) or
killed (SIGKILL), a steady load of requests that sends again what a client is told to send again,
and counts by eventId at every destination of a partner.

Each fault module starts its own LocalStack (``own_stack``): its faults would otherwise leave the
session stack, which other tests share, with emulators that were killed or subscriptions that
failed many pushes. That stack keeps production's push retry policy (topology.yaml: backoff from
10 s, 5 delivery attempts), so what a fault test shows is what the deployed retry policy does.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Generic, Iterator, TypeVar

import pytest
import requests
from google.cloud import firestore, pubsub_v1, storage
from pymongo import MongoClient

from shared.events.message import encode_event
from tests.conftest import TEST_FUNCTION_ENV, spec_example
from tools.admin_commands.deadletters import HoldSubscription
from tools.forwarding_local import DEMO_COLLECTION, DEMO_PREFIX, apply_local_partner, create_bucket, local_partner
from tools.stack import Child, LocalStack, wait_until
from tools.stack_supervisor import DIED_MESSAGE

FAULT_DATABASE = "fpass_faults"
# A client waits this long for an answer: longer than any fault, so every request gets its final
# answer and each count is exact (a request given up on could still succeed afterwards).
CLIENT_TIMEOUT_SECONDS = 60.0
RESEND_DELAY_SECONDS = 0.5
# After the load stops, a request being sent again gets this long to be acknowledged.
RESEND_DEADLINE_SECONDS = 60.0
# How long every acknowledged event gets to reach its destinations once the load stopped. The
# retry policy redelivers a failed push after 10 s, then 20 s: an event that failed at the end of
# a fault is delivered well within this.
DELIVERY_DEADLINE_SECONDS = 90.0
# The load runs this long before a fault, during it, and this long after it.
LOAD_BEFORE_SECONDS = 3.0
LOAD_AFTER_SECONDS = 5.0
NONE = {"mongodb": 0, "gcs": 0, "webhook": 0}


# The session's settings, but a retry schedule that outlasts the faults: the tests' default (5
# attempts within about 8 s) would hold an event whose destination fails for 15 s with
# max_attempts, where production's (30 attempts over about 4 hours) delivers it once it recovers.
FAULT_FUNCTION_ENV = {**TEST_FUNCTION_ENV, "FORWARD_MAX_ATTEMPTS": "30", "FORWARD_MIN_BACKOFF_SECONDS": "1",
                      "FORWARD_MAX_BACKOFF_SECONDS": "5"}


def own_stack(name: str) -> Callable[..., Iterator[LocalStack]]:
    """A module-scoped fixture: the module's own LocalStack (about 8-15 s to start), stopped at the
    end of the module; while it runs, this process's clients (FIRESTORE_EMULATOR_HOST ...) point at
    it. A module assigns it: ``fault_stack = own_stack("pubsub-faults")``."""

    @pytest.fixture(scope="module")
    def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
        stack = LocalStack(state_dir=tmp_path_factory.mktemp(name), function_env=FAULT_FUNCTION_ENV,
                           log=lambda _: None)
        stack.start()
        try:
            yield stack
        finally:
            stack.stop()

    return fault_stack


# -- faults -------------------------------------------------------------------------------------

def child(stack: LocalStack, name: str) -> Child:
    return next(c for c in stack.children if c.name == name)


@contextlib.contextmanager
def frozen(*children: Child) -> Iterator[None]:
    """Every process of each child's group stopped (SIGSTOP), as a server that hangs: connections
    are still accepted by the kernel, nothing is answered. Resumed (SIGCONT) on leaving."""
    for frozen_child in children:
        os.killpg(frozen_child.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for frozen_child in children:
            os.killpg(frozen_child.process.pid, signal.SIGCONT)


def frozen_for(seconds: float, *children: Child) -> None:
    with frozen(*children):
        time.sleep(seconds)  # the fault itself


def kill(victim: Child) -> int:
    """SIGKILL the child's whole process group (an instance that dies); returns the pid killed."""
    pid = victim.process.pid
    os.killpg(pid, signal.SIGKILL)
    return pid


def restart_pubsub_emulator(stack: LocalStack) -> None:
    """Start the killed Pub/Sub emulator again on its port, and create what the stack had created in
    it: topics, dead-letter hold subscriptions, push subscriptions. The emulator keeps nothing on
    disk: a new one starts empty, and the messages the killed one held are gone."""
    emulator = child(stack, "pubsub-emulator")
    # What LocalStack.start() does once the emulator is up, in the same order.
    starts = emulator.log_path.read_text(errors="replace").count("Server started")
    emulator.respawn()
    wait_until(lambda: emulator.log_path.read_text(errors="replace").count("Server started") > starts,
               60, "the Pub/Sub emulator to start again")
    stack._create_topics()
    stack._create_dead_letter_holds()
    stack._create_push_subscriptions(stack.info["functions"])


def restart_lines(stack: LocalStack, instance: str) -> list[dict[str, Any]]:
    """The supervisor's WARNING lines (stack.log) about one function instance's deaths."""
    path = stack.state_dir / "logs" / "stack.log"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [line for line in lines if line.get("instance") == instance and line["message"] == DIED_MESSAGE]


# -- load ---------------------------------------------------------------------------------------

T = TypeVar("T")


@dataclass
class Sent(Generic[T]):
    """One request of the load, and every answer it got (an HTTP status, or an exception name)."""

    item: T
    answers: list[int | str] = field(default_factory=list)
    acknowledged_at: float | None = None  # time.monotonic() of its success

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None


class Load(Generic[T]):
    """``senders`` clients, each sending a new request (``make()``, then ``send(item)``) every
    ``interval`` seconds until stopped. An answer for which ``resend(answer)`` is true (a retryable
    error, no answer) is followed by the same request again after RESEND_DELAY_SECONDS, as the API
    tells its clients to. ``ok(answer)`` says what counts as acknowledged."""

    def __init__(self, make: Callable[[], T], send: Callable[[T], requests.Response],
                 ok: Callable[[int], bool], resend: Callable[[int | str], bool] = lambda _: False,
                 senders: int = 4, interval: float = 0.25):
        self._make, self._send, self._ok, self._resend = make, send, ok, resend
        self._senders, self._interval = senders, interval
        self.sent: list[Sent[T]] = []
        self.slowest_answer_seconds = 0.0
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._paused = False
        self._in_flight = 0
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> "Load[T]":
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(self._senders)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """No new request; a request being sent again goes on until acknowledged or the deadline."""
        self._stopping.set()
        self.resume()
        for thread in self._threads:
            thread.join(RESEND_DEADLINE_SECONDS + CLIENT_TIMEOUT_SECONDS)

    def pause(self) -> None:
        """Hold every sender before its next request, and wait until no request is in flight."""
        with self._lock:
            self._paused = True
            self._lock.wait_for(lambda: self._in_flight == 0)

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            self._lock.notify_all()

    def _run(self) -> None:
        while not self._stopping.is_set():
            sent = Sent(self._make())
            with self._lock:
                self.sent.append(sent)
            self._deliver(sent)
            self._stopping.wait(self._interval)

    def _deliver(self, sent: Sent[T]) -> None:
        deadline = None
        while True:
            with self._lock:
                self._lock.wait_for(lambda: not self._paused)
                self._in_flight += 1
            started = time.monotonic()
            try:
                try:
                    answer: int | str = self._send(sent.item).status_code
                except requests.RequestException as exc:
                    answer = type(exc).__name__
            finally:
                with self._lock:
                    self._in_flight -= 1
                    self.slowest_answer_seconds = max(self.slowest_answer_seconds, time.monotonic() - started)
                    self._lock.notify_all()
            sent.answers.append(answer)
            if isinstance(answer, int) and self._ok(answer):
                sent.acknowledged_at = time.monotonic()
                return
            if not self._resend(answer):
                return
            if self._stopping.is_set():
                deadline = deadline or time.monotonic() + RESEND_DEADLINE_SECONDS
                if time.monotonic() > deadline:
                    return
            time.sleep(RESEND_DELAY_SECONDS)

    # -- what happened --------------------------------------------------------------------------

    def acknowledged(self) -> list[Sent[T]]:
        return [s for s in self.sent if s.acknowledged]

    def refused(self) -> list[Sent[T]]:
        return [s for s in self.sent if not s.acknowledged]

    def answers(self) -> Counter:
        """How many times each answer was given, over every attempt."""
        return Counter(answer for s in self.sent for answer in s.answers)

    def first_acknowledged_after(self, moment: float) -> float | None:
        """Seconds from ``moment`` (time.monotonic()) to the first success after it."""
        after = [s.acknowledged_at for s in self.sent if s.acknowledged_at and s.acknowledged_at >= moment]
        return round(min(after) - moment, 1) if after else None


# -- a partner with one destination of each kind ------------------------------------------------

@dataclass
class FaultPartner:
    """A partner of its own for one test: a webhook on the stack's sink, a MongoDB collection and a
    bucket, each holding only this partner's events."""

    whitelabel: str
    stack_info: dict[str, Any]

    @classmethod
    def register(cls, stack: LocalStack) -> "FaultPartner":
        partner = cls(f"fault-{uuid.uuid4().hex[:10]}", stack.info)
        create_bucket(stack.project_id, partner.bucket)
        config = local_partner(partner.whitelabel, stack.info["webhook_sink"], bucket=partner.bucket,
                               database=FAULT_DATABASE)
        apply_local_partner(config, firestore.Client(project=stack.project_id))
        return partner

    @property
    def bucket(self) -> str:
        return f"{self.whitelabel}-events"

    @property
    def hook_path(self) -> str:
        return f"/hooks/{self.whitelabel}"

    def event(self) -> dict[str, Any]:
        """A new user.interaction event of this partner, as compact JSON: the bytes every
        destination must receive unchanged."""
        event = spec_example("view")
        event["eventId"] = str(uuid.uuid4())
        event["eventDate"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        event["data"]["whitelabel"] = event["data"]["ownerWhitelabel"] = self.whitelabel
        return event

    def fail_webhook(self, times: int, status: int = 503) -> None:
        """The sink answers ``status`` to this partner's next ``times`` deliveries (0: recovered)."""
        answer = requests.post(f"{self.stack_info['webhook_sink']}/control/fail",
                               params={"path": self.hook_path, "times": times, "status": status}, timeout=10)
        answer.raise_for_status()

    def counts(self, events: dict[str, bytes | None], read_contents: bool = True) -> "DestinationCounts":
        """What each destination holds of ``events`` (eventId -> the bytes published, or None when
        the test does not know them: an event monitor made); ``read_contents``: also compare what
        each holds with those bytes (every Cloud Storage object is downloaded)."""
        ids = set(events)
        mongo = MongoClient(self.stack_info["emulators"]["mongodb"], serverSelectionTimeoutMS=10_000)
        try:
            documents = list(mongo[FAULT_DATABASE][DEMO_COLLECTION].find({"eventId": {"$in": sorted(ids)}}))
        finally:
            mongo.close()
        mongo_copies = Counter(d["eventId"] for d in documents)
        mongo_corrupt = {d["eventId"] for d in documents if events[d["eventId"]] is not None
                         and {k: v for k, v in d.items() if k != "_id"} != json.loads(events[d["eventId"]])}

        objects = {blob.name: blob for blob in storage.Client(project=self.stack_info["project_id"])
                   .list_blobs(self.bucket, prefix=DEMO_PREFIX)}
        gcs_copies: Counter = Counter()
        gcs_corrupt: set[str] = set()
        for name, blob in objects.items():
            event_id = Path(name).stem
            if event_id in ids:
                gcs_copies[event_id] += 1
                expected = events[event_id] if read_contents else None
                if expected is not None and blob.download_as_bytes() != expected:
                    gcs_corrupt.add(event_id)

        received = requests.get(f"{self.stack_info['webhook_sink']}/deliveries", params={"path": self.hook_path},
                                timeout=30).json()["deliveries"]
        accepted = [d for d in received if d["answeredStatus"] == 200 and d["webhookId"] in ids]
        webhook_copies = Counter(d["webhookId"] for d in accepted)
        webhook_corrupt = {d["webhookId"] for d in accepted if not d["signatureValid"]
                           or events[d["webhookId"]] not in (None, d["body"].encode())}
        refused = sum(1 for d in received if d["answeredStatus"] != 200)
        return DestinationCounts(mongo_copies, mongo_corrupt, gcs_copies, gcs_corrupt, webhook_copies,
                                 webhook_corrupt, refused)


@dataclass
class DestinationCounts:
    mongodb: Counter
    mongodb_corrupt: set[str]
    gcs: Counter
    gcs_corrupt: set[str]
    webhook: Counter  # deliveries the sink accepted (200), by webhook-id
    webhook_corrupt: set[str]  # a bad signature, or a body other than the event's bytes
    webhook_refused: int  # deliveries the sink answered with a failure

    def missing(self, event_ids: set[str]) -> dict[str, int]:
        return {"mongodb": len(event_ids - set(self.mongodb)), "gcs": len(event_ids - set(self.gcs)),
                "webhook": len(event_ids - set(self.webhook))}

    def duplicates(self) -> dict[str, int]:
        """Copies beyond the first: MongoDB and Cloud Storage must have none; the webhook's are
        deliveries its receiver deduplicates by webhook-id."""
        return {name: sum(n - 1 for n in copies.values())
                for name, copies in (("mongodb", self.mongodb), ("gcs", self.gcs), ("webhook", self.webhook))}

    def corrupt(self) -> dict[str, int]:
        return {"mongodb": len(self.mongodb_corrupt), "gcs": len(self.gcs_corrupt),
                "webhook": len(self.webhook_corrupt)}


def failed_attempts(stack: LocalStack, whitelabel: str) -> dict[str, int]:
    """The forwarders' ``delivery failed`` lines for one partner, by destination kind: each an
    attempt Pub/Sub (or the forwarder) retries."""
    failed: Counter = Counter()
    for log in (stack.state_dir / "logs").glob("function-forward_*.log"):
        for line in log.read_text(errors="replace").splitlines():
            if '"delivery failed"' in line and whitelabel in line:
                entry = json.loads(line)
                if entry.get("message") == "delivery failed" and entry.get("partner") == whitelabel:
                    failed[entry["kind"]] += 1
    return dict(failed)


def dead_lettered(stack: LocalStack, event_ids: set[str]) -> dict[str, int]:
    """How many of ``event_ids`` each forwarder's dead-letter hold subscription keeps (they are
    released untouched, for a replay)."""
    subscriber = pubsub_v1.SubscriberClient()
    held = {}
    for spec in stack.topology.subscriptions:
        hold = HoldSubscription(subscriber, stack.project_id, spec)
        try:
            held[spec.name] = len({letter.attributes.get("eventId") for letter in hold.pull_all()} & event_ids)
        finally:
            hold.release()
    return held


def wait_for_deliveries(partner: FaultPartner, events: dict[str, bytes | None], acknowledged: set[str],
                        timeout: float) -> tuple[DestinationCounts, float | None]:
    """Poll the destinations until every acknowledged event is at each, or the deadline; returns the
    last counts and when (time.monotonic()) the last event arrived, None if the deadline passed
    with events missing."""
    deadline = time.monotonic() + timeout
    while True:
        counts = partner.counts(events, read_contents=False)
        if not any(counts.missing(acknowledged).values()):
            return partner.counts(events), time.monotonic()
        if time.monotonic() > deadline:
            return partner.counts(events), None
        time.sleep(0.5)


def seconds_since(moment: float, later: float | None) -> float | None:
    return None if later is None else round(later - moment, 1)


def ingest_load(stack: LocalStack, partner: FaultPartner, events: dict[str, bytes], **options: Any) -> Load:
    """Bare events posted to ingest: 200 is acknowledged (Pub/Sub confirmed); a 424
    (PUBSUB_UNAVAILABLE, "send again") or no answer is sent again, as README's Ingest tells clients."""
    url = stack.info["functions"]["ingest"] + "/v1/events"
    headers = {"Authorization": f"Bearer {stack.info['dev_api_key']}", "Content-Type": "application/json"}

    def make() -> str:
        event = partner.event()
        events[event["eventId"]] = encode_event(event)
        return event["eventId"]

    def send(event_id: str) -> requests.Response:
        return requests.post(url, data=events[event_id], headers=headers, timeout=CLIENT_TIMEOUT_SECONDS)

    return Load(make, send, ok=lambda status: status == 200,
                resend=lambda answer: answer == 424 or isinstance(answer, str), **options)


@dataclass
class IngestRun:
    partner: FaultPartner
    events: dict[str, bytes]  # eventId -> the bytes posted
    load: Load
    fault_ended_at: float = 0.0  # time.monotonic()


def ingest_under(stack: LocalStack, fault: Callable[[IngestRun], None]) -> IngestRun:
    """Clients post events of a partner of their own to ingest LOAD_BEFORE_SECONDS before
    ``fault(run)``, while it runs, and LOAD_AFTER_SECONDS after it; returns once every event
    sent was acknowledged (or given up on)."""
    partner = FaultPartner.register(stack)
    events: dict[str, bytes] = {}
    run = IngestRun(partner, events, ingest_load(stack, partner, events))
    with run.load:
        time.sleep(LOAD_BEFORE_SECONDS)
        fault(run)
        run.fault_ended_at = time.monotonic()
        time.sleep(LOAD_AFTER_SECONDS)
    return run


def assert_acknowledged_events_delivered(stack: LocalStack, fault: str, run: IngestRun, **figures: Any) -> None:
    """Every event ingest acknowledged is at each destination of the run's partner, byte for byte,
    once at MongoDB and Cloud Storage (the webhook's copies carry the same webhook-id, which its
    receiver deduplicates by); reports the figures."""
    partner, events, load, fault_ended_at = run.partner, run.events, run.load, run.fault_ended_at
    acknowledged = {sent.item for sent in load.acknowledged()}
    counts, done_at = wait_for_deliveries(partner, events, acknowledged, DELIVERY_DEADLINE_SECONDS)
    missing = counts.missing(acknowledged)
    not_delivered = set().union(*(acknowledged - set(copies) for copies in (counts.mongodb, counts.gcs,
                                                                             counts.webhook)))
    held = dead_lettered(stack, not_delivered) if not_delivered else {}
    report(fault, sent=len(load.sent), acknowledged=len(acknowledged), answers=dict(load.answers()), **figures,
           first_acknowledged_after_fault=load.first_acknowledged_after(fault_ended_at),
           all_delivered_after_fault=seconds_since(fault_ended_at, done_at),
           failed_attempts=failed_attempts(stack, partner.whitelabel), webhook_refused=counts.webhook_refused,
           missing=missing, dead_lettered=held, duplicates=counts.duplicates(), corrupt=counts.corrupt())
    assert load.refused() == [], "every event should have been acknowledged, sent again if need be"
    assert missing == NONE, (f"acknowledged events not delivered {DELIVERY_DEADLINE_SECONDS:g} s after the load "
                             f"stopped; of them in the dead-letter hold subscriptions: {held}")
    assert counts.duplicates()["mongodb"] == counts.duplicates()["gcs"] == 0
    assert counts.corrupt() == NONE


def report(fault: str, **figures: Any) -> None:
    """One line of figures per fault (docs/reliability.md quotes them; `pytest -rP` shows them)."""
    print(f"FAULT {fault}: " + ", ".join(f"{name}={value}" for name, value in figures.items()))
