"""Wiring of one forwarder for one process: settings, clients, and the CloudEvent glue.

Each forwarder builds only the client it needs (pymongo for forward_mongodb, Cloud Storage for
forward_gcs), once per process, shared by every request thread.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

import flask

from shared.forwarding.delivery_log import DeliveryLog
from shared.forwarding.forwarder import (
    NO_DESTINATIONS,
    NO_PARTNER,
    NOT_FOR_THIS_FORWARDER,
    DeliveryIncomplete,
    Forwarder,
    dead_letter_attributes,
)
from shared.forwarding.message import MalformedEvent, PubSubMessage
from shared.forwarding.partners import CachedPartners, PartnerRegistry
from shared.forwarding.secret_refs import SecretResolver
from shared.forwarding.settings import ForwardingSettings, dead_letter_topic
from shared.platform import logs
from shared.platform.clients import firestore_client
from shared.platform.publisher import EventPublisher, OutgoingMessage
from shared.platform.settings import project_id

logs.configure()
logger = logging.getLogger(__name__)

FUNCTION_KINDS = {"forward_webhook": "webhook", "forward_mongodb": "mongodb", "forward_gcs": "gcs"}
NOTHING_TO_DELIVER = (NOT_FOR_THIS_FORWARDER, NO_PARTNER, NO_DESTINATIONS)
# Deliveries of one event to several destinations of one kind run side by side.
_EXECUTOR = ThreadPoolExecutor(max_workers=32, thread_name_prefix="deliver")


def _delivery(kind: str, settings: ForwardingSettings, secrets: SecretResolver) -> Any:
    if kind == "webhook":
        from shared.forwarding.destinations.webhook import WebhookDelivery
        from shared.forwarding.destinations.webhook_client import PinnedHttpClient

        return WebhookDelivery(PinnedHttpClient(allow_loopback=settings.webhook_allow_loopback), secrets)
    if kind == "mongodb":
        from shared.forwarding.destinations.mongodb import MongoDelivery

        return MongoDelivery(secrets, settings.mongodb_max_pool_size, settings.mongodb_server_selection_timeout_ms)
    from google.cloud import storage

    from shared.forwarding.destinations.gcs import GcsDelivery

    return GcsDelivery(lambda: storage.Client(project=project_id()), settings.gcs_timeout_seconds)


@lru_cache(maxsize=None)
def forwarder(function_name: str) -> Forwarder:
    settings = ForwardingSettings.from_env()
    project = project_id()
    publisher = EventPublisher(project, dead_letter_topic(function_name), settings.publish_timeout_seconds)

    def dead_letter(message: PubSubMessage, reason: str) -> None:
        outgoing = OutgoingMessage(message.data, dead_letter_attributes(message, reason, function_name))
        outcome = publisher.publish_many([outgoing])[0]
        if not outcome.published:
            # Not acknowledged either: Pub/Sub delivers the message again.
            raise RuntimeError(f"could not publish to the dead-letter topic: {outcome.error}")

    db = firestore_client()
    return Forwarder(
        function_name=function_name,
        delivery=_delivery(FUNCTION_KINDS[function_name], settings, SecretResolver(settings.secret_cache_seconds)),
        partners=CachedPartners(PartnerRegistry(db).get, settings.partner_cache_seconds).get,
        log=DeliveryLog(db, settings.delivery_log_days),
        dead_letter=dead_letter,
        max_event_age_seconds=settings.max_event_age_seconds,
        executor=_EXECUTOR,
    )


def handle(function_name: str, cloud_event: Any) -> None:
    """Return (acknowledge) once every destination confirmed; answer 503 (Pub/Sub retries) when
    one did not. Failures are expected and logged per destination, so no traceback is raised."""
    try:
        message = PubSubMessage.from_cloud_event_data(cloud_event.data)
    except MalformedEvent as exc:
        # Not a Pub/Sub message at all: nothing to retry or dead-letter.
        logger.error("not a Pub/Sub message; dropped", extra={"reason": str(exc), "forwarder": function_name})
        return
    with logs.flow_scope(message.attributes.get("flowId")):
        try:
            outcome = forwarder(function_name).handle(message)
        except DeliveryIncomplete as exc:
            flask.abort(503, description=str(exc))
        if outcome in NOTHING_TO_DELIVER:
            # Most events concern no partner of this kind: DEBUG keeps them out of default views.
            logger.debug("acknowledged: nothing to deliver",
                         extra={"eventId": message.attributes.get("eventId"), "reason": outcome,
                                "forwarder": function_name})
