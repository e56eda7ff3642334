"""``deadletters``: the events the forwarders hold (list them, replay them).

Each forwarder's dead-letter topic ``<function>-dead-letter`` has a pull subscription
``<function>-dead-letter-hold`` (topology.yaml) that keeps its messages for 7 days. Each carries
its reason (``deadLetterReason``, see shared/forwarding/holds.py); a message Pub/Sub itself
dead-lettered after its maximum push attempts shows as ``max_attempts``.

``replay`` republishes each chosen message to the function's topic (``events``) with its
original data and attributes plus ``replayFor=<function>``: only that forwarder acts on it (at
its ``destinationId`` only, when it was held for one destination), with a new round of retries,
and its delivery log skips destinations already delivered, so a replayed event is delivered once
in effect. The held entry of the delivery log is marked ``replayed`` first; a dead letter is
removed only once Pub/Sub confirmed the republish. Events held as ``event_id_conflict`` would
conflict again: they are replayed only with ``--fresh-event-ids``, which gives each a new eventId
derived from its original eventId and content (the same for every forwarder) and records the
original as the attribute ``originalEventId``. Messages not chosen are released untouched.

A large backlog: ``replay`` shows a progress bar on a terminal (one line per event otherwise)
and stops cleanly on Ctrl-C, or after ``--limit N``: the event in flight is finished (republished,
then acknowledged), the others stay held, and running the same command again continues. A dead
letter is acknowledged only after Pub/Sub confirmed its republish, so none is lost; one delivered
again to the same run (its lease ran out) is recognised by its message id and not republished.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from google.api_core.exceptions import NotFound
from google.cloud import pubsub_v1
from tqdm import tqdm

from shared.events.message import encode_event
from shared.forwarding.delivery_log import DeliveryLog
from shared.forwarding.holds import (
    DETAIL_ATTRIBUTE,
    ENTRY_ATTRIBUTE,
    EVENT_ID_CONFLICT,
    HOLD_ATTRIBUTES,
    MAX_ATTEMPTS,
    REASON_ATTRIBUTE,
    REASONS,
)
from shared.forwarding.message import (
    DESTINATION_ATTRIBUTE,
    ORIGINAL_EVENT_ID_ATTRIBUTE,
    REDRIVE_ATTRIBUTE,
    REPLAY_FOR_ATTRIBUTE,
    ForwardedEvent,
    MalformedEvent,
    PubSubMessage,
    fresh_event_id,
)
from shared.platform.clients import firestore_client
from shared.platform.publisher import EventPublisher, OutgoingMessage
from shared.platform.settings import project_id
from tools import topology

PULL_BATCH = 100
# The emulator and Pub/Sub may answer a pull with nothing while messages remain: ask again a few
# times before concluding the subscription is drained.
EMPTY_PULLS_TO_STOP = 3
_DEAD_LETTER_PREFIX = "CloudPubSubDeadLetter"
_NOT_REPLAYED = {*HOLD_ATTRIBUTES, REPLAY_FOR_ATTRIBUTE, REDRIVE_ATTRIBUTE}


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def register(groups: argparse._SubParsersAction) -> None:
    dead = groups.add_parser("deadletters", help="events the forwarders hold: list and replay")
    commands = dead.add_subparsers(dest="command", required=True)
    functions = [s.name for s in topology.load().subscriptions]

    listing = commands.add_parser("list", help="list dead letters (they stay where they are)")
    listing.add_argument("--function", choices=functions, help="only this function's (default: all)")
    listing.add_argument("--partner", help="only this partner's (whitelabel)")
    listing.add_argument("--reason", choices=REASONS, help="only those held for this reason")
    listing.set_defaults(run=_list)

    replay = commands.add_parser("replay", help="deliver dead letters again (all, or one partner's)")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every dead letter")
    which.add_argument("--partner", help="only this partner's (whitelabel)")
    replay.add_argument("--function", choices=functions, help="only this function's (default: all)")
    replay.add_argument("--reason", choices=REASONS, help="only those held for this reason")
    replay.add_argument("--limit", type=positive_int, help="replay at most this many (run again to continue)")
    replay.add_argument("--fresh-event-ids", action="store_true",
                        help="replay events held as event_id_conflict under a new eventId (otherwise left)")
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
        """The reason code; Pub/Sub's own dead-lettering is ``max_attempts``."""
        return self.attributes.get(REASON_ATTRIBUTE) or MAX_ATTEMPTS

    @property
    def detail(self) -> str:
        if REASON_ATTRIBUTE in self.attributes:
            return self.attributes.get(DETAIL_ATTRIBUTE, "")
        attempts = self.attributes.get(f"{_DEAD_LETTER_PREFIX}SourceDeliveryCount", "?")
        return f"Pub/Sub dead-lettered it after {attempts} push deliveries"

    @property
    def target(self) -> str:
        """The destination it was held for, or ``*``: the partner as a whole."""
        return self.attributes.get(DESTINATION_ATTRIBUTE) or "*"

    def replay_message(self, fresh_ids: bool) -> OutgoingMessage:
        attributes = {k: v for k, v in self.attributes.items()
                      if not k.startswith(_DEAD_LETTER_PREFIX) and k not in _NOT_REPLAYED}
        attributes[REPLAY_FOR_ATTRIBUTE] = self.function
        data = self.message.data
        if fresh_ids and self.reason == EVENT_ID_CONFLICT:
            event = ForwardedEvent.from_message(self.message)
            new_id = fresh_event_id(event.event_id, event.content_hash)
            data = encode_event({**event.body, "eventId": new_id})
            attributes.update(eventId=new_id, **{ORIGINAL_EVENT_ID_ATTRIBUTE: event.event_id})
        return OutgoingMessage(data, attributes)


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
            # The whole batch is leased now: a caller that stops early releases what it did not take.
            self._leased.extend(received.ack_id for received in response.received_messages)
            for received in response.received_messages:
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


def hold_subscriptions(function: str | None = None) -> list[HoldSubscription]:
    subscriber = pubsub_v1.SubscriberClient()
    project = project_id()
    return [HoldSubscription(subscriber, project, spec) for spec in topology.load().subscriptions
            if function in (None, spec.name)]


def chosen(partner: str | None, reasons: set[str] | None) -> Callable[[DeadLetter], bool]:
    return lambda letter: (partner is None or letter.partner == partner) and (reasons is None or letter.reason in reasons)


def _list(args: argparse.Namespace) -> int:
    wanted = chosen(args.partner, {args.reason} if args.reason else None)
    count = 0
    print(f"{'FUNCTION':<16} {'EVENT ID':<36} {'PARTNER':<20} {'TARGET':<16} {'DEAD-LETTERED AT':<32} REASON")
    for hold in hold_subscriptions(args.function):
        try:
            for letter in hold.pull_all():
                if wanted(letter):
                    count += 1
                    print(f"{letter.function:<16} {letter.attributes.get('eventId', '?'):<36} "
                          f"{letter.partner or '?':<20} {letter.target:<16} {letter.dead_lettered_at:<32} "
                          f"{letter.reason}: {letter.detail}")
        finally:
            hold.release()
    print(f"{count} dead letter(s)")
    return 0


def _replay(args: argparse.Namespace) -> int:
    return replay(function=args.function, partner=args.partner, reasons={args.reason} if args.reason else None,
                  fresh_event_ids=args.fresh_event_ids, limit=args.limit)


class ReplayProgress:
    """A progress bar on a terminal; one line per replayed event otherwise (a pipe, a log file,
    a test), written to ``out`` when given."""

    def __init__(self, out: Callable[[str], None] | None, total: int | None):
        self._bar = tqdm(total=total, unit="event", desc="replayed", dynamic_ncols=True) \
            if out is None and sys.stdout.isatty() else None
        self._out = out or (lambda line: print(line, flush=True))

    def replayed(self, line: str) -> None:
        if self._bar is not None:
            self._bar.update(1)
        else:
            self._out(line)

    def say(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line)
        else:
            self._out(line)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class StopRequest:
    """Ctrl-C (SIGINT) or SIGTERM asks the replay to stop after the event in flight, so that no
    dead letter is republished without being acknowledged; a second Ctrl-C stops at once. Signal
    handlers belong to the main thread: elsewhere the default behaviour stays."""

    _SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in self._SIGNALS}
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("stopping after the event in flight (Ctrl-C again to stop at once)", file=sys.stderr, flush=True)


def replay(*, function: str | None, partner: str | None, reasons: set[str] | None, fresh_event_ids: bool,
           limit: int | None = None, out: Callable[[str], None] | None = None) -> int:
    """Replay the chosen dead letters (at most ``limit``): 0 when every one chosen was replayed or
    the limit reached, 1 when a republish failed, 130 when interrupted. Each dead letter is
    acknowledged only once Pub/Sub confirmed its republish, so an interrupted replay continues
    where it stopped when run again."""
    wanted = chosen(partner, reasons)
    project = project_id()
    log = DeliveryLog(firestore_client(), keep_days=30)
    publishers: dict[str, EventPublisher] = {}
    progress = ReplayProgress(out, limit)
    replayed = conflicts_left = 0
    # Message ids replayed by this run: a dead letter whose lease ran out before its acknowledgement
    # is delivered to this pull again, and must not be republished twice.
    done: set[str] = set()
    with StopRequest() as stop:
        def enough() -> bool:
            return stop.requested or (limit is not None and replayed >= limit)

        try:
            for hold in hold_subscriptions(function):
                publisher = publishers.setdefault(hold.source_topic, EventPublisher(project, hold.source_topic, 10.0))
                try:
                    for letter in hold.pull_all():
                        if enough():
                            break
                        if letter.message.message_id in done:
                            hold.acknowledge(letter)
                            continue
                        if not wanted(letter):
                            continue
                        if letter.reason == EVENT_ID_CONFLICT and not fresh_event_ids:
                            conflicts_left += 1
                            continue
                        message = letter.replay_message(fresh_event_ids)
                        entry = letter.attributes.get(ENTRY_ATTRIBUTE)
                        marked = entry is not None and log.mark_replayed(entry, replayed_as=_new_id(letter, message))
                        outcome = publisher.publish_many([message])[0]
                        if not outcome.published:
                            if marked:
                                log.unmark_replayed(entry)
                            progress.close()
                            print(f"error: could not republish event {letter.attributes.get('eventId')}: "
                                  f"{outcome.error}; it stays in {hold.function}'s dead letters. {replayed} replayed "
                                  "so far; run the command again to continue.", file=sys.stderr)
                            return 1
                        hold.acknowledge(letter)
                        done.add(letter.message.message_id)
                        replayed += 1
                        as_new = f" as {message.attributes['eventId']}" if _new_id(letter, message) else ""
                        progress.replayed(
                            f"[{replayed}] {hold.function}: replayed event {letter.attributes.get('eventId', '?')}"
                            f"{as_new} to {letter.target} (partner {letter.partner or '?'}, was: {letter.reason})")
                finally:
                    hold.release()
                if enough():
                    break
        finally:
            progress.close()
    progress.say(f"replayed {replayed} dead letter(s)")
    if enough():
        progress.say(f"{'interrupted' if stop.requested else f'stopped at --limit {limit}'}: the others are still held; "
            "run the same command again to continue")
    if conflicts_left:
        progress.say(f"{conflicts_left} event_id_conflict dead letter(s) left: they would conflict again; replay them "
            "under new eventIds with --fresh-event-ids")
    return 130 if stop.requested else 0


def _new_id(letter: DeadLetter, message: OutgoingMessage) -> str | None:
    new = message.attributes.get("eventId")
    return new if new != letter.attributes.get("eventId") else None

