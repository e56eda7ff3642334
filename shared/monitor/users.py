"""User records of the monitor API: validation of what a request stores, merge-patch, privacy.

Pure logic; ``store`` reads and writes the records. A record (Firestore ``monitor_users/<trackId>``):

    {"trackId", "friendlyId"?, "login"?, "firstName"?, "middleName"?, "lastName"?, "email"?,
     "projectId"?, "customAttributes": {...}, "consents": {"<termId>": {"acceptedAt": ...}},
     "createdAt", "updatedAt", "createdBy": "<app>"}

A request's changes are a JSON merge patch (RFC 7396) of the editable properties: ``null``
removes, objects merge, anything else replaces. POST /v1/users applies its body the same way to
an existing user.
"""

from __future__ import annotations

import copy
import re
import secrets
import string
from datetime import datetime
from typing import Any

import json_merge_patch

from shared.monitor.config import Attribute, Privacy
from shared.monitor.errors import MonitorError, invalid_fields, problem
from shared.monitor.values import InvalidValue

FRIENDLY_ID_MAX_LENGTH = 255
TEXT_LIMITS = {"firstName": 100, "middleName": 100, "lastName": 100, "email": 255}
# What privacy protects: a user without a login stores these only after a consent.
PERSONAL_PROPERTIES = ("friendlyId", "firstName", "middleName", "lastName", "email")
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
TRACK_ID_ALPHABET = string.ascii_letters + string.digits
TRACK_ID_LENGTH = 32  # 62**32: about 190 bits, unguessable


def new_track_id() -> str:
    return "".join(secrets.choice(TRACK_ID_ALPHABET) for _ in range(TRACK_ID_LENGTH))


def new_user(track_id: str, now: datetime, app: str) -> dict[str, Any]:
    return {"trackId": track_id, "customAttributes": {}, "consents": {}, "createdAt": now, "updatedAt": now,
            "createdBy": app}


def validate_friendly_id(value: Any, field: str = "friendlyId") -> str:
    if not isinstance(value, str) or not value:
        raise invalid_fields([problem(field, "must be a non-empty string")])
    if len(value) > FRIENDLY_ID_MAX_LENGTH:
        raise invalid_fields([problem(field, f"must be at most {FRIENDLY_ID_MAX_LENGTH} characters")])
    return value


def validate_changes(body: Any, attributes: dict[str, Attribute], *, friendly_id_allowed: bool) -> dict[str, Any]:
    """The request body as a merge patch of a user (values normalized), or INVALID_FIELDS with
    every problem found. ``friendlyId`` is only allowed on POST /v1/users (and null there means
    absent)."""
    if not isinstance(body, dict):
        raise invalid_fields([problem("", "must be a JSON object")])
    problems: list[dict[str, str]] = []
    changes: dict[str, Any] = {}
    for name, value in body.items():
        if name == "friendlyId":
            if not friendly_id_allowed:
                problems.append(problem(name, "cannot be changed here: use POST /v1/users/{trackId}/identify"))
            elif value is not None:
                try:
                    changes[name] = validate_friendly_id(value)
                except MonitorError as exc:
                    problems.extend(exc.parameters["fields"])
        elif name in TEXT_LIMITS:
            if value is not None and not isinstance(value, str):
                problems.append(problem(name, "must be a string or null"))
            elif value is not None and len(value) > TEXT_LIMITS[name]:
                problems.append(problem(name, f"must be at most {TEXT_LIMITS[name]} characters"))
            else:
                changes[name] = value
        elif name == "projectId":
            if value is not None and not (isinstance(value, str) and GUID.match(value)):
                problems.append(problem(name, "must be a GUID or null"))
            else:
                changes[name] = value
        elif name == "customAttributes":
            if value is None:
                changes[name] = None
            elif not isinstance(value, dict):
                problems.append(problem(name, "must be an object or null"))
            else:
                changes[name] = _custom_attributes(value, attributes, problems)
        else:
            problems.append(problem(name, "is not a property of a user"))
    if problems:
        raise invalid_fields(problems)
    return changes


def _custom_attributes(values: dict[str, Any], attributes: dict[str, Attribute],
                       problems: list[dict[str, str]]) -> dict[str, Any]:
    normalized: dict[str, Any] = {}
    for attribute_id, value in values.items():
        field = f"customAttributes.{attribute_id}"
        if value is None:  # removal, allowed also for an attribute no longer registered
            normalized[attribute_id] = None
            continue
        attribute = attributes.get(attribute_id)
        if attribute is None:
            problems.append(problem(field, "is not a registered attribute"))
            continue
        try:
            normalized[attribute_id] = attribute.value.normalize(value)
        except InvalidValue as exc:
            problems.append(problem(field, str(exc)))
    return normalized


def personal_fields_set(changes: dict[str, Any], attributes: dict[str, Attribute]) -> list[str]:
    """The privacy-protected fields ``changes`` gives a value (removing one is always allowed)."""
    fields = [name for name in PERSONAL_PROPERTIES if changes.get(name) is not None]
    for attribute_id, value in (changes.get("customAttributes") or {}).items():
        attribute = attributes.get(attribute_id)
        if value is not None and attribute is not None and attribute.identifies_user:
            fields.append(f"customAttributes.{attribute_id}")
    return fields


def apply_changes(user: dict[str, Any], changes: dict[str, Any], now: datetime) -> dict[str, Any]:
    updated = json_merge_patch.merge(copy.deepcopy(user), changes)
    updated["updatedAt"] = now
    return updated


def has_consent(user: dict[str, Any], privacy: Privacy) -> bool:
    return any(term in (user.get("consents") or {}) for term in privacy.terms)


def require_consent(privacy: Privacy, user: dict[str, Any], fields: list[str]) -> None:
    """409 when privacy is on and ``user`` (as it would be stored) gets personal ``fields``
    without a consent to a current term and without a login."""
    if privacy.enabled and fields and not user.get("login") and not has_consent(user, privacy):
        raise MonitorError(409, "CONSENT_REQUIRED",
                           "this user has not consented to a privacy term: record a consent first "
                           "(POST /v1/users/{trackId}/consents)",
                           fields=fields, terms=list(privacy.terms))


def merge_users(target: dict[str, Any], anonymous: dict[str, Any], now: datetime) -> dict[str, Any]:
    """``anonymous`` folded into ``target`` (identify): target's values win, the anonymous user's
    fill the gaps; custom attributes and consents are united the same way."""
    merged = copy.deepcopy(target)
    for name in (*TEXT_LIMITS, "projectId"):
        if merged.get(name) is None and anonymous.get(name) is not None:
            merged[name] = anonymous[name]
    for name in ("customAttributes", "consents"):
        merged[name] = {**(anonymous.get(name) or {}), **(merged.get(name) or {})}
    merged["updatedAt"] = now
    return merged
