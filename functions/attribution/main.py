"""attribution: credits each conversion (topic "conversions") to the campaigns that earned it."""

import functions_framework
from cloudevents.http import CloudEvent

from shared.retail_media import attribution_app


@functions_framework.cloud_event
def attribution(cloud_event: CloudEvent) -> None:
    attribution_app.handle(cloud_event)
