"""An event as every publisher puts it on topic ``events``: its one serialisation and its
attributes (the contract every forwarder reads; see README, "Publishing")."""

from __future__ import annotations

import json
from typing import Any, Mapping

from shared.platform.publisher import OutgoingMessage


def encode_event(event: Mapping[str, Any]) -> bytes:
    """The one serialisation of an event: what Pub/Sub carries and partners receive. RFC 8259 JSON
    only: a NaN or an infinity raises ValueError rather than reach a partner as ``NaN`` (the HTTP
    functions' bodies never hold one: shared.platform.json_body)."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def partner_of(event: Mapping[str, Any]) -> str | None:
    """The partner an event belongs to: ``data.whitelabel``, else ``data.ownerWhitelabel``."""
    data = event.get("data")
    if isinstance(data, dict):
        value = data.get("whitelabel") or data.get("ownerWhitelabel")
        return value if isinstance(value, str) else None
    return None


def event_message(event: Mapping[str, Any], flow_id: str) -> OutgoingMessage:
    """An event as every publisher sends it to topic ``events``: the encoded event with attributes
    eventId, eventType, flowId and, when the event names one, whitelabel."""
    attributes = {"eventId": event["eventId"], "eventType": event["eventType"], "flowId": flow_id}
    whitelabel = partner_of(event)
    if whitelabel is not None:
        attributes["whitelabel"] = whitelabel
    return OutgoingMessage(encode_event(event), attributes)
