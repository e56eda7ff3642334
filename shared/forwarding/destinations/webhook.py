"""Webhook destinations: POST the event, unchanged, signed per Standard Webhooks.

Headers: ``Content-Type: application/json``, ``webhook-id`` (the eventId: receivers deduplicate
by it), ``webhook-timestamp``, ``webhook-signature`` (one ``v1`` signature per signing secret)
and ``X-Flow-Id``. 200 or 201 is success, any other answer a failure (the spec).
"""

from __future__ import annotations

import time
from typing import Callable

from shared.forwarding.delivery_log import Attempt
from shared.forwarding.destinations.webhook_client import PinnedHttpClient
from shared.forwarding.destinations.webhook_signing import (
    InvalidSigningSecret,
    signed_headers,
    signing_key,
)
from shared.forwarding.message import ForwardedEvent
from shared.forwarding.partners import WebhookDestination
from shared.forwarding.secret_refs import SecretResolver, SecretUnavailable

SUCCESS_STATUSES = (200, 201)
USER_AGENT = "fpass-forwarder/1"


class WebhookDelivery:
    kind = "webhook"

    def __init__(self, client: PinnedHttpClient, secrets: SecretResolver, clock: Callable[[], float] = time.time):
        self._client = client
        self._secrets = secrets
        self._clock = clock

    @staticmethod
    def full_timeout(destination: WebhookDestination) -> float:
        return destination.timeout_seconds

    def deliver(self, event: ForwardedEvent, destination: WebhookDestination,
                timeout_seconds: float | None = None) -> Attempt:
        """``timeout_seconds``: a shorter wait than the destination's own (an attempt inside a push)."""
        try:
            keys = [signing_key(self._secrets.resolve(ref)) for ref in destination.signing_secrets]
        except (SecretUnavailable, InvalidSigningSecret) as exc:
            return Attempt(False, f"signing secret: {exc}")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **signed_headers(keys, event.event_id, int(self._clock()), event.raw),
        }
        if event.flow_id:
            headers["X-Flow-Id"] = event.flow_id
        outcome = self._client.post(destination.url, event.raw, headers, timeout_seconds or destination.timeout_seconds)
        if outcome.error:
            return Attempt(False, outcome.error)
        return Attempt(outcome.status in SUCCESS_STATUSES, f"HTTP {outcome.status}", outcome.status)
