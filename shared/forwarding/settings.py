"""Settings of the forwarders (environment variables; defaults are production's)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from shared.platform.settings import env_bool, env_float, env_int


@dataclass(frozen=True)
class ForwardingSettings:
    # How long a partner's configuration is reused per instance before Firestore is read again
    # (how long a `partners apply` or `disable` takes to reach running forwarders).
    partner_cache_seconds: float
    # How long a resolved secret is reused per instance (how long a rotation takes to be seen).
    secret_cache_seconds: float
    # A delivery that fails for an event older than this (by eventDate) goes to the dead-letter
    # topic at once instead of being retried: it is too old to matter to the partner.
    max_event_age_seconds: float
    # Local development only: lets webhooks target loopback (the local sink). Never in production.
    webhook_allow_loopback: bool
    mongodb_max_pool_size: int
    mongodb_server_selection_timeout_ms: int
    gcs_timeout_seconds: float
    # Bounded wait for Pub/Sub to confirm a publish to the dead-letter topic.
    publish_timeout_seconds: float
    # Days a delivery-log entry is kept (its expireAt).
    delivery_log_days: int

    @classmethod
    def from_env(cls) -> "ForwardingSettings":
        return cls(
            partner_cache_seconds=env_float("PARTNER_CACHE_SECONDS", 30.0),
            secret_cache_seconds=env_float("SECRET_CACHE_SECONDS", 300.0),
            max_event_age_seconds=env_float("FORWARD_MAX_EVENT_AGE_SECONDS", 86400.0),
            webhook_allow_loopback=env_bool("WEBHOOK_ALLOW_LOOPBACK", False),
            mongodb_max_pool_size=env_int("MONGODB_MAX_POOL_SIZE", 10),
            mongodb_server_selection_timeout_ms=env_int("MONGODB_SERVER_SELECTION_TIMEOUT_MS", 5000),
            gcs_timeout_seconds=env_float("GCS_TIMEOUT_SECONDS", 10.0),
            publish_timeout_seconds=env_float("PUBLISH_TIMEOUT_SECONDS", 5.0),
            delivery_log_days=env_int("DELIVERY_LOG_DAYS", 30),
        )


def dead_letter_topic(function_name: str) -> str:
    """The dead-letter topic of a topic-triggered function: ``<function>-dead-letter``, the name
    topology.yaml gives it (DEAD_LETTER_TOPIC overrides)."""
    return os.environ.get("DEAD_LETTER_TOPIC") or f"{function_name}-dead-letter"
