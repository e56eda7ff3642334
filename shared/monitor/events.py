"""Occurrences of registered event types (POST /v1/events/{id}/data) and their FPASS envelope.

The request body holds the event type's field values and ``lum_user.trackId`` (as
``{"lum_user": {"trackId": ...}}`` or the key ``"lum_user.trackId"``). The occurrence becomes
the event ``monitor.event`` (schema: shared/events/schemas/monitor.event/v1.json):

    {"eventId": "<new UUIDv4>", "eventDate": "<when recorded, UTC>",
     "eventType": "monitor.event",
     "resourceId": "<event type id>", "resourceType": "monitor.eventType",
     "ownerExternalId": "<the user's trackId (canonical: after a merge, the merged user's)>",
     "data": {"whitelabel": "<the event type's partner>", "timestamp": "<= eventDate>",
              "fields": {<the field values, as validated>},
              "lum_user": {"trackId": ..., <each of the event type's userFields the user has>}}}

``lum_user`` is filled from the user record only, never from the request.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from shared.monitor.config import EventType
from shared.monitor.errors import invalid_fields, missing_fields, problem
from shared.monitor.values import InvalidValue

EVENT_TYPE = "monitor.event"
RESOURCE_TYPE = "monitor.eventType"
USER_KEY = "lum_user"


def read_occurrence(body: Any, event_type: EventType) -> tuple[str, dict[str, Any]]:
    """The trackId and the validated field values of a request, or MISSING/INVALID_FIELDS."""
    if not isinstance(body, dict):
        raise invalid_fields([problem("", "must be a JSON object")])
    problems: list[dict[str, str]] = []
    user = body.get(USER_KEY)
    track_id = body.get(f"{USER_KEY}.trackId")
    if isinstance(user, dict):
        track_id = user.get("trackId", track_id)
        problems += [problem(f"{USER_KEY}.{name}", "is filled from the user record: send only lum_user.trackId")
                     for name in user if name != "trackId"]
    elif user is not None:
        problems.append(problem(USER_KEY, "must be an object"))
    values: dict[str, Any] = {}
    for name, value in body.items():
        if name in (USER_KEY, f"{USER_KEY}.trackId"):
            continue
        spec = event_type.fields.get(name)
        if spec is None:
            problems.append(problem(name, f"is not a field of event type {event_type.id}"))
        elif value is not None:
            try:
                values[name] = spec.value.normalize(value)
            except InvalidValue as exc:
                problems.append(problem(name, str(exc)))
    missing = [name for name, spec in event_type.fields.items() if spec.required and body.get(name) is None]
    if track_id is None:
        missing.insert(0, f"{USER_KEY}.trackId")
    elif not isinstance(track_id, str) or not track_id:
        problems.append(problem(f"{USER_KEY}.trackId", "must be a non-empty string"))
    if missing:
        raise missing_fields(missing)
    if problems:
        raise invalid_fields(problems)
    return track_id, values


def user_fields(event_type: EventType, user: dict[str, Any]) -> dict[str, Any]:
    filled: dict[str, Any] = {}
    for name in event_type.user_fields:
        if name.startswith("customAttributes."):
            attribute_id = name.split(".", 1)[1]
            value = (user.get("customAttributes") or {}).get(attribute_id)
            if value is not None:
                filled.setdefault("customAttributes", {})[attribute_id] = value
        elif user.get(name) is not None:
            filled[name] = user[name]
    return filled


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def envelope(event_type: EventType, values: dict[str, Any], user: dict[str, Any], now: datetime,
             event_id: str | None = None) -> dict[str, Any]:
    when = iso_utc(now)
    return {
        "eventId": event_id or str(uuid.uuid4()),
        "eventDate": when,
        "eventType": EVENT_TYPE,
        "resourceId": event_type.id,
        "resourceType": RESOURCE_TYPE,
        "ownerExternalId": user["trackId"],
        "data": {
            "whitelabel": event_type.whitelabel,
            "timestamp": when,
            "fields": values,
            USER_KEY: user_fields(event_type, user),
        },
    }
