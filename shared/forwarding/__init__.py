"""Forwarding: every event of topic ``events`` reaches its partner's destinations.

Modules: ``forwarder`` (one event to the destinations of one kind: delivery log, retries, dead
letters), ``message`` (the Pub/Sub message as a forwarder receives it), ``partners`` (the partner
registry and its validation), ``delivery_log``, ``secret_refs`` (secret references, resolved),
``settings``, ``app`` (wiring of one forwarder for one process), and ``destinations/`` (webhook,
mongodb, gcs: one module per kind, plus the webhook's client, SSRF guard and signing).
"""
