"""The partner registry: who receives which events, and where.

A partner is keyed by its whitelabel (``data.whitelabel`` / ``data.ownerWhitelabel`` of an
event) and has destinations, each with an id unique within the partner:

- ``webhook``: ``url``, ``signingSecrets`` (secret references, current first; several while a
  secret rotates), optional ``timeoutSeconds`` (default 10);
- ``mongodb``: ``connectionString`` (a secret reference), ``database``, ``collection``;
- ``gcs``: ``bucket``, optional ``prefix``.

Any destination may narrow what it receives with ``eventTypes``. Operators manage partners with
``python -m tools.admin partners apply -f FILE`` (examples/partners/). Firestore holds
``partners/<whitelabel>`` with exactly the validated configuration: secret references, never
secret values. Invalid configuration is refused with one message per problem. A disabled partner
is paused (its events are held); a deleted one keeps its document with ``deleted: true`` so its
events are held with that reason, until a file registers it again.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Callable

from google.cloud import firestore

from shared.forwarding.secret_refs import ref_problem

COLLECTION = "partners"
KINDS = ("webhook", "mongodb", "gcs")
DEFAULT_WEBHOOK_TIMEOUT_SECONDS = 10.0
MAX_WEBHOOK_TIMEOUT_SECONDS = 30.0
MAX_SIGNING_SECRETS = 3

_WHITELABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_DESTINATION_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
_MONGO_DATABASE_FORBIDDEN = set('/\\. "$\0')

UrlCheck = Callable[[str], list[str]]


class InvalidPartnerConfig(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Destination:
    id: str
    kind: str
    # Only these event types are sent; None sends every type.
    event_types: tuple[str, ...] | None

    def accepts(self, event_type: str) -> bool:
        return self.event_types is None or event_type in self.event_types


@dataclass(frozen=True)
class WebhookDestination(Destination):
    url: str
    signing_secrets: tuple[str, ...]
    timeout_seconds: float


@dataclass(frozen=True)
class MongoDestination(Destination):
    connection_string: str
    database: str
    collection: str


@dataclass(frozen=True)
class GcsDestination(Destination):
    bucket: str
    prefix: str


@dataclass(frozen=True)
class Partner:
    whitelabel: str
    name: str
    disabled: bool
    destinations: tuple[Destination, ...] = field(default_factory=tuple)
    deleted: bool = False

    @property
    def receiving(self) -> bool:
        """Enabled, not deleted, with somewhere to deliver: its events are delivered, not held."""
        return not self.disabled and not self.deleted and bool(self.destinations)

    def to_document(self) -> dict[str, Any]:
        return {"whitelabel": self.whitelabel, "name": self.name, "disabled": self.disabled,
                "destinations": [destination_document(d) for d in self.destinations]}


def destination_document(d: Destination) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": d.id, "kind": d.kind}
    if isinstance(d, WebhookDestination):
        doc.update(url=d.url, signingSecrets=list(d.signing_secrets), timeoutSeconds=d.timeout_seconds)
    elif isinstance(d, MongoDestination):
        doc.update(connectionString=d.connection_string, database=d.database, collection=d.collection)
    elif isinstance(d, GcsDestination):
        doc.update(bucket=d.bucket, prefix=d.prefix)
    if d.event_types is not None:
        doc["eventTypes"] = list(d.event_types)
    return doc


# ---------------------------------------------------------------------------------------------
# Validation: every problem found, each prefixed with where it is.

_COMMON_FIELDS = {"id", "kind", "eventTypes"}
_KIND_FIELDS = {
    "webhook": ({"url", "signingSecrets"}, {"timeoutSeconds"}),
    "mongodb": ({"connectionString", "database", "collection"}, set()),
    "gcs": ({"bucket"}, {"prefix"}),
}
_PARTNER_FIELDS = ({"whitelabel", "destinations"}, {"name", "disabled"})


def parse_partner(raw: Any, check_url: UrlCheck, known_event_types: list[str] | None = None) -> Partner:
    """A Partner from a configuration mapping (a YAML file entry or a stored document).

    ``check_url`` returns the problems of a webhook URL (the SSRF guard at registration)."""
    if not isinstance(raw, dict):
        raise InvalidPartnerConfig(["a partner must be a mapping"])
    problems: list[str] = []
    whitelabel = raw.get("whitelabel")
    where = f"partner {whitelabel!r}" if isinstance(whitelabel, str) else "partner"
    _check_fields(raw, *_PARTNER_FIELDS, where, problems)
    if "whitelabel" in raw and not (isinstance(whitelabel, str) and _WHITELABEL.match(whitelabel)):
        problems.append(f"{where}: whitelabel must be 1-128 letters, digits, '.', '_' or '-'")
    name = raw.get("name", whitelabel if isinstance(whitelabel, str) else "")
    if not isinstance(name, str):
        problems.append(f"{where}: name must be a string")
    disabled = raw.get("disabled", False)
    if not isinstance(disabled, bool):
        problems.append(f"{where}: disabled must be true or false")
    entries = raw.get("destinations", [])
    destinations: list[Destination] = []
    if not isinstance(entries, list):
        problems.append(f"{where}: destinations must be a list")
        entries = []
    seen_ids: set[str] = set()
    for index, entry in enumerate(entries):
        label = f"{where}: destinations[{index}]"
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            label = f"{label} ({entry['id']})"
            if entry["id"] in seen_ids:
                problems.append(f"{label}: id is used by another destination of this partner")
            seen_ids.add(entry["id"])
        destination = _parse_destination(entry, label, check_url, known_event_types, problems)
        if destination is not None:
            destinations.append(destination)
    if problems:
        raise InvalidPartnerConfig(problems)
    return Partner(whitelabel, name, disabled, tuple(destinations))


def _check_fields(raw: dict, required: set[str], optional: set[str], where: str, problems: list[str]) -> None:
    for name in sorted(required - raw.keys()):
        problems.append(f"{where}: {name} is required")
    for name in sorted(raw.keys() - required - optional):
        problems.append(f"{where}: unknown field {name!r}")


def _parse_destination(entry: Any, where: str, check_url: UrlCheck, known_event_types: list[str] | None,
                       problems: list[str]) -> Destination | None:
    if not isinstance(entry, dict):
        problems.append(f"{where}: must be a mapping")
        return None
    kind = entry.get("kind")
    if kind not in KINDS:
        problems.append(f"{where}: kind must be one of {', '.join(KINDS)}")
        return None
    required, optional = _KIND_FIELDS[kind]
    before = len(problems)
    _check_fields(entry, required | {"id", "kind"}, optional | _COMMON_FIELDS, where, problems)
    destination_id = entry.get("id")
    if "id" in entry and not (isinstance(destination_id, str) and _DESTINATION_ID.match(destination_id)):
        problems.append(f"{where}: id must be 1-63 lowercase letters, digits, '_' or '-'")
    event_types = _event_types(entry.get("eventTypes"), where, known_event_types, problems)
    common = {"id": destination_id, "kind": kind, "event_types": event_types}
    if kind == "webhook":
        url = entry.get("url")
        if "url" in entry:
            url_problems = check_url(url) if isinstance(url, str) else ["must be a URL"]
            problems.extend(f"{where}: url {p}" for p in url_problems)
        secrets = entry.get("signingSecrets")
        secrets = [secrets] if isinstance(secrets, str) else secrets
        if "signingSecrets" in entry:
            if not isinstance(secrets, list) or not 1 <= len(secrets) <= MAX_SIGNING_SECRETS:
                problems.append(f"{where}: signingSecrets must be 1 to {MAX_SIGNING_SECRETS} secret references")
                secrets = []
            for i, ref in enumerate(secrets):
                problem = ref_problem(ref)
                if problem:
                    problems.append(f"{where}: signingSecrets[{i}] {problem}")
        timeout = entry.get("timeoutSeconds", DEFAULT_WEBHOOK_TIMEOUT_SECONDS)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
                or not 0 < timeout <= MAX_WEBHOOK_TIMEOUT_SECONDS:
            problems.append(f"{where}: timeoutSeconds must be a number of seconds above 0, at most "
                            f"{MAX_WEBHOOK_TIMEOUT_SECONDS:g}")
        if len(problems) > before:
            return None
        return WebhookDestination(**common, url=url, signing_secrets=tuple(secrets), timeout_seconds=float(timeout))
    if kind == "mongodb":
        problem = ref_problem(entry.get("connectionString")) if "connectionString" in entry else None
        if problem:
            problems.append(f"{where}: connectionString {problem}")
        database, collection = entry.get("database"), entry.get("collection")
        if "database" in entry and not (isinstance(database, str) and 0 < len(database) <= 63
                                        and not _MONGO_DATABASE_FORBIDDEN & set(database)):
            problems.append(f"{where}: database must be 1-63 characters without /\\. \"$")
        if "collection" in entry and not (isinstance(collection, str) and 0 < len(collection) <= 120
                                          and "$" not in collection and "\0" not in collection
                                          and not collection.startswith("system.")):
            problems.append(f"{where}: collection must be 1-120 characters, no '$', not system.*")
        if len(problems) > before:
            return None
        return MongoDestination(**common, connection_string=entry["connectionString"], database=database,
                                collection=collection)
    bucket, prefix = entry.get("bucket"), entry.get("prefix", "")
    if "bucket" in entry and not (isinstance(bucket, str) and _BUCKET.match(bucket)):
        problems.append(f"{where}: bucket must be a Cloud Storage bucket name (3-63 lowercase letters, "
                        "digits, '-', '_', '.')")
    if not isinstance(prefix, str) or len(prefix) > 512 or ".." in prefix.split("/") or "\n" in prefix:
        problems.append(f"{where}: prefix must be a path of at most 512 characters without '..'")
    if len(problems) > before:
        return None
    return GcsDestination(**common, bucket=bucket, prefix=prefix.strip("/"))


def _event_types(value: Any, where: str, known: list[str] | None, problems: list[str]) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        problems.append(f"{where}: eventTypes must be a non-empty list of event types")
        return None
    for unknown in [v for v in value if known is not None and v not in known]:
        problems.append(f"{where}: eventTypes: unknown event type {unknown!r} (known: {', '.join(known or [])})")
    return tuple(value)


def _stored_url(_: str) -> list[str]:
    # Stored documents were checked at registration; each delivery checks the address again.
    return []


_STORED_ONLY_FIELDS = ("updatedAt", "deleted", "deletedAt")


def from_document(doc: dict[str, Any]) -> Partner:
    partner = parse_partner({k: v for k, v in doc.items() if k not in _STORED_ONLY_FIELDS}, _stored_url)
    return replace(partner, deleted=True) if doc.get("deleted") else partner


# ---------------------------------------------------------------------------------------------
# Firestore.

class PartnerRegistry:
    def __init__(self, db: firestore.Client):
        self._db = db

    def _doc(self, whitelabel: str) -> firestore.DocumentReference:
        return self._db.collection(COLLECTION).document(whitelabel)

    def apply(self, partner: Partner) -> str:
        """Store ``partner`` as given: "created" (new, or registered again after a delete),
        "updated" or "unchanged" (applying the same configuration again writes nothing)."""
        snapshot = self._doc(partner.whitelabel).get()
        stored = (snapshot.to_dict() or {}) if snapshot.exists else None
        document = partner.to_document()
        if stored is not None and {k: v for k, v in stored.items() if k != "updatedAt"} == document:
            return "unchanged"
        self._doc(partner.whitelabel).set({**document, "updatedAt": datetime.now(timezone.utc)})
        return "updated" if stored is not None and not stored.get("deleted") else "created"

    def get(self, whitelabel: str) -> Partner | None:
        if not _WHITELABEL.match(whitelabel):
            return None
        snapshot = self._doc(whitelabel).get()
        return from_document(snapshot.to_dict() or {}) if snapshot.exists else None

    def list(self) -> list[Partner]:
        return [from_document(doc.to_dict() or {}) for doc in self._db.collection(COLLECTION).stream()]

    def disable(self, whitelabel: str) -> bool:
        return self._change(whitelabel, {"disabled": True})

    def enable(self, whitelabel: str) -> bool:
        return self._change(whitelabel, {"disabled": False})

    def delete(self, whitelabel: str) -> bool:
        """Keep the document, marked deleted: the partner's events are then held with reason
        partner_deleted (not mistaken for a partner never registered)."""
        return self._change(whitelabel, {"deleted": True, "deletedAt": datetime.now(timezone.utc)})

    def _change(self, whitelabel: str, fields: dict[str, Any]) -> bool:
        """Update a registered (not deleted) partner; False when there is none."""
        partner = self.get(whitelabel)
        if partner is None or partner.deleted:
            return False
        self._doc(whitelabel).update({**fields, "updatedAt": datetime.now(timezone.utc)})
        return True


class PartnerLookup:
    """Partner lookups for the forwarders. A partner that receives events is reused for
    ``ttl_seconds`` per process (a forwarder reads Firestore about once per partner per interval);
    anything else (unknown, disabled, deleted, no destinations) is read again for every event,
    since an event is held on that answer: a partner registered or enabled a second ago gets the
    next event."""

    def __init__(self, read: Callable[[str], Partner | None], ttl_seconds: float,
                 clock: Callable[[], float] = time.monotonic):
        self._read = read
        self._ttl = ttl_seconds
        self._clock = clock
        self._receiving: dict[str, tuple[float, Partner]] = {}
        self._lock = threading.Lock()

    def get(self, whitelabel: str) -> Partner | None:
        now = self._clock()
        with self._lock:
            cached = self._receiving.get(whitelabel)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        partner = self._read(whitelabel)
        with self._lock:
            if partner is not None and partner.receiving:
                self._receiving[whitelabel] = (now, partner)
            else:
                self._receiving.pop(whitelabel, None)
        return partner
