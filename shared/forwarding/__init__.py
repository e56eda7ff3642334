"""Forwarding: every event of topic ``events`` reaches its partner's destinations, or is held.

Modules: ``forwarder`` (one event to the destinations of one kind: the delivery log, attempts,
retries scheduled, holds), ``message`` (the Pub/Sub message as a forwarder receives it, the
event's content hash), ``partners`` (the partner registry, its validation and lookups),
``delivery_log``, ``holds`` (reasons and dead letters), ``retry_policy``, ``destination_health``
(circuits and inline budgets), ``redrive`` (the re-driver: retries when due, and the
reconciliation), ``secret_refs`` (secret references, resolved), ``settings``, ``app`` and
``redrive_app`` (wiring for one process), and ``destinations/`` (webhook, mongodb, gcs: one
module per kind, plus the webhook's client, SSRF guard and signing). The design:
docs/forwarding.md.
"""
