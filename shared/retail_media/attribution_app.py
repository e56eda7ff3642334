"""Wiring of the attribution function: a push subscription on topic ``conversions`` invokes it
with a CloudEvent per message. An exception answers 500, so Pub/Sub redelivers (then
dead-letters); a message that can never be processed is logged and acknowledged."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from datetime import timedelta
from functools import lru_cache
from typing import Any

from shared.platform import logs
from shared.platform.clients import firestore_client
from shared.platform.clock import utc_now
from shared.retail_media.attribution import AttributionService, Window
from shared.retail_media.beacon import schema
from shared.retail_media.campaigns import CampaignStore
from shared.retail_media.settings import AttributionSettings

logs.configure()
logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def service() -> AttributionService:
    db = firestore_client()
    settings = AttributionSettings.from_env()
    window = Window(timedelta(seconds=settings.window_seconds), settings.clock_skew)
    return AttributionService(db, CampaignStore(db), window, utc_now)


def handle(cloud_event: Any) -> None:
    pubsub_message = (cloud_event.data or {}).get("message", {})
    attributes = pubsub_message.get("attributes") or {}
    with logs.flow_scope(attributes.get("flowId")):
        _handle(pubsub_message)


def _handle(pubsub_message: dict[str, Any]) -> None:
    try:
        message = _decode(pubsub_message)
    except (binascii.Error, ValueError) as exc:
        logger.error("unreadable conversion message: dropped",
                     extra={"messageId": pubsub_message.get("messageId"), "error": type(exc).__name__})
        return
    attributions = service().process(message)
    if attributions is None:
        logger.info("conversion already attributed: unchanged", extra={"conversionId": message.get("conversionId")})
        return
    logger.info("conversion attributed" if attributions else "conversion not attributed",
                extra={"conversionId": message.get("conversionId"), "campaigns": [a.campaign_id for a in attributions]})


def _decode(pubsub_message: dict[str, Any]) -> dict[str, Any]:
    """The beacon's message ``{conversionId, receivedAt, conversion}``, checked again: a message
    published by anything else must not break the function on every redelivery."""
    message = json.loads(base64.b64decode(pubsub_message.get("data", ""), validate=True))
    if (not isinstance(message, dict) or not isinstance(message.get("conversionId"), str)
            or schema("conversion").errors(message.get("conversion"))):
        raise ValueError("not a conversion message")
    return message
