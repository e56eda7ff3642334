"""Wiring of the attribution function: a push subscription on topic ``conversions`` invokes it
with a CloudEvent per message. An exception answers 500, so Pub/Sub redelivers (then
dead-letters); a message that can never be processed is logged and acknowledged."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import timedelta
from functools import lru_cache
from typing import Any

from shared.platform import logs as structured_log
from shared.platform.clients import firestore_client
from shared.platform.clock import utc_now
from shared.retail_media.attribution import AttributionService, Window
from shared.retail_media.beacon import schema
from shared.retail_media.campaigns import CampaignStore
from shared.retail_media.settings import AttributionSettings


@lru_cache(maxsize=1)
def service() -> AttributionService:
    db = firestore_client()
    settings = AttributionSettings.from_env()
    window = Window(timedelta(seconds=settings.window_seconds), timedelta(seconds=settings.clock_skew_seconds))
    return AttributionService(db, CampaignStore(db), window, utc_now)


def handle(cloud_event: Any) -> None:
    pubsub_message = (cloud_event.data or {}).get("message", {})
    attributes = pubsub_message.get("attributes") or {}
    flow_id = attributes.get("flowId")
    try:
        message = _decode(pubsub_message)
    except (binascii.Error, ValueError) as exc:
        structured_log.error("unreadable conversion message: dropped", flow_id=flow_id,
                             messageId=pubsub_message.get("messageId"), error=type(exc).__name__)
        return
    attributions = service().process(message)
    structured_log.info("conversion attributed" if attributions else "conversion not attributed",
                        flow_id=flow_id, conversionId=message.get("conversionId"),
                        campaigns=[a.campaign_id for a in attributions])


def _decode(pubsub_message: dict[str, Any]) -> dict[str, Any]:
    """The beacon's message ``{conversionId, receivedAt, conversion}``, checked again: a message
    published by anything else must not break the function on every redelivery."""
    message = json.loads(base64.b64decode(pubsub_message.get("data", ""), validate=True))
    if (not isinstance(message, dict) or not isinstance(message.get("conversionId"), str)
            or schema("conversion").errors(message.get("conversion"))):
        raise ValueError("not a conversion message")
    return message
