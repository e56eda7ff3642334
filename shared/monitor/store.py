"""Firestore storage of tracked users.

- ``monitor_users/<trackId>``: a user record (``users``), or an alias ``{"aliasOf": trackId}``
  left where an anonymous user was merged into an identified one, so the old trackId keeps
  resolving to the merged user.
- ``monitor_friendly_ids/<sha256(friendlyId)>``: ``{"trackId"}``, the uniqueness of friendlyId.
  It is created (never overwritten) in the same batch as the record that takes the friendlyId.
  The hash keeps ids short, free of "/" and unrelated to the order of creation (no hot spots),
  and the friendlyId out of document names.

Every operation reads what it needs, lets a pure ``plan`` (``operations``) decide, and writes the
decision in one atomic batch whose every write holds only if what it read is unchanged: a
document read is replaced only while it is still the version read, one read as absent is
*created*. A concurrent change fails the whole batch, and the operation runs again from its
reads after an exponential backoff with full jitter (google.api_core's Retry), for at most
CONTENTION_SECONDS. This is a transaction's guarantee without its locks: the Firestore
emulator resolves two transactions contending for one document by letting both wait for its
2 s lock timeout and aborting both, so twenty parallel requests for one friendlyId never
finish; optimistic writes settle them in a few round trips, here and in production.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from google.api_core import exceptions, retry
from google.cloud import firestore

from shared.monitor.errors import MonitorError
from shared.monitor.operations import Reads, Writes

USERS = "monitor_users"
FRIENDLY_IDS = "monitor_friendly_ids"
ALIAS_FIELD = "aliasOf"
# Merges only go into users with a friendlyId, which are never merged themselves: an alias is one
# hop. Following a few more is only a guard.
MAX_ALIAS_HOPS = 3
# How long an operation keeps trying against concurrent changes before answering 409
# CONCURRENT_UPDATE (send again), and its backoff: 20 ms doubling up to 1 s, each a random
# fraction of that ("full jitter"), so contenders spread out instead of colliding again.
CONTENTION_SECONDS = 20.0
BACKOFF_FIRST_SECONDS = 0.02
BACKOFF_MAX_SECONDS = 1.0
# What a concurrent change makes a batch fail with: a document created meanwhile, a precondition
# on a version no longer current, a document deleted meanwhile, or a write aborted by Firestore.
CONCURRENT_CHANGE = (exceptions.AlreadyExists, exceptions.FailedPrecondition, exceptions.NotFound,
                     exceptions.Aborted)

T = TypeVar("T")
Plan = Callable[[Reads], tuple[Writes, T]]

logger = logging.getLogger(__name__)


def friendly_id_key(friendly_id: str) -> str:
    return hashlib.sha256(friendly_id.encode("utf-8")).hexdigest()


@dataclass
class _Versions:
    """The user documents one attempt read (trackId -> snapshot), to write them back only if unchanged."""

    snapshots: dict[str, firestore.DocumentSnapshot] = field(default_factory=dict)

    def write_over(self, db: firestore.Client, batch: firestore.WriteBatch, track_id: str,
                   data: dict[str, Any]) -> None:
        """Replace the document read for ``track_id`` with ``data``, provided it is still the
        version read (or still absent)."""
        snapshot = self.snapshots[track_id]
        if not snapshot.exists:
            batch.create(snapshot.reference, data)
            return
        # update() sets every field given and keeps the others: delete those ``data`` lacks.
        stale = {name: firestore.DELETE_FIELD for name in (snapshot.to_dict() or {}) if name not in data}
        batch.update(snapshot.reference, {**stale, **data},
                     option=db.write_option(last_update_time=snapshot.update_time))


class UserStore:
    def __init__(self, db: firestore.Client, contention_seconds: float = CONTENTION_SECONDS):
        self._db = db
        self._users = db.collection(USERS)
        self._friendly_ids = db.collection(FRIENDLY_IDS)
        self._retry = retry.Retry(predicate=retry.if_exception_type(*CONCURRENT_CHANGE),
                                  initial=BACKOFF_FIRST_SECONDS, maximum=BACKOFF_MAX_SECONDS, multiplier=2.0,
                                  timeout=contention_seconds, on_error=_log_contention)

    def get(self, track_id: str) -> dict[str, Any] | None:
        """The user a trackId resolves to (following an alias), or None."""
        return self._resolve(track_id, _Versions())

    def transact(self, plan: Plan[T], track_id: str | None = None, friendly_id: str | None = None) -> T:
        """Reads the user of ``track_id`` and the owner of ``friendly_id``, lets ``plan`` decide,
        and writes its decision if nothing it read changed meanwhile; else all again (``plan``
        may run more than once; a MonitorError it raises ends the operation, writing nothing)."""
        try:
            return self._retry(self._attempt)(plan, track_id, friendly_id)
        except exceptions.RetryError:
            raise MonitorError(409, "CONCURRENT_UPDATE", "this user kept changing under concurrent requests: "
                               "send again", retryable=True) from None

    def _attempt(self, plan: Plan[T], track_id: str | None, friendly_id: str | None) -> T:
        versions = _Versions()
        tracked = self._resolve(track_id, versions) if track_id else None
        owner = None
        if friendly_id is not None:
            claim = self._friendly_ids.document(friendly_id_key(friendly_id)).get()
            if claim.exists:
                owner_id = claim.get("trackId")
                owner = tracked if tracked and tracked["trackId"] == owner_id else self._resolve(owner_id, versions)
        writes, result = plan(Reads(tracked=tracked, owner=owner))
        batch = self._db.batch()
        for user in writes.set_users:
            versions.write_over(self._db, batch, user["trackId"], user)
        for user in writes.create_users:
            batch.create(self._users.document(user["trackId"]), user)
        if writes.claim is not None:
            claimed_id, owner_id = writes.claim
            batch.create(self._friendly_ids.document(friendly_id_key(claimed_id)), {"trackId": owner_id})
        for old_id, canonical_id in writes.aliases.items():
            alias = {ALIAS_FIELD: canonical_id, "mergedAt": firestore.SERVER_TIMESTAMP}
            versions.write_over(self._db, batch, old_id, alias)
        if writes.set_users or writes.create_users or writes.claim or writes.aliases:
            batch.commit()
        return result

    def _resolve(self, track_id: str, versions: _Versions) -> dict[str, Any] | None:
        for _ in range(MAX_ALIAS_HOPS + 1):
            snapshot = self._users.document(track_id).get()
            versions.snapshots[track_id] = snapshot
            if not snapshot.exists:
                return None
            data = snapshot.to_dict() or {}
            if ALIAS_FIELD not in data:
                return data
            track_id = data[ALIAS_FIELD]
        raise RuntimeError(f"alias chain of {track_id} is longer than {MAX_ALIAS_HOPS}")


def _log_contention(error: Exception) -> None:
    logger.info("concurrent change: trying again", extra={"error": type(error).__name__})
