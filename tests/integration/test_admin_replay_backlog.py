"""`deadletters replay` on a backlog of a few hundred dead letters, run as an operator runs it (a
subprocess): interrupted with Ctrl-C, continued with --limit, then finished. Every dead letter is
republished exactly once (counted on a subscription of its own to the republished topic), and
the hold is empty at the end.

It runs in a Google Cloud project of its own on the stack's emulators, with the forwarder's
dead-letter topic, hold subscription and topic ``events`` created here and no function
subscribed: the replayed events are counted, not forwarded."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from google.cloud import pubsub_v1

from shared.events.message import encode_event
from shared.forwarding.holds import REASON_ATTRIBUTE
from shared.forwarding.message import DESTINATION_ATTRIBUTE, REPLAY_FOR_ATTRIBUTE
from tests.conftest import fresh_event, poll
from tools import topology

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
FORWARDER = "forward_webhook"
BACKLOG = 300


class Backlog:
    def __init__(self, stack: dict[str, Any]):
        self.project = f"replay-{uuid.uuid4().hex[:8]}"
        self.env = {**os.environ, "GOOGLE_CLOUD_PROJECT": self.project,
                    "PUBSUB_EMULATOR_HOST": stack["emulators"]["pubsub"],
                    "FIRESTORE_EMULATOR_HOST": stack["emulators"]["firestore"]}
        spec = topology.load().function(FORWARDER).subscription
        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()
        dead_letter_topic = self.publisher.topic_path(self.project, spec.dead_letter_hold.topic)
        events_topic = self.publisher.topic_path(self.project, spec.topic)
        self.hold = self.subscriber.subscription_path(self.project, spec.dead_letter_hold.name)
        self.republished = self.subscriber.subscription_path(self.project, "replay-check")
        for topic in (dead_letter_topic, events_topic):
            self.publisher.create_topic(name=topic)
        self.subscriber.create_subscription(name=self.hold, topic=dead_letter_topic, ack_deadline_seconds=60)
        self.subscriber.create_subscription(name=self.republished, topic=events_topic, ack_deadline_seconds=60)
        self.dead_letter_topic = dead_letter_topic

    def hold_events(self, count: int) -> list[str]:
        """Dead letters as a forwarder leaves them: the event, its reason and destination."""
        ids, futures = [], []
        for _ in range(count):
            event = fresh_event("view")
            ids.append(event["eventId"])
            futures.append(self.publisher.publish(
                self.dead_letter_topic, encode_event(event), eventId=event["eventId"],
                **{REASON_ATTRIBUTE: "max_attempts", DESTINATION_ATTRIBUTE: "demo-webhook"}))
        for future in futures:
            future.result(timeout=30)
        return ids

    def pull(self, subscription: str, ack: bool) -> list[Any]:
        received = self.subscriber.pull(request={"subscription": subscription, "max_messages": 1000,
                                                 "return_immediately": True}, timeout=30).received_messages
        if received and ack:
            self.subscriber.acknowledge(request={"subscription": subscription,
                                                 "ack_ids": [r.ack_id for r in received]})
        return [r.message for r in received]

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "tools.admin", "deadletters", "replay", "--all", "--function", FORWARDER, *args]


@pytest.fixture
def backlog(stack) -> Backlog:
    return Backlog(stack)


def test_an_interrupted_replay_continues_where_it_stopped_and_replays_each_once(backlog):
    ids = backlog.hold_events(BACKLOG)

    # Ctrl-C once the 100th is replayed: the run stops after the event in flight.
    run = subprocess.Popen(backlog.command(), cwd=ROOT, env=backlog.env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in run.stdout:
        lines.append(line)
        if line.startswith("[100] "):
            run.send_signal(signal.SIGINT)
    assert run.wait(timeout=120) == 130, "".join(lines)
    output = "".join(lines)
    first = int(output.split("\nreplayed ")[1].split(" ")[0])
    assert 100 <= first < BACKLOG and "interrupted" in output and "run the same command again to continue" in output
    assert len([line for line in lines if line.startswith("[")]) == first

    limited = subprocess.run(backlog.command("--limit", "50"), cwd=ROOT, env=backlog.env, capture_output=True,
                             text=True, timeout=120)
    assert limited.returncode == 0, limited.stdout + limited.stderr
    assert "replayed 50 dead letter(s)" in limited.stdout and "stopped at --limit 50" in limited.stdout

    rest = subprocess.run(backlog.command(), cwd=ROOT, env=backlog.env, capture_output=True, text=True, timeout=300)
    assert rest.returncode == 0, rest.stdout + rest.stderr
    assert f"replayed {BACKLOG - first - 50} dead letter(s)" in rest.stdout

    seen: Counter[str] = Counter()

    def all_republished() -> bool:
        for message in backlog.pull(backlog.republished, ack=True):
            assert message.attributes[REPLAY_FOR_ATTRIBUTE] == FORWARDER
            seen[message.attributes["eventId"]] += 1
        return len(seen) >= BACKLOG

    poll(all_republished, timeout=60, interval=0.2, what=f"{BACKLOG} republished events")
    for _ in range(3):  # nothing republished twice arrives later
        all_republished()
    assert set(seen) == set(ids) and set(seen.values()) == {1}
    assert backlog.pull(backlog.hold, ack=False) == []


def test_on_a_terminal_the_replay_shows_a_progress_bar(backlog):
    backlog.hold_events(5)
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    run = subprocess.Popen(backlog.command(), cwd=ROOT, env=backlog.env, stdout=terminal, stderr=terminal)
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    assert run.wait(timeout=120) == 0
    shown = b"".join(chunks).decode()
    assert "replayed: " in shown and "replayed:5event" in shown.replace(" ", "")
    assert "[1] " not in shown  # no line per event on a terminal
    assert "replayed 5 dead letter(s)" in shown
