"""Idempotency keys of event occurrences: a resend is the same occurrence, with the same eventId.

A client sends ``Idempotency-Key: <key>`` (the IETF httpapi draft "The Idempotency-Key HTTP
Header Field"; quoted as a structured-field string or not) with ``POST /v1/events/{id}/data``.
The first request with a key reserves it, for ``MONITOR_IDEMPOTENCY_SECONDS`` (24 h), by creating
``monitor_idempotency_keys/<sha256(app, key)>`` (an ``expireAt`` TTL field; keys of different apps
never meet) holding the event it built, before publishing it. A later request with the key:

- whose body differs is refused (422 ``IDEMPOTENCY_KEY_REUSED``), as the draft says;
- after the event was published gets the same answer (eventId, messageId), nothing published;
- before that (the first got 424, or died, or is still publishing) publishes the *stored* event
  again: the same eventId and bytes, which every destination already deduplicates on, so the
  occurrence is recorded once even if the first publish landed late.

A key whose ``expireAt`` has passed (TTL deletion is lazy) counts as absent and is taken over,
provided it is still the version read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from google.api_core.exceptions import AlreadyExists, FailedPrecondition, NotFound
from google.cloud import firestore

from shared.monitor.errors import MonitorError
from shared.platform.clock import Clock

COLLECTION = "monitor_idempotency_keys"
HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
# A reserved key taken over (expired) by someone else between our reads: look again, then give up.
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Reservation:
    """The event to answer for: the first request's. ``message_id`` is set once it was published
    (answer it again, publish nothing)."""

    event: dict[str, Any]
    message_id: str | None


def read_key(header: str | None) -> str | None:
    """The key of an ``Idempotency-Key`` header (None without one); 400 INVALID_HEADER if malformed."""
    if header is None:
        return None
    key = header.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':  # an sf-string, as the draft writes it
        key = key[1:-1]
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise MonitorError(400, "INVALID_HEADER", "invalid Idempotency-Key header", fields=[{
            "field": "Idempotency-Key", "problem": f"must be 1-{MAX_KEY_LENGTH} printable ASCII characters"}])
    return key


def fingerprint(event_type_id: str, body: Any) -> str:
    """What makes two requests with one key the same request: the event type and the body's JSON
    value (not its spacing or key order)."""
    canonical = json.dumps([event_type_id, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class IdempotencyStore:
    def __init__(self, db: firestore.Client, clock: Clock, window: timedelta):
        self._db = db
        self._clock = clock
        self._window = window

    def reserve(self, app: str, key: str, request_fingerprint: str, event: dict[str, Any]) -> Reservation:
        """Reserve ``key`` of ``app`` for ``event``, or answer the reservation it already has."""
        reference = self._reference(app, key)
        for _ in range(MAX_ATTEMPTS):
            now = self._clock()
            record = {"fingerprint": request_fingerprint, "event": json.dumps(event, ensure_ascii=False),
                      "messageId": None, "reservedAt": now, "expireAt": now + self._window}
            try:
                reference.create(record)
                return Reservation(event, None)
            except AlreadyExists:
                pass
            snapshot = reference.get()
            held = snapshot.to_dict() if snapshot.exists else None
            if held is None:
                continue  # deleted by TTL meanwhile
            if held["expireAt"] <= now:
                try:
                    reference.update(record, option=self._db.write_option(last_update_time=snapshot.update_time))
                    return Reservation(event, None)
                except (FailedPrecondition, NotFound):
                    continue
            if held["fingerprint"] != request_fingerprint:
                raise MonitorError(422, "IDEMPOTENCY_KEY_REUSED",
                                   "this Idempotency-Key was sent with another request: use a new key")
            return Reservation(json.loads(held["event"]), held["messageId"])
        raise MonitorError(409, "CONCURRENT_UPDATE", "this Idempotency-Key kept changing: send again")

    def published(self, app: str, key: str, message_id: str) -> None:
        """Record that the reserved event was published: later requests get this answer."""
        self._reference(app, key).update({"messageId": message_id})

    def _reference(self, app: str, key: str) -> firestore.DocumentReference:
        document_id = hashlib.sha256(f"{app}\x1f{key}".encode("utf-8")).hexdigest()
        return self._db.collection(COLLECTION).document(document_id)
