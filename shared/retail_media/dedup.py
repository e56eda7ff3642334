"""Dedup keys: "has this happened within the window?", answered by Firestore.

A key is the document ``beacon_dedup/<sha256 of its parts>`` with an ``expireAt`` timestamp
(a TTL field: Firestore deletes it some time after it passes). One event may have several keys
(an ad event: its session's and its user's): it is a duplicate when any of them is held.
Claiming writes every key together with the caller's documents in one atomic batch of
*creates*: in the usual case, one round trip, and either the keys and the records all exist or
none does. When a key already exists the keys are read: one not yet expired makes the event a
duplicate; keys that have expired (TTL deletion is lazy, up to about a day) are taken over with
updates whose precondition is the version just read, so of two requests taking over the same
expired key only one wins.

A duplicate also writes the keys it lacked, with the holder's expiry: an anonymous visitor's
impression (session key) followed by the same visitor logged in (session and user keys) links
the user to that impression, so the user on another device is a duplicate too, within the
window of the event that counted.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from cachetools import TLRUCache
from google.api_core.exceptions import AlreadyExists, FailedPrecondition, NotFound
from google.cloud import firestore

from shared.platform.clock import Clock

COLLECTION = "beacon_dedup"
# Enough for a key deleted by TTL (or taken over) between our reads; past that, give up as a
# duplicate rather than loop.
MAX_ATTEMPTS = 3
# Held keys one instance remembers (about 300 bytes each): a few MiB at most.
HELD_KEYS_REMEMBERED = 10_000


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
        self._held = _HeldKeys(clock)

    def claim(self, keys: Sequence[str], window: timedelta, data: dict[str, Any] | None = None,
              writes: tuple[Write, ...] = ()) -> Claim:
        """Claim every one of ``keys`` for ``window`` from now and create ``writes`` with them, or,
        when any of them holds an unexpired claim, do nothing but link the others to it."""
        remembered = self._held.all_of(keys)
        if remembered is not None:  # every key held: nothing to claim, nothing to link
            return Claim(False, remembered)
        references = [self._db.collection(COLLECTION).document(key) for key in keys]
        for _ in range(MAX_ATTEMPTS):
            now = self._clock()
            record = {**(data or {}), "claimId": uuid.uuid4().hex, "claimedAt": now, "expireAt": now + window}
            batch = self._db.batch()
            for reference in references:
                batch.create(reference, record)
            for write in writes:
                batch.create(write.reference, write.data)
            try:
                batch.commit()
                return self._claimed(keys, record)
            except AlreadyExists:
                pass
            snapshots = list(self._db.get_all(references))
            held = [s.to_dict() or {} for s in snapshots if s.exists and _unexpired(s, now)]
            if held:
                self._link([s for s in snapshots if not _unexpired(s, now)], held[0])
                for snapshot in snapshots:
                    if snapshot.exists and _unexpired(snapshot, now):
                        self._held.remember(snapshot.id, snapshot.to_dict() or {})
                return Claim(False, held[0])
            batch = self._db.batch()
            for snapshot in snapshots:
                _create_or_take_over(self._db, batch, snapshot, record)
            for write in writes:
                batch.create(write.reference, write.data)
            try:
                batch.commit()
                return self._claimed(keys, record)
            except (AlreadyExists, FailedPrecondition, NotFound):
                continue  # someone else claimed or took one over, or TTL deleted it: look again
        return Claim(False, {})

    def _claimed(self, keys: Sequence[str], record: dict[str, Any]) -> Claim:
        for key in keys:
            self._held.remember(key, record)
        return Claim(True, record)

    def _link(self, snapshots: list[firestore.DocumentSnapshot], held: dict[str, Any]) -> None:
        """Give the keys of ``snapshots`` (absent or expired) the holder's claim, unless someone
        claims them meanwhile: best effort, a lost race only means a key of someone else's."""
        if not snapshots:
            return
        batch = self._db.batch()
        for snapshot in snapshots:
            _create_or_take_over(self._db, batch, snapshot, held)
        try:
            batch.commit()
        except (AlreadyExists, FailedPrecondition, NotFound):
            pass

    def holder(self, key: str) -> dict[str, Any] | None:
        """The content of ``key``'s unexpired claim, or None when nobody holds it."""
        remembered = self._held.all_of([key])
        if remembered is not None:
            return remembered
        snapshot = self._db.collection(COLLECTION).document(key).get()
        if not _unexpired(snapshot, self._clock()):
            return None
        holder = snapshot.to_dict() or {}
        self._held.remember(key, holder)
        return holder


class _HeldKeys:
    """Keys this instance saw held, each until its ``expireAt`` (the store's clock)."""

    def __init__(self, clock: Clock):
        self._keys: TLRUCache[str, dict[str, Any]] = TLRUCache(
            HELD_KEYS_REMEMBERED, ttu=lambda _key, holder, _now: holder["expireAt"], timer=clock)
        self._lock = threading.Lock()  # cachetools' caches are not thread-safe

    def remember(self, key: str, holder: dict[str, Any]) -> None:
        if isinstance(holder.get("expireAt"), datetime):
            with self._lock:
                self._keys[key] = holder

    def all_of(self, keys: Sequence[str]) -> dict[str, Any] | None:
        """The holder of the first key when every one of ``keys`` is remembered held, else None."""
        with self._lock:
            holders = [self._keys.get(key) for key in keys]
        return holders[0] if holders and all(h is not None for h in holders) else None


def _unexpired(snapshot: firestore.DocumentSnapshot, now: datetime) -> bool:
    expire_at = (snapshot.to_dict() or {}).get("expireAt") if snapshot.exists else None
    return expire_at is not None and expire_at > now


def _create_or_take_over(db: firestore.Client, batch: firestore.WriteBatch, snapshot: firestore.DocumentSnapshot,
                         record: dict[str, Any]) -> None:
    """Create the key if it was absent, else replace its expired content, provided it is still
    the version read."""
    if not snapshot.exists:
        batch.create(snapshot.reference, record)
        return
    # update() writes every field we give: the expired holder's other fields go too.
    stale = {name: firestore.DELETE_FIELD for name in (snapshot.to_dict() or {}) if name not in record}
    batch.update(snapshot.reference, {**stale, **record}, option=db.write_option(last_update_time=snapshot.update_time))
