"""forward_webhook: POSTs each event, signed, to its partner's webhooks
(push subscription on topic "events")."""

import functions_framework
from cloudevents.http import CloudEvent

from shared.forwarding import app as forwarding_app


@functions_framework.cloud_event
def forward_webhook(cloud_event: CloudEvent) -> None:
    forwarding_app.handle("forward_webhook", cloud_event)
