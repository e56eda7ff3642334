"""Firestore storage of tracked users.

- ``monitor_users/<trackId>``: a user record (``users``), or an alias ``{"aliasOf": trackId}``
  left where an anonymous user was merged into an identified one, so the old trackId keeps
  resolving to the merged user.
- ``monitor_friendly_ids/<sha256(friendlyId)>``: ``{"trackId"}``, the uniqueness of friendlyId.
  It is created (never overwritten) in the same transaction as the record that takes the
  friendlyId, so two concurrent requests with one friendlyId make one user: the second
  transaction is aborted and retried (it then reads the first one's user), or its create fails
  and the whole operation runs again. The hash keeps ids short, free of "/" and unrelated to
  the order of creation (no hot spots), and the friendlyId out of document names.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable, TypeVar

from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore

from shared.monitor.operations import Reads, Writes

USERS = "monitor_users"
FRIENDLY_IDS = "monitor_friendly_ids"
ALIAS_FIELD = "aliasOf"
# Merges only go into users with a friendlyId, which are never merged themselves: an alias is one
# hop. Following a few more is only a guard.
MAX_ALIAS_HOPS = 3
ATTEMPTS_AFTER_LOST_CLAIM = 3

T = TypeVar("T")
Plan = Callable[[Reads], tuple[Writes, T]]


def friendly_id_key(friendly_id: str) -> str:
    return hashlib.sha256(friendly_id.encode("utf-8")).hexdigest()


class UserStore:
    def __init__(self, db: firestore.Client):
        self._db = db
        self._users = db.collection(USERS)
        self._friendly_ids = db.collection(FRIENDLY_IDS)

    def get(self, track_id: str) -> dict[str, Any] | None:
        """The user a trackId resolves to (following an alias), or None."""
        return self._resolve(track_id, None)

    def transact(self, plan: Plan[T], track_id: str | None = None, friendly_id: str | None = None) -> T:
        """Reads the user of ``track_id`` and the owner of ``friendly_id``, lets ``plan`` decide,
        and writes its decision, all in one transaction. ``plan`` may run more than once."""
        run = firestore.transactional(self._in_transaction)
        attempt = 1
        while True:
            try:
                return run(self._db.transaction(), plan, track_id, friendly_id)
            except AlreadyExists:
                # Another request claimed the friendlyId between our read and our commit: run
                # again, it now reads that user.
                if attempt == ATTEMPTS_AFTER_LOST_CLAIM:
                    raise
                attempt += 1

    def _in_transaction(self, transaction: firestore.Transaction, plan: Plan[T], track_id: str | None,
                        friendly_id: str | None) -> T:
        tracked = self._resolve(track_id, transaction) if track_id else None
        owner = None
        if friendly_id is not None:
            claim = self._friendly_ids.document(friendly_id_key(friendly_id)).get(transaction=transaction)
            if claim.exists:
                owner_id = claim.get("trackId")
                owner = tracked if tracked and tracked["trackId"] == owner_id else self._resolve(owner_id, transaction)
        writes, result = plan(Reads(tracked=tracked, owner=owner))
        for user in writes.set_users:
            transaction.set(self._users.document(user["trackId"]), user)
        for user in writes.create_users:
            transaction.create(self._users.document(user["trackId"]), user)
        if writes.claim is not None:
            claimed_id, owner_id = writes.claim
            transaction.create(self._friendly_ids.document(friendly_id_key(claimed_id)), {"trackId": owner_id})
        for old_id, canonical_id in writes.aliases.items():
            transaction.set(self._users.document(old_id),
                            {ALIAS_FIELD: canonical_id, "mergedAt": firestore.SERVER_TIMESTAMP})
        return result

    def _resolve(self, track_id: str, transaction: firestore.Transaction | None) -> dict[str, Any] | None:
        for _ in range(MAX_ALIAS_HOPS + 1):
            snapshot = self._users.document(track_id).get(transaction=transaction)
            if not snapshot.exists:
                return None
            data = snapshot.to_dict() or {}
            if ALIAS_FIELD not in data:
                return data
            track_id = data[ALIAS_FIELD]
        raise RuntimeError(f"alias chain of {track_id} is longer than {MAX_ALIAS_HOPS}")
