"""``deadletters``: messages a push-triggered function gave up on (list them, replay them).

Each such function's dead-letter topic ``<function>-dead-letter`` has a pull subscription
``<function>-dead-letter-hold`` (topology.yaml) that keeps its messages for 7 days. ``replay``
republishes each chosen message to the function's topic (``events`` for the forwarders) with its
original data and attributes plus ``replayFor=<function>``: only that forwarder acts on it (the
other forwarders acknowledge it at once), and its delivery log skips destinations already
delivered, so a replayed event is delivered once in effect. A message is acknowledged (removed)
only after Pub/Sub confirmed the republish; messages not chosen are released untouched.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from google.api_core.exceptions import NotFound
from google.cloud import pubsub_v1

from shared.forwarding.forwarder import REASON_ATTRIBUTE, SOURCE_ATTRIBUTE
from shared.forwarding.message import (
    REPLAY_FOR_ATTRIBUTE,
    ForwardedEvent,
    MalformedEvent,
    PubSubMessage,
)
from shared.platform.publisher import EventPublisher, OutgoingMessage
from shared.platform.settings import project_id
from tools import topology

PULL_BATCH = 100
# The emulator and Pub/Sub may answer a pull with nothing while messages remain: ask again a few
# times before concluding the subscription is drained.
EMPTY_PULLS_TO_STOP = 3
_DEAD_LETTER_PREFIX = "CloudPubSubDeadLetter"
_OWN_ATTRIBUTES = {REASON_ATTRIBUTE, SOURCE_ATTRIBUTE, REPLAY_FOR_ATTRIBUTE}


def register(groups: argparse._SubParsersAction) -> None:
    dead = groups.add_parser("deadletters", help="events the forwarders gave up on: list and replay")
    commands = dead.add_subparsers(dest="command", required=True)
    functions = [s.name for s in topology.load().subscriptions]

    listing = commands.add_parser("list", help="list dead letters (they stay where they are)")
    listing.add_argument("--function", choices=functions, help="only this function's (default: all)")
    listing.add_argument("--partner", help="only this partner's (whitelabel)")
    listing.set_defaults(run=_list)

    replay = commands.add_parser("replay", help="deliver dead letters again (all, or one partner's)")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every dead letter")
    which.add_argument("--partner", help="only this partner's (whitelabel)")
    replay.add_argument("--function", choices=functions, help="only this function's (default: all)")
    replay.set_defaults(run=_replay)


@dataclass(frozen=True)
class DeadLetter:
    function: str
    ack_id: str
    message: PubSubMessage
    dead_lettered_at: str

    @property
    def attributes(self):
        return self.message.attributes

    @property
    def partner(self) -> str | None:
        try:
            return ForwardedEvent.from_message(self.message).whitelabel
        except MalformedEvent:
            return self.attributes.get("whitelabel")

    @property
    def reason(self) -> str:
        if REASON_ATTRIBUTE in self.attributes:
            return self.attributes[REASON_ATTRIBUTE]
        attempts = self.attributes.get(f"{_DEAD_LETTER_PREFIX}SourceDeliveryCount", "?")
        return f"{attempts} failed delivery attempts"

    def replay_message(self) -> OutgoingMessage:
        attributes = {k: v for k, v in self.attributes.items()
                      if not k.startswith(_DEAD_LETTER_PREFIX) and k not in _OWN_ATTRIBUTES}
        return OutgoingMessage(self.message.data, {**attributes, REPLAY_FOR_ATTRIBUTE: self.function})


class HoldSubscription:
    """One function's dead letters. Messages pulled stay leased until acknowledged or released."""

    def __init__(self, subscriber: pubsub_v1.SubscriberClient, project_id: str, spec: topology.PushSubscription):
        self.function = spec.name
        self.source_topic = spec.topic
        self._subscriber = subscriber
        self._path = subscriber.subscription_path(project_id, spec.dead_letter_hold.name)
        self._leased: list[str] = []

    def pull_all(self) -> Iterator[DeadLetter]:
        empty = 0
        while empty < EMPTY_PULLS_TO_STOP:
            try:
                response = self._subscriber.pull(
                    request={"subscription": self._path, "max_messages": PULL_BATCH, "return_immediately": True},
                    timeout=30)
            except NotFound:
                print(f"warning: {self._path} does not exist (is the stack older than topology.yaml?); "
                      "skipped", file=sys.stderr)
                return
            if not response.received_messages:
                empty += 1
                time.sleep(0.2)
                continue
            empty = 0
            for received in response.received_messages:
                self._leased.append(received.ack_id)
                m = received.message
                yield DeadLetter(self.function, received.ack_id,
                                 PubSubMessage(bytes(m.data), dict(m.attributes), m.message_id),
                                 m.publish_time.isoformat() if m.publish_time else "")

    def acknowledge(self, letter: DeadLetter) -> None:
        self._subscriber.acknowledge(request={"subscription": self._path, "ack_ids": [letter.ack_id]})
        self._leased.remove(letter.ack_id)

    def release(self) -> None:
        """Make every message still leased available again at once."""
        for start in range(0, len(self._leased), 1000):
            self._subscriber.modify_ack_deadline(request={
                "subscription": self._path, "ack_ids": self._leased[start:start + 1000], "ack_deadline_seconds": 0})
        self._leased.clear()


def _holds(args: argparse.Namespace) -> list[HoldSubscription]:
    subscriber = pubsub_v1.SubscriberClient()
    project = project_id()
    return [HoldSubscription(subscriber, project, spec) for spec in topology.load().subscriptions
            if args.function in (None, spec.name)]


def _chosen(partner: str | None) -> Callable[[DeadLetter], bool]:
    return lambda letter: partner is None or letter.partner == partner


def _list(args: argparse.Namespace) -> int:
    chosen = _chosen(args.partner)
    count = 0
    print(f"{'FUNCTION':<16} {'EVENT ID':<36} {'PARTNER':<20} {'DEAD-LETTERED AT':<32} REASON")
    for hold in _holds(args):
        try:
            for letter in hold.pull_all():
                if chosen(letter):
                    count += 1
                    print(f"{letter.function:<16} {letter.attributes.get('eventId', '?'):<36} "
                          f"{letter.partner or '?':<20} {letter.dead_lettered_at:<32} {letter.reason}")
        finally:
            hold.release()
    print(f"{count} dead letter(s)")
    return 0


def _replay(args: argparse.Namespace) -> int:
    chosen = _chosen(args.partner)
    project = project_id()
    publishers: dict[str, EventPublisher] = {}
    replayed = 0
    for hold in _holds(args):
        publisher = publishers.setdefault(hold.source_topic, EventPublisher(project, hold.source_topic, 10.0))
        try:
            for letter in hold.pull_all():
                if not chosen(letter):
                    continue
                outcome = publisher.publish_many([letter.replay_message()])[0]
                if not outcome.published:
                    print(f"error: could not republish event {letter.attributes.get('eventId')}: {outcome.error}; "
                          f"it stays in {hold.function}'s dead letters. {replayed} replayed so far.", file=sys.stderr)
                    return 1
                hold.acknowledge(letter)
                replayed += 1
                print(f"[{replayed}] {hold.function}: replayed event {letter.attributes.get('eventId', '?')} "
                      f"(partner {letter.partner or '?'}, was: {letter.reason})", flush=True)
        finally:
            hold.release()
    print(f"replayed {replayed} dead letter(s)")
    return 0
