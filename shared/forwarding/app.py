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
from shared.forwarding.forwarder import NOT_FOR_THIS_FORWARDER, NOTHING_OF_THIS_KIND, DeliveryIncomplete, Forwarder
from shared.forwarding.holds import dead_letter_sink
from shared.forwarding.message import MalformedEvent, PubSubMessage
from shared.forwarding.partners import PartnerLookup, PartnerRegistry
from shared.forwarding.secret_refs import SecretResolver
from shared.forwarding.settings import ForwardingSettings
from shared.platform import logs
from shared.platform.clients import firestore_client
from shared.platform.publisher import EventPublisher
from shared.platform.settings import dead_letter_topic, project_id

logs.configure()
logger = logging.getLogger(__name__)

FUNCTION_KINDS = {"forward_webhook": "webhook", "forward_mongodb": "mongodb", "forward_gcs": "gcs"}
NOTHING_OWED = (NOT_FOR_THIS_FORWARDER, NOTHING_OF_THIS_KIND)
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


def build_forwarder(function_name: str, *, inline: bool) -> Forwarder:
    """The forwarder of one kind: ``inline`` inside its push-triggered function, or not inside the
    re-driver, which makes the retries of the three kinds (shared/forwarding/redrive_app.py)."""
    settings = ForwardingSettings.from_env()
    db = firestore_client()
    dead_letters = EventPublisher(project_id(), dead_letter_topic(function_name), settings.publish_timeout_seconds)
    return Forwarder(
        function_name=function_name,
        delivery=_delivery(FUNCTION_KINDS[function_name], settings, SecretResolver(settings.secret_cache_seconds)),
        partners=PartnerLookup(PartnerRegistry(db).get, settings.partner_cache_seconds).get,
        log=DeliveryLog(db, settings.delivery_log_days),
        dead_letters=dead_letter_sink(dead_letters),
        policy=settings.retry_policy,
        health=settings.destination_health(),
        inline=inline,
        redrive_lease_seconds=settings.redrive_lease_seconds,
        pubsub_max_delivery_attempts=settings.pubsub_max_delivery_attempts,
        executor=_EXECUTOR,
    )


@lru_cache(maxsize=None)
def forwarder(function_name: str) -> Forwarder:
    return build_forwarder(function_name, inline=True)


def _delivery_attempt() -> int | None:
    """The push body's ``deliveryAttempt`` (functions-framework leaves it out of the CloudEvent)."""
    body = flask.request.get_json(silent=True) if flask.has_request_context() else None
    attempt = body.get("deliveryAttempt") if isinstance(body, dict) else None
    return attempt if isinstance(attempt, int) else None


def handle(function_name: str, cloud_event: Any) -> None:
    """Return (acknowledge) once every destination is delivered, scheduled for a retry or held;
    answer 503 (Pub/Sub retries) only for an event too large to keep for the re-driver."""
    try:
        message = PubSubMessage.from_cloud_event_data(cloud_event.data, _delivery_attempt())
    except MalformedEvent as exc:
        # Not a Pub/Sub message at all: nothing to retry or dead-letter.
        logger.error("not a Pub/Sub message; dropped", extra={"reason": str(exc), "forwarder": function_name})
        return
    with logs.flow_scope(message.attributes.get("flowId")):
        try:
            outcome = forwarder(function_name).handle(message)
        except DeliveryIncomplete as exc:
            flask.abort(503, description=str(exc))
        if outcome in NOTHING_OWED:
            # Another forwarder's retry, or a partner with no destination of this kind: nothing is
            # owed here, and most events are such for two of the three forwarders.
            logger.debug("acknowledged: nothing to deliver here",
                         extra={"eventId": message.attributes.get("eventId"), "reason": outcome,
                                "forwarder": function_name})
