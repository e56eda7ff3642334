"""One module per destination kind (``webhook``, ``mongodb``, ``gcs``), each a ``Delivery`` with
``deliver(event, destination) -> Attempt``; the webhook's pinned-address HTTP client, SSRF guard
and Standard Webhooks signing beside it."""
