"""Every setting the functions read from the environment, in one place.

Defaults are the production values; the local stack and the tests override them through the
same variables, so no code path exists only for tests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return default if raw in (None, "") else float(raw)


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def project_id() -> str:
    """The Google Cloud project; Cloud Functions sets GOOGLE_CLOUD_PROJECT only on some runtimes,
    so Terraform sets it explicitly on every function."""
    project = os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("GCP_PROJECT")
    if not project:
        raise RuntimeError("GOOGLE_CLOUD_PROJECT is not set")
    return project


@dataclass(frozen=True)
class IngestSettings:
    events_topic: str
    # Bounded wait for Pub/Sub's confirmation; past it the caller gets failed_dependency.
    publish_timeout_seconds: float
    max_event_bytes: int
    max_batch_bytes: int
    max_batch_events: int
    # How long a verified API key is trusted before Firestore is asked again (revocation delay).
    api_key_cache_seconds: float

    @classmethod
    def from_env(cls) -> "IngestSettings":
        return cls(
            events_topic=os.environ.get("EVENTS_TOPIC", "events"),
            publish_timeout_seconds=_float("PUBLISH_TIMEOUT_SECONDS", 5.0),
            max_event_bytes=_int("MAX_EVENT_BYTES", 1024 * 1024),
            max_batch_bytes=_int("MAX_BATCH_BYTES", 5 * 1024 * 1024),
            max_batch_events=_int("MAX_BATCH_EVENTS", 500),
            api_key_cache_seconds=_float("API_KEY_CACHE_SECONDS", 30.0),
        )


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    return default if raw in (None, "") else raw.strip().lower() in ("1", "true", "yes")


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
            partner_cache_seconds=_float("PARTNER_CACHE_SECONDS", 30.0),
            secret_cache_seconds=_float("SECRET_CACHE_SECONDS", 300.0),
            max_event_age_seconds=_float("FORWARD_MAX_EVENT_AGE_SECONDS", 86400.0),
            webhook_allow_loopback=_bool("WEBHOOK_ALLOW_LOOPBACK", False),
            mongodb_max_pool_size=_int("MONGODB_MAX_POOL_SIZE", 10),
            mongodb_server_selection_timeout_ms=_int("MONGODB_SERVER_SELECTION_TIMEOUT_MS", 5000),
            gcs_timeout_seconds=_float("GCS_TIMEOUT_SECONDS", 10.0),
            publish_timeout_seconds=_float("PUBLISH_TIMEOUT_SECONDS", 5.0),
            delivery_log_days=_int("DELIVERY_LOG_DAYS", 30),
        )


def dead_letter_topic(function_name: str) -> str:
    """The dead-letter topic of a topic-triggered function: ``<function>-dead-letter``, the name
    topology.yaml gives it (DEAD_LETTER_TOPIC overrides)."""
    return os.environ.get("DEAD_LETTER_TOPIC") or f"{function_name}-dead-letter"
