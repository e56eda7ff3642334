"""The delivery log: what happened to each event at each destination, and what is still owed.

Firestore ``deliveries/{eventId}:{destinationId}`` is one event at one destination:

- ``status``: ``delivering`` (an attempt is in flight), ``delivered``, ``retrying`` (the last
  attempt failed; the next is due at ``nextAttemptAt``), ``failed`` (an event too large to keep
  here failed; Pub/Sub retries it), ``dead_lettered`` (held: ``reason`` and ``detail`` say why,
  the dead letter holds the event) or ``replayed`` (an operator replayed the dead letter);
- ``contentHash``: SHA-256 of the event's canonical JSON, claimed by the first message with this
  eventId, so another event reusing the eventId is told apart from a duplicate;
- ``attempts`` (all attempts) and ``roundAttempts`` (since the first delivery or the last replay:
  what the retry policy counts), ``lastResult``, ``lastHttpStatus``, ``firstAttemptAt``,
  ``lastAttemptAt``, ``deliveredAt``, ``deadLetteredAt``, ``expireAt`` (DELIVERY_LOG_DAYS; a TTL
  policy deletes it lazily, so an entry past its expireAt counts as absent);
- while the delivery is not final: ``nextAttemptAt``, ``event`` (the event's bytes,
  zlib-compressed) and ``attributes``, so the re-driver can make the retry without Pub/Sub
  keeping the message: a forwarder acknowledges a failed delivery once this is written.

``deliveries/{eventId}`` (no destination) records which content owns the eventId: the first
forwarder that handles an event creates it with the event's ``contentHash``, and every forwarder
compares with it, so all destinations agree on which of two events reusing an eventId is the one
delivered under it (the other is held as ``event_id_conflict``).

Holds that are not about one destination's own entry get their own entries, so an original
delivery's entry is never overwritten: ``{eventId}~{hash16}:*{kind}`` when the whole partner is
held (unknown, disabled, deleted, no destinations) and ``{eventId}~{hash16}:{destinationId}`` for
an event that reused an eventId (``hash16``: the first 16 hex digits of its contentHash). The
document id starts with the eventId (a UUIDv4), which spreads writes over the key space.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from google.api_core import exceptions as api_exceptions
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.forwarding.holds import Hold
from shared.platform.clock import Clock, utc_now

COLLECTION = "deliveries"
DELIVERING = "delivering"
DELIVERED = "delivered"
RETRYING = "retrying"
FAILED = "failed"
DEAD_LETTERED = "dead_lettered"
REPLAYED = "replayed"
# Statuses the re-driver acts on once nextAttemptAt has passed.
PENDING = (RETRYING, DELIVERING)
# Firestore takes 1 MiB per document: an event whose compressed bytes exceed this is not kept
# here, and a failed delivery of it is retried by Pub/Sub instead (README, "Retries").
MAX_STORED_EVENT_BYTES = 900 * 1024
# What entries() reads: everything but the stored event.
_SUMMARY_FIELDS = ["status", "attempts", "roundAttempts", "contentHash", "expireAt", "unansweredRedrives",
                   "nextAttemptAt"]


def entry_id(event_id: str, destination_id: str) -> str:
    return f"{event_id}:{destination_id}"


def hold_entry_id(event_id: str, content_hash: str, target: str) -> str:
    """A hold's own entry: ``target`` is a destination id or ``*<kind>`` for the whole partner."""
    return f"{event_id}~{content_hash[:16]}:{target}"


def partner_target(kind: str) -> str:
    return f"*{kind}"


@dataclass(frozen=True)
class Attempt:
    """The outcome of one attempt at one destination."""

    ok: bool
    # What the destination answered: "HTTP 200", "already stored", "timeout", "ConnectionError" ...
    detail: str
    http_status: int | None = None
    # The destination can never accept this event as it is: hold it at once, do not retry.
    permanent: bool = False


@dataclass(frozen=True)
class StoredEvent:
    """What the re-driver needs to make a retry: the event's bytes and attributes."""

    data: bytes
    attributes: Mapping[str, str]

    @cached_property
    def fields(self) -> dict[str, Any] | None:
        """The entry fields that keep it, or None when it is too large for a Firestore document."""
        compressed = zlib.compress(self.data)
        if len(compressed) > MAX_STORED_EVENT_BYTES:
            return None
        return {"event": compressed, "attributes": dict(self.attributes)}

    @classmethod
    def from_fields(cls, data: Mapping[str, Any]) -> "StoredEvent | None":
        if not data.get("event"):
            return None
        return cls(zlib.decompress(data["event"]), dict(data.get("attributes") or {}))


@dataclass(frozen=True)
class LogEntry:
    exists: bool
    status: str | None = None
    attempts: int = 0
    round_attempts: int = 0
    content_hash: str | None = None
    unanswered_redrives: int = 0
    # When the re-driver takes over if nothing is recorded before (None: it never will).
    next_attempt_at: datetime | None = None

    @property
    def delivered(self) -> bool:
        return self.status == DELIVERED

    @classmethod
    def of(cls, data: Mapping[str, Any] | None, now: datetime) -> "LogEntry":
        if data is None or (data.get("expireAt") is not None and data["expireAt"] <= now):
            return cls(exists=False)
        return cls(True, data.get("status"), int(data.get("attempts", 0)), int(data.get("roundAttempts", 0)),
                   data.get("contentHash"), int(data.get("unansweredRedrives", 0)), data.get("nextAttemptAt"))


@dataclass(frozen=True)
class Delivery:
    """One event at one destination (or ``*<kind>``, the partner as a whole) of one forwarder."""

    event_id: str
    destination_id: str
    partner: str | None
    kind: str
    forwarder: str
    content_hash: str

    def identity(self) -> dict[str, Any]:
        return {"eventId": self.event_id, "destinationId": self.destination_id, "partner": self.partner,
                "kind": self.kind, "forwarder": self.forwarder, "contentHash": self.content_hash}


@dataclass(frozen=True)
class DueDelivery:
    """A pending delivery whose next attempt is due, as the re-driver reads it."""

    entry_id: str
    event_id: str
    destination_id: str
    forwarder: str
    status: str
    round_attempts: int
    stored: StoredEvent | None
    update_time: Any


class DeliveryLog:
    def __init__(self, db: firestore.Client, keep_days: int, clock: Clock = utc_now):
        self._db = db
        self._keep = timedelta(days=keep_days)
        self._clock = clock

    def _ref(self, document_id: str) -> firestore.DocumentReference:
        return self._db.collection(COLLECTION).document(document_id)

    # -- reading ---------------------------------------------------------------------------

    def entries(self, event_id: str, destination_ids: Iterable[str]) -> tuple[str | None, dict[str, LogEntry]]:
        """The contentHash owning the eventId (None: not claimed yet) and the current entries of
        the event's destinations, read in one round trip."""
        ids = list(destination_ids)
        refs = [self._ref(event_id)] + [self._ref(entry_id(event_id, d)) for d in ids]
        snapshots = {s.id: s for s in self._db.get_all(refs, field_paths=_SUMMARY_FIELDS)}
        now = self._clock()

        def read(document_id: str) -> LogEntry:
            snapshot = snapshots.get(document_id)
            return LogEntry.of(snapshot.to_dict() if snapshot and snapshot.exists else None, now)

        return read(event_id).content_hash, {d: read(entry_id(event_id, d)) for d in ids}

    def claim_event(self, event_id: str, content_hash: str, partner: str | None, forwarder: str) -> str:
        """Claim the eventId for this content; returns the contentHash that owns it (this one when
        the claim is ours, or when it was first)."""
        ref = self._ref(event_id)
        document = self._owner_document(event_id, content_hash, partner, forwarder)
        try:
            ref.create(document)
            return content_hash
        except api_exceptions.AlreadyExists:
            owner = self.entry(event_id)
        if owner.exists and owner.content_hash:
            return owner.content_hash
        ref.set(document)  # expired: TTL has not deleted it yet
        return content_hash

    def claim_new_event(self, deliveries: list[Delivery], stored: StoredEvent, lease_seconds: float) -> bool:
        """A message seen for the first time: claim the eventId and every destination's entry in
        one atomic commit of ``create``s (what claim_event and claim write), without reading
        first. False, and nothing written, when any of them exists (another forwarder claimed the
        eventId, a duplicate, an entry expired but not yet deleted): the caller then reads and
        decides as for any other message."""
        first = deliveries[0]
        batch = self._db.batch()
        batch.create(self._ref(first.event_id),
                     self._owner_document(first.event_id, first.content_hash, first.partner, first.forwarder))
        for delivery in deliveries:
            batch.create(self._ref(entry_id(delivery.event_id, delivery.destination_id)),
                         self._claim_document(delivery, stored, lease_seconds))
        try:
            batch.commit()
        except api_exceptions.AlreadyExists:
            return False
        return True

    def _owner_document(self, event_id: str, content_hash: str, partner: str | None, forwarder: str) -> dict[str, Any]:
        now = self._clock()
        return {"eventId": event_id, "contentHash": content_hash, "partner": partner, "claimedBy": forwarder,
                "claimedAt": now, "expireAt": now + self._keep}

    def entry(self, document_id: str) -> LogEntry:
        snapshot = self._ref(document_id).get(field_paths=_SUMMARY_FIELDS)
        return LogEntry.of(snapshot.to_dict() if snapshot.exists else None, self._clock())

    def get(self, event_id: str, destination_id: str) -> dict | None:
        return self.get_entry(entry_id(event_id, destination_id))

    def get_entry(self, document_id: str) -> dict | None:
        snapshot = self._ref(document_id).get()
        return snapshot.to_dict() if snapshot.exists else None

    # -- a forwarder's writes ----------------------------------------------------------------

    def claim(self, delivery: Delivery, stored: StoredEvent, lease_seconds: float) -> bool:
        """Create the entry of a first attempt, with the event's content hash (the first message
        with an eventId claims it) and, when it fits, the event itself: if this instance dies
        mid-attempt, the re-driver retries it once the lease is over. False when it exists."""
        document = self._claim_document(delivery, stored, lease_seconds)
        ref = self._ref(entry_id(delivery.event_id, delivery.destination_id))
        try:
            ref.create(document)
        except api_exceptions.AlreadyExists:
            if self.entry(ref.id).exists:
                return False
            ref.set(document)  # an expired entry TTL has not deleted yet counts as absent
        return True

    def _claim_document(self, delivery: Delivery, stored: StoredEvent, lease_seconds: float) -> dict[str, Any]:
        now = self._clock()
        document = {**delivery.identity(), "status": DELIVERING, "attempts": 0, "roundAttempts": 0,
                    "firstAttemptAt": now, "expireAt": now + self._keep}
        if stored.fields is not None:
            document.update(stored.fields, nextAttemptAt=now + timedelta(seconds=lease_seconds))
        return document

    def record_attempt(self, delivery: Delivery, attempt: Attempt, round_attempts: int, *, status: str,
                       next_attempt_at: datetime | None = None, stored: StoredEvent | None = None,
                       hold: Hold | None = None) -> None:
        """Record one attempt and what follows: delivered, retrying (with the event kept for the
        re-driver), failed (Pub/Sub retries) or dead_lettered (held)."""
        now = self._clock()
        update: dict[str, Any] = {
            **delivery.identity(),
            "status": status,
            "attempts": firestore.Increment(1),
            "roundAttempts": round_attempts,
            "lastResult": attempt.detail,
            "lastHttpStatus": attempt.http_status,
            "lastAttemptAt": now,
            "unansweredRedrives": 0,
            "expireAt": now + self._keep,
        }
        if status == RETRYING and stored is not None and stored.fields is not None:
            update.update(stored.fields, nextAttemptAt=next_attempt_at)
        else:
            update.update(event=firestore.DELETE_FIELD, attributes=firestore.DELETE_FIELD,
                          nextAttemptAt=firestore.DELETE_FIELD)
        if status == DELIVERED:
            update.update(deliveredAt=now, reason=firestore.DELETE_FIELD, detail=firestore.DELETE_FIELD)
        if hold is not None:
            update.update(reason=hold.reason, detail=hold.detail, deadLetteredAt=now)
        self._ref(entry_id(delivery.event_id, delivery.destination_id)).set(update, merge=True)

    def record_hold(self, document_id: str, delivery: Delivery, hold: Hold) -> None:
        """An entry held without an attempt: the whole partner, or a destination whose event
        reused an eventId or can no longer be delivered there."""
        now = self._clock()
        self._ref(document_id).set({
            **delivery.identity(), "status": DEAD_LETTERED, "reason": hold.reason, "detail": hold.detail,
            "deadLetteredAt": now, "expireAt": now + self._keep, "nextAttemptAt": firestore.DELETE_FIELD,
            "event": firestore.DELETE_FIELD, "attributes": firestore.DELETE_FIELD,
        }, merge=True)

    def expedite(self, partner: str, destination_id: str, limit: int = 500) -> int:
        """A destination recovered: its pending retries are due now instead of at their backoff."""
        now = self._clock()
        query = (self._db.collection(COLLECTION)
                 .where(filter=FieldFilter("partner", "==", partner))
                 .where(filter=FieldFilter("destinationId", "==", destination_id))
                 .where(filter=FieldFilter("status", "==", RETRYING)).limit(limit))
        batch, count = self._db.batch(), 0
        for snapshot in query.stream():
            if ((snapshot.to_dict() or {}).get("nextAttemptAt") or now) > now:
                batch.update(snapshot.reference, {"nextAttemptAt": now})
                count += 1
        if count:
            batch.commit()
        return count

    # -- the re-driver -----------------------------------------------------------------------

    def due(self, now: datetime, limit: int) -> list[DueDelivery]:
        """Pending deliveries whose nextAttemptAt has passed, the most overdue first (index:
        status + nextAttemptAt, topology.yaml)."""
        found = []
        for status in PENDING:
            query = (self._db.collection(COLLECTION)
                     .where(filter=FieldFilter("status", "==", status))
                     .where(filter=FieldFilter("nextAttemptAt", "<=", now))
                     .order_by("nextAttemptAt").limit(limit))
            for snapshot in query.stream():
                data = snapshot.to_dict() or {}
                found.append(DueDelivery(snapshot.id, data.get("eventId", ""), data.get("destinationId", ""),
                                         data.get("forwarder", ""), status, int(data.get("roundAttempts", 0)),
                                         StoredEvent.from_fields(data), snapshot.update_time))
        return found

    def lease_redrive(self, due: DueDelivery, lease_seconds: float) -> bool:
        """Take a due delivery for one re-drive: its next deadline moves a lease ahead (if the
        retry is lost on the way, it is due again then). False when someone else changed it
        since it was read (another re-driver, or the forwarder recording an outcome)."""
        now = self._clock()
        update: dict[str, Any] = {"nextAttemptAt": now + timedelta(seconds=lease_seconds), "lastRedriveAt": now,
                                  "unansweredRedrives": firestore.Increment(1)}
        if due.stored is None:
            # Nothing to publish (written before events were kept): never due again; the
            # entry stays for Pub/Sub's own retries and dead-lettering.
            update = {"nextAttemptAt": firestore.DELETE_FIELD}
        try:
            self._ref(due.entry_id).update(update, option=self._db.write_option(last_update_time=due.update_time))
        except (api_exceptions.FailedPrecondition, api_exceptions.NotFound):
            return False
        return due.stored is not None

    # -- the admin CLI -----------------------------------------------------------------------

    def mark_replayed(self, document_id: str, replayed_as: str | None = None) -> bool:
        """A held entry whose dead letter is being replayed: ``replayed`` until the forwarder
        records the new outcome. Only a ``dead_lettered`` entry is marked."""
        snapshot = self._ref(document_id).get(field_paths=["status"])
        if not snapshot.exists or (snapshot.to_dict() or {}).get("status") != DEAD_LETTERED:
            return False
        update: dict[str, Any] = {"status": REPLAYED, "replayedAt": self._clock()}
        if replayed_as:
            update["replayedAs"] = replayed_as
        try:
            self._ref(document_id).update(update, option=self._db.write_option(last_update_time=snapshot.update_time))
        except api_exceptions.FailedPrecondition:
            return False
        return True

    def unmark_replayed(self, document_id: str) -> None:
        """The replay could not be published: the entry is held again."""
        self._ref(document_id).update({"status": DEAD_LETTERED, "replayedAt": firestore.DELETE_FIELD,
                                       "replayedAs": firestore.DELETE_FIELD})

