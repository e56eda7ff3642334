"""forward_gcs: writes each event as a JSON object into its partner's Cloud Storage buckets
(push subscription on topic "events")."""

import functions_framework
from cloudevents.http import CloudEvent

from shared.forwarding import app as forwarding_app


@functions_framework.cloud_event
def forward_gcs(cloud_event: CloudEvent) -> None:
    forwarding_app.handle("forward_gcs", cloud_event)
