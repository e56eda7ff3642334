"""Dedup keys: "has this happened within the window?", answered by Firestore.

A key is the document ``beacon_dedup/<sha256 of its parts>`` with an ``expireAt`` timestamp
(a TTL field: Firestore deletes it some time after it passes). Claiming a key writes it together
with the caller's documents in one atomic batch whose first write is *create*: in the usual
case, one round trip, and either both the key and the records exist or neither. When the key
already exists it is read: if its ``expireAt`` has passed (TTL deletion is lazy, up to about a
day) it is taken over with an update whose precondition is the version just read, so of two
requests taking over the same expired key only one wins. Everything else is a duplicate.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from google.api_core.exceptions import AlreadyExists, FailedPrecondition, NotFound
from google.cloud import firestore

from shared.platform.clock import Clock

COLLECTION = "beacon_dedup"
# Enough for a key deleted by TTL (or taken over) between our reads; past that, give up as a
# duplicate rather than loop.
MAX_ATTEMPTS = 3


def key_id(*parts: str) -> str:
    """A deterministic document id: the same parts, the same key, whoever computes it."""
    joined = "\x1f".join(parts)  # unit separator: parts cannot run into each other
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Write:
    """A document to create together with a successful claim."""

    reference: firestore.DocumentReference
    data: dict[str, Any]


@dataclass(frozen=True)
class Claim:
    claimed: bool
    # The key's content: ours when claimed, the holder's otherwise.
    data: dict[str, Any]


class DedupStore:
    def __init__(self, db: firestore.Client, clock: Clock):
        self._db = db
        self._clock = clock

    def claim(self, key: str, window: timedelta, data: dict[str, Any] | None = None,
              writes: tuple[Write, ...] = ()) -> Claim:
        """Claim ``key`` for ``window`` from now and create ``writes`` with it, or do nothing when
        an unexpired claim exists."""
        reference = self._db.collection(COLLECTION).document(key)
        for _ in range(MAX_ATTEMPTS):
            now = self._clock()
            record = {**(data or {}), "claimId": uuid.uuid4().hex, "claimedAt": now, "expireAt": now + window}
            batch = self._db.batch()
            batch.create(reference, record)
            for write in writes:
                batch.create(write.reference, write.data)
            try:
                batch.commit()
                return Claim(True, record)
            except AlreadyExists:
                pass
            snapshot = reference.get()
            if not snapshot.exists:
                continue  # deleted (TTL) since our create: try again
            held = snapshot.to_dict() or {}
            if held.get("expireAt") and held["expireAt"] > now:
                return Claim(False, held)
            batch = self._db.batch()
            # update() writes every field we give: the expired holder's other fields go too.
            batch.update(reference, {**{k: firestore.DELETE_FIELD for k in held if k not in record}, **record},
                         option=self._db.write_option(last_update_time=snapshot.update_time))
            for write in writes:
                batch.create(write.reference, write.data)
            try:
                batch.commit()
                return Claim(True, record)
            except (FailedPrecondition, NotFound):
                continue  # someone else took it over, or TTL deleted it: look again
        return Claim(False, {})

    def release(self, key: str, claim: Claim) -> None:
        """Undo our own claim (its work could not be done), unless it was taken over since."""
        reference = self._db.collection(COLLECTION).document(key)

        @firestore.transactional
        def release_if_ours(transaction: firestore.Transaction) -> None:
            snapshot = reference.get(transaction=transaction)
            if snapshot.exists and (snapshot.to_dict() or {}).get("claimId") == claim.data.get("claimId"):
                transaction.delete(reference)

        release_if_ours(self._db.transaction())
