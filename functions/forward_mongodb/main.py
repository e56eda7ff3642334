"""forward_mongodb: inserts each event into its partner's MongoDB collections
(push subscription on topic "events")."""

import functions_framework
from cloudevents.http import CloudEvent

from shared.forwarding import app as forwarding_app


@functions_framework.cloud_event
def forward_mongodb(cloud_event: CloudEvent) -> None:
    forwarding_app.handle("forward_mongodb", cloud_event)
