"""The delivery log: what happened to each event at each destination.

Firestore ``deliveries/{eventId}:{destinationId}`` holds ``status`` (delivered, failed or
dead_lettered), ``attempts``, the last HTTP status or error, first/last attempt and delivery
times, and ``expireAt`` (DELIVERY_LOG_DAYS, 30 by default; a TTL policy deletes it lazily, so an
entry past its expireAt counts as absent). A redelivered message skips the destinations already
delivered, so one failing destination does not make the others receive the event twice.
The document id starts with the eventId (a UUIDv4), which spreads writes over the key space.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

from google.cloud import firestore

COLLECTION = "deliveries"
DELIVERED = "delivered"
FAILED = "failed"
DEAD_LETTERED = "dead_lettered"


def entry_id(event_id: str, destination_id: str) -> str:
    return f"{event_id}:{destination_id}"


@dataclass(frozen=True)
class Attempt:
    """The outcome of one attempt at one destination."""

    ok: bool
    # What the destination answered: "HTTP 200", "already stored", "timeout", "ConnectionError" ...
    detail: str
    http_status: int | None = None


@dataclass(frozen=True)
class LogEntry:
    exists: bool
    status: str | None = None
    attempts: int = 0

    @property
    def delivered(self) -> bool:
        return self.status == DELIVERED


class DeliveryLog:
    def __init__(self, db: firestore.Client, keep_days: int,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self._db = db
        self._keep = timedelta(days=keep_days)
        self._clock = clock

    def _ref(self, event_id: str, destination_id: str) -> firestore.DocumentReference:
        return self._db.collection(COLLECTION).document(entry_id(event_id, destination_id))

    def entries(self, event_id: str, destination_ids: Iterable[str]) -> dict[str, LogEntry]:
        """The current entries of one event's destinations, read in one round trip."""
        ids = list(destination_ids)
        refs = [self._ref(event_id, d) for d in ids]
        snapshots = {s.id: s for s in self._db.get_all(refs)} if refs else {}
        now = self._clock()
        result = {}
        for destination_id in ids:
            snapshot = snapshots.get(entry_id(event_id, destination_id))
            data = snapshot.to_dict() if snapshot is not None and snapshot.exists else None
            if data is None or (data.get("expireAt") is not None and data["expireAt"] <= now):
                result[destination_id] = LogEntry(exists=False)
            else:
                result[destination_id] = LogEntry(True, data.get("status"), int(data.get("attempts", 0)))
        return result

    def record(self, event_id: str, destination_id: str, *, partner: str, kind: str, attempt: Attempt,
               previous: LogEntry, status: str | None = None) -> int:
        """Record one attempt; returns the attempt count including this one."""
        now = self._clock()
        status = status or (DELIVERED if attempt.ok else FAILED)
        update = {
            "eventId": event_id,
            "destinationId": destination_id,
            "partner": partner,
            "kind": kind,
            "status": status,
            "attempts": firestore.Increment(1),
            "lastResult": attempt.detail,
            "lastHttpStatus": attempt.http_status,
            "lastAttemptAt": now,
            "expireAt": now + self._keep,
        }
        if not previous.exists:
            update["firstAttemptAt"] = now
        if status == DELIVERED:
            update["deliveredAt"] = now
        self._ref(event_id, destination_id).set(update, merge=True)
        return previous.attempts + 1

    def get(self, event_id: str, destination_id: str) -> dict | None:
        snapshot = self._ref(event_id, destination_id).get()
        return snapshot.to_dict() if snapshot.exists else None
