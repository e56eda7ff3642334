"""What operators register for the monitor API, kept in Firestore and read by every instance.

- ``monitor_attributes/<id>``: custom user attributes, each a typed value (``values.ValueSpec``)
  and whether it identifies the user (then privacy protects it like names and email).
- ``monitor_event_types/<id>``: event types whose occurrences ``POST /v1/events/<id>/data``
  records: their typed fields, the partner (whitelabel) that receives them and which
  ``lum_user.*`` fields are filled from the user record.
- ``monitor_settings/rules``: inclusion/exclusion rules (``rules.MonitoringRules``).
- ``monitor_settings/privacy``: ``{enabled, terms}``: when enabled, personal data of a user is
  stored only after a consent to one of ``terms`` (or for a user with a login).

Files (YAML, see examples/monitor/) and Firestore documents share one shape, parsed here; the
admin CLI writes them, the service reads a snapshot cached per instance.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from google.cloud import firestore

from shared.monitor.rules import MonitoringRules
from shared.monitor.values import FIELD_ID, ValueSpec

ATTRIBUTES = "monitor_attributes"
EVENT_TYPES = "monitor_event_types"
SETTINGS = "monitor_settings"

EVENT_TYPE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")
TERM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
# Properties of a user record an event type may copy into its lum_user.* fields, besides
# customAttributes.<id>.
USER_PROPERTIES = ("trackId", "friendlyId", "firstName", "middleName", "lastName", "email", "projectId")


class ConfigError(ValueError):
    """A registration file or document is invalid; the message names the place."""


@dataclass(frozen=True)
class Attribute:
    id: str
    value: ValueSpec
    identifies_user: bool = False
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, **self.value.to_dict(), "identifiesUser": self.identifies_user,
                "description": self.description}


@dataclass(frozen=True)
class EventField:
    value: ValueSpec
    required: bool = False


@dataclass(frozen=True)
class EventType:
    id: str
    whitelabel: str
    fields: dict[str, EventField]
    user_fields: tuple[str, ...] = ("trackId",)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "whitelabel": self.whitelabel, "description": self.description,
                "fields": [{"id": name, **f.value.to_dict(), "required": f.required}
                           for name, f in self.fields.items()],
                "userFields": list(self.user_fields)}


@dataclass(frozen=True)
class Privacy:
    enabled: bool = False
    terms: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "terms": list(self.terms)}


@dataclass(frozen=True)
class MonitorConfig:
    attributes: dict[str, Attribute] = field(default_factory=dict)
    event_types: dict[str, EventType] = field(default_factory=dict)
    rules: MonitoringRules = field(default_factory=MonitoringRules)
    privacy: Privacy = field(default_factory=Privacy)


# -- parsing ------------------------------------------------------------------------------------

def _value_spec(raw: dict[str, Any], where: str) -> ValueSpec:
    try:
        return ValueSpec.from_dict(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _items(raw: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise ConfigError(f"{where} must be a list of mappings")
    return raw


def _unique_ids(items: list[Any], where: str) -> None:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ConfigError(f"{where}: {item.id!r} is listed twice")
        seen.add(item.id)


def parse_attribute(raw: dict[str, Any], where: str = "attribute") -> Attribute:
    unknown = set(raw) - {"id", "type", "multiple", "maxLength", "maxItems", "identifiesUser", "description"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    attribute_id = raw.get("id")
    if not isinstance(attribute_id, str) or not FIELD_ID.match(attribute_id):
        raise ConfigError(f"{where}: id must match {FIELD_ID.pattern}")
    return Attribute(attribute_id, _value_spec(raw, f"{where} {attribute_id}"),
                     bool(raw.get("identifiesUser", False)), str(raw.get("description", "")))


def parse_attributes(raw: Any) -> list[Attribute]:
    attributes = [parse_attribute(item, f"attributes[{i}]") for i, item in enumerate(_items(raw, "attributes"))]
    _unique_ids(attributes, "attributes")
    return attributes


def parse_event_type(raw: dict[str, Any], where: str = "event type") -> EventType:
    unknown = set(raw) - {"id", "whitelabel", "fields", "userFields", "description"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    type_id = raw.get("id")
    if not isinstance(type_id, str) or not EVENT_TYPE_ID.match(type_id):
        raise ConfigError(f"{where}: id must match {EVENT_TYPE_ID.pattern}")
    where = f"{where} {type_id}"
    whitelabel = raw.get("whitelabel")
    if not isinstance(whitelabel, str) or not whitelabel:
        raise ConfigError(f"{where}: whitelabel (the partner that receives its occurrences) is required")
    fields: dict[str, EventField] = {}
    for index, item in enumerate(_items(raw.get("fields") or [], f"{where}: fields")):
        name = item.get("id")
        if not isinstance(name, str) or not FIELD_ID.match(name) or name.startswith("lum_"):
            raise ConfigError(f"{where}: fields[{index}].id must match {FIELD_ID.pattern} and not start with lum_")
        if name in fields:
            raise ConfigError(f"{where}: field {name!r} is listed twice")
        unknown = set(item) - {"id", "type", "multiple", "maxLength", "maxItems", "required"}
        if unknown:
            raise ConfigError(f"{where}: fields[{index}]: unknown keys {sorted(unknown)}")
        fields[name] = EventField(_value_spec(item, f"{where} field {name}"), bool(item.get("required", False)))
    user_fields = raw.get("userFields", ["trackId"])
    if not isinstance(user_fields, list) or not all(isinstance(f, str) for f in user_fields):
        raise ConfigError(f"{where}: userFields must be a list of names")
    for name in user_fields:
        custom = name.removeprefix("customAttributes.")
        if name not in USER_PROPERTIES and not (custom != name and FIELD_ID.match(custom)):
            raise ConfigError(f"{where}: userFields: {name!r} is not one of {', '.join(USER_PROPERTIES)} "
                              "or customAttributes.<attribute id>")
    return EventType(type_id, whitelabel, fields, tuple(dict.fromkeys(["trackId", *user_fields])),
                     str(raw.get("description", "")))


def parse_event_types(raw: Any) -> list[EventType]:
    types = [parse_event_type(item, f"eventTypes[{i}]") for i, item in enumerate(_items(raw, "eventTypes"))]
    _unique_ids(types, "eventTypes")
    return types


def parse_rules(raw: Any) -> MonitoringRules:
    try:
        return MonitoringRules.from_dict(raw)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def parse_privacy(raw: Any) -> Privacy:
    if raw is None:
        return Privacy()
    if not isinstance(raw, dict) or set(raw) - {"enabled", "terms"}:
        raise ConfigError("privacy is a mapping with `enabled` and `terms`")
    terms = raw.get("terms") or []
    if not isinstance(terms, list) or not all(isinstance(t, str) and TERM_ID.match(t) for t in terms):
        raise ConfigError(f"privacy.terms must be a list of term ids matching {TERM_ID.pattern}")
    enabled = raw.get("enabled", False)
    if not isinstance(enabled, bool):
        raise ConfigError("privacy.enabled must be true or false")
    if enabled and not terms:
        raise ConfigError("privacy.enabled needs at least one term users can consent to")
    return Privacy(enabled, tuple(terms))


# -- storage ------------------------------------------------------------------------------------

class ConfigStore:
    def __init__(self, db: firestore.Client):
        self._db = db

    def put_attributes(self, attributes: list[Attribute], prune: bool = False) -> list[str]:
        """Creates or replaces each attribute; with ``prune`` removes those not given. Returns the
        removed ids."""
        return self._put_all(ATTRIBUTES, {a.id: a.to_dict() for a in attributes}, prune)

    def put_event_types(self, event_types: list[EventType], prune: bool = False) -> list[str]:
        return self._put_all(EVENT_TYPES, {t.id: t.to_dict() for t in event_types}, prune)

    def put_rules(self, rules: MonitoringRules) -> None:
        self._db.collection(SETTINGS).document("rules").set(rules.to_dict())

    def put_privacy(self, privacy: Privacy) -> None:
        self._db.collection(SETTINGS).document("privacy").set(privacy.to_dict())

    def load(self) -> MonitorConfig:
        attributes = [parse_attribute(d.to_dict()) for d in self._db.collection(ATTRIBUTES).stream()]
        event_types = [parse_event_type(d.to_dict()) for d in self._db.collection(EVENT_TYPES).stream()]
        settings = {d.id: d.to_dict() for d in self._db.collection(SETTINGS).stream()}
        return MonitorConfig(
            attributes={a.id: a for a in attributes},
            event_types={t.id: t for t in event_types},
            rules=parse_rules(settings.get("rules")),
            privacy=parse_privacy(settings.get("privacy")),
        )

    def _put_all(self, collection: str, documents: dict[str, dict[str, Any]], prune: bool) -> list[str]:
        batch = self._db.batch()
        removed = []
        if prune:
            for ref in self._db.collection(collection).list_documents():
                if ref.id not in documents:
                    batch.delete(ref)
                    removed.append(ref.id)
        for doc_id, data in documents.items():
            batch.set(self._db.collection(collection).document(doc_id), data)
        batch.commit()
        return removed


class CachedConfig:
    """The configuration snapshot of this instance, reloaded at most every ``seconds``."""

    def __init__(self, load: Callable[[], MonitorConfig], seconds: float,
                 clock: Callable[[], float] = time.monotonic):
        self._load = load
        self._seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._value: MonitorConfig | None = None
        self._loaded_at = 0.0

    def get(self) -> MonitorConfig:
        with self._lock:
            now = self._clock()
            if self._value is None or now - self._loaded_at >= self._seconds:
                self._value = self._load()
                self._loaded_at = now
            return self._value
