"""API keys of platform apps: created and revoked by operators, only their hashes stored.

A key reads ``fpk_<keyId>_<secret>``. Firestore holds ``api_keys/<keyId>`` with the SHA-256 of
the whole key; the secret has 256 bits of entropy, so a fast hash is enough (no password
stretching needed) and the key id makes verification one document read. Verified keys are
trusted for a short while per process, which bounds how long a revoked key still works.

A key's **scope** says which publishers' retail-media reports it reads: ``admin`` (every
publisher's), or the ``publishers`` it names; a key with neither reads none. Ingest and monitor
ignore the scope: any valid key works there, as before scopes existed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from google.cloud import firestore

COLLECTION = "api_keys"
KEY_PREFIX = "fpk"


@dataclass(frozen=True)
class Scope:
    admin: bool = False
    publishers: tuple[str, ...] = ()

    def may_read(self, publisher_id: str) -> bool:
        """Whether a key of this scope reads reports of ``publisher_id``'s campaigns."""
        return self.admin or publisher_id in self.publishers

    def describe(self) -> str:
        if self.admin:
            return "admin"
        return "publishers " + ",".join(self.publishers) if self.publishers else "no reports"

    def to_document(self) -> dict[str, object]:
        return {"admin": self.admin, "publishers": list(self.publishers)}

    @classmethod
    def from_document(cls, data: dict) -> "Scope":
        """A key stored before scopes existed has neither field: no reports."""
        return cls(admin=data.get("admin") is True, publishers=tuple(data.get("publishers") or ()))


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None
    scope: Scope = Scope()


@dataclass(frozen=True)
class VerifiedKey:
    """A valid key's app and scope."""

    name: str
    scope: Scope


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def split_key(key: str) -> tuple[str, str] | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class ApiKeyStore:
    def __init__(self, db: firestore.Client):
        self._db = db

    def create(self, name: str, scope: Scope = Scope()) -> tuple[str, ApiKeyRecord]:
        """Returns the key itself (shown once, never stored) and its record."""
        key_id = secrets.token_hex(6)
        key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        now = datetime.now(timezone.utc)
        self._db.collection(COLLECTION).document(key_id).create(
            {"name": name, "hash": hash_key(key), "createdAt": now, "revokedAt": None, **scope.to_document()}
        )
        return key, ApiKeyRecord(key_id, name, now, None, scope)

    def set_scope(self, key_id: str, scope: Scope) -> bool:
        """Replace an existing key's scope; False if there is no such key. Running instances see
        it within their API_KEY_CACHE_SECONDS."""
        ref = self._db.collection(COLLECTION).document(key_id)
        if not ref.get().exists:
            return False
        ref.update(scope.to_document())
        return True

    def list(self) -> list[ApiKeyRecord]:
        return [self._record(doc.id, doc.to_dict() or {}) for doc in self._db.collection(COLLECTION).stream()]

    def revoke(self, key_id: str) -> bool:
        ref = self._db.collection(COLLECTION).document(key_id)
        if not ref.get().exists:
            return False
        ref.update({"revokedAt": datetime.now(timezone.utc)})
        return True

    def lookup(self, key_id: str) -> dict | None:
        snapshot = self._db.collection(COLLECTION).document(key_id).get()
        return snapshot.to_dict() if snapshot.exists else None

    @staticmethod
    def _record(key_id: str, data: dict) -> ApiKeyRecord:
        return ApiKeyRecord(key_id, data.get("name", ""), data.get("createdAt"), data.get("revokedAt"),
                            Scope.from_document(data))


class ApiKeyVerifier:
    """Answers "which app holds this key, with which scope?", or None for an unknown, wrong or
    revoked key."""

    def __init__(self, lookup: Callable[[str], dict | None], cache_seconds: float,
                 clock: Callable[[], float] = time.monotonic):
        self._lookup = lookup
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._verified: dict[str, tuple[float, VerifiedKey]] = {}
        self._lock = threading.Lock()

    def app_name(self, key: str) -> str | None:
        verified = self.verify(key)
        return verified.name if verified else None

    def verify(self, key: str) -> VerifiedKey | None:
        digest = hash_key(key)
        now = self._clock()
        with self._lock:
            cached = self._verified.get(digest)
        if cached and now - cached[0] < self._cache_seconds:
            return cached[1]
        parts = split_key(key)
        if parts is None:
            return None
        record = self._lookup(parts[0])
        if not record or record.get("revokedAt") is not None:
            return None
        if not hmac.compare_digest(record.get("hash", ""), digest):
            return None
        verified = VerifiedKey(record.get("name", ""), Scope.from_document(record))
        with self._lock:
            self._verified[digest] = (now, verified)
        return verified
