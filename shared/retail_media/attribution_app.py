"""Wiring of the attribution function: a push subscription on topic ``conversions`` invokes it
with a CloudEvent per message. An exception answers 500, so Pub/Sub redelivers (then
dead-letters). A message that can never be processed is held, not dropped: published to
``attribution-dead-letter`` with a reason and what was wrong (``deadletters list`` shows it),
logged at ERROR, then acknowledged; if that publish fails, the invocation fails and Pub/Sub brings
the message back. The reasons: ``malformed``, not a conversion the beacon publishes;
``undeliverable_value``, a conversion whose revenue Firestore cannot store (beyond 64-bit
millionths: a price of 1e300 passes the schema, which bounds neither price nor quantity)."""

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
from shared.platform.dead_letters import MALFORMED, UNDELIVERABLE_VALUE, HoldNotPublished, hold_attributes
from shared.platform.json_body import INT64_MAX
from shared.platform.publisher import EventPublisher, OutgoingMessage
from shared.platform.settings import dead_letter_topic, project_id
from shared.retail_media.attribution import AttributionService, Window
from shared.retail_media.beacon import schema
from shared.retail_media.campaigns import CampaignStore
from shared.retail_media.conversion import revenue_micros
from shared.retail_media.settings import AttributionSettings

logs.configure()
logger = logging.getLogger(__name__)

FUNCTION_NAME = "attribution"


@lru_cache(maxsize=1)
def service() -> AttributionService:
    db = firestore_client()
    settings = AttributionSettings.from_env()
    window = Window(timedelta(seconds=settings.window_seconds), settings.clock_skew)
    return AttributionService(db, CampaignStore(db), window, utc_now)


@lru_cache(maxsize=1)
def dead_letters() -> EventPublisher:
    timeout = AttributionSettings.from_env().publish_timeout_seconds
    return EventPublisher(project_id(), dead_letter_topic(FUNCTION_NAME), timeout)


def handle(cloud_event: Any) -> None:
    pubsub_message = (cloud_event.data or {}).get("message", {})
    attributes = pubsub_message.get("attributes") or {}
    with logs.flow_scope(attributes.get("flowId")):
        _handle(pubsub_message)


def _handle(pubsub_message: dict[str, Any]) -> None:
    try:
        message = _decode(pubsub_message)
    except (binascii.Error, ValueError) as exc:
        _hold(pubsub_message, MALFORMED, f"not a conversion message: {exc}")
        return
    revenue = revenue_micros(message["conversion"]["items"])
    if revenue > INT64_MAX:
        _hold(pubsub_message, UNDELIVERABLE_VALUE,
              f"conversion {message['conversionId']}: its revenue, a {len(str(revenue))}-digit number of "
              "millionths, is beyond the 64-bit integers Firestore stores")
        return
    attributions = service().process(message)
    if attributions is None:
        logger.info("conversion already attributed: unchanged", extra={"conversionId": message.get("conversionId")})
        return
    logger.info("conversion attributed" if attributions else "conversion not attributed",
                extra={"conversionId": message.get("conversionId"), "campaigns": [a.campaign_id for a in attributions]})


def _hold(pubsub_message: dict[str, Any], reason: str, detail: str) -> None:
    """Keep the message as it came in the dead letters, with why (raises if Pub/Sub does not confirm)."""
    data = pubsub_message.get("data") or ""
    try:
        body = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError, TypeError):
        body = str(data).encode("utf-8", "replace")  # not base64: kept as it came
    attributes = hold_attributes(pubsub_message.get("attributes") or {}, reason, detail, FUNCTION_NAME)
    outcome = dead_letters().publish_many([OutgoingMessage(body, attributes)])[0]
    if not outcome.published:
        raise HoldNotPublished(f"could not publish to the dead-letter topic: {outcome.error}")
    logger.error("conversion held in the dead letters",
                 extra={"messageId": pubsub_message.get("messageId"), "reason": reason, "detail": detail})


def _decode(pubsub_message: dict[str, Any]) -> dict[str, Any]:
    """The beacon's message ``{conversionId, receivedAt, conversion}``, checked again: a message
    published by anything else must not break the function on every redelivery."""
    message = json.loads(base64.b64decode(pubsub_message.get("data", ""), validate=True))
    if not isinstance(message, dict) or not isinstance(message.get("conversionId"), str):
        raise ValueError("no conversionId")
    errors = schema("conversion").errors(message.get("conversion"))
    if errors:
        raise ValueError(f"the conversion is invalid ({len(errors)} error(s), the first: "
                         f"{errors[0]['instancePath'] or '/'} {errors[0]['message']})")
    return message
