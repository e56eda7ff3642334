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


@dataclass(frozen=True)
class MonitorSettings:
    events_topic: str
    publish_timeout_seconds: float
    # Users API bodies are small; anything larger is refused before it is parsed.
    max_body_bytes: int
    api_key_cache_seconds: float
    # How long the registered attributes, event types, rules and privacy setting are reused per
    # instance before Firestore is read again (how long an `admin monitor ... apply` takes to show).
    config_cache_seconds: float

    @classmethod
    def from_env(cls) -> "MonitorSettings":
        return cls(
            events_topic=os.environ.get("EVENTS_TOPIC", "events"),
            publish_timeout_seconds=_float("PUBLISH_TIMEOUT_SECONDS", 5.0),
            max_body_bytes=_int("MONITOR_MAX_BODY_BYTES", 256 * 1024),
            api_key_cache_seconds=_float("API_KEY_CACHE_SECONDS", 30.0),
            config_cache_seconds=_float("MONITOR_CONFIG_CACHE_SECONDS", 30.0),
        )


def _origins(name: str) -> frozenset[str]:
    return frozenset(o.strip().rstrip("/") for o in os.environ.get(name, "").split(",") if o.strip())


@dataclass(frozen=True)
class BeaconSettings:
    conversions_topic: str
    publish_timeout_seconds: float
    # Browser origins (scheme://host[:port]) of the publishers' storefronts: they get CORS
    # headers; a request from any other browser origin is refused. Requests without an Origin
    # header (servers, apps, curl) are accepted.
    allowed_origins: frozenset[str]
    max_ad_event_bytes: int
    max_conversion_bytes: int
    # Dedup windows per user (user_id, else session_id) and ad; conversions per order.
    impression_dedup_seconds: float
    view_dedup_seconds: float
    click_dedup_seconds: float
    conversion_dedup_seconds: float
    # How long an ad id -> campaign lookup is trusted per instance (campaign changes delay).
    campaign_cache_seconds: float

    @classmethod
    def from_env(cls) -> "BeaconSettings":
        return cls(
            conversions_topic=os.environ.get("CONVERSIONS_TOPIC", "conversions"),
            publish_timeout_seconds=_float("PUBLISH_TIMEOUT_SECONDS", 5.0),
            allowed_origins=_origins("BEACON_ALLOWED_ORIGINS"),
            max_ad_event_bytes=_int("MAX_AD_EVENT_BYTES", 4 * 1024),
            max_conversion_bytes=_int("MAX_CONVERSION_BYTES", 256 * 1024),
            impression_dedup_seconds=_float("IMPRESSION_DEDUP_SECONDS", 60.0),
            view_dedup_seconds=_float("VIEW_DEDUP_SECONDS", 60.0),
            click_dedup_seconds=_float("CLICK_DEDUP_SECONDS", 3600.0),
            conversion_dedup_seconds=_float("CONVERSION_DEDUP_SECONDS", 30 * 86400.0),
            campaign_cache_seconds=_float("CAMPAIGN_CACHE_SECONDS", 30.0),
        )


@dataclass(frozen=True)
class AttributionSettings:
    # A click (product ads) or view (display/video ads) at most this long before the order.
    window_seconds: float
    # Touchpoints are kept (TTL) for the window plus this, so a conversion processed late
    # (Pub/Sub retries) still finds a touchpoint from exactly one window before its created_at.
    touchpoint_grace_seconds: float
    # A touchpoint up to this long *after* created_at still counts: created_at comes from the
    # publisher's clock, the touchpoint's time from ours, and an order placed right after a
    # click must not be lost to a few seconds of clock difference (or created_at truncated to
    # whole seconds).
    clock_skew_seconds: float

    @property
    def touchpoint_ttl_seconds(self) -> float:
        return self.window_seconds + self.touchpoint_grace_seconds

    @classmethod
    def from_env(cls) -> "AttributionSettings":
        return cls(window_seconds=_float("ATTRIBUTION_WINDOW_SECONDS", 14 * 86400.0),
                   touchpoint_grace_seconds=_float("TOUCHPOINT_GRACE_SECONDS", 86400.0),
                   clock_skew_seconds=_float("ATTRIBUTION_CLOCK_SKEW_SECONDS", 300.0))


@dataclass(frozen=True)
class ReportsSettings:
    api_key_cache_seconds: float
    max_report_days: int

    @classmethod
    def from_env(cls) -> "ReportsSettings":
        return cls(
            api_key_cache_seconds=_float("API_KEY_CACHE_SECONDS", 30.0),
            max_report_days=_int("MAX_REPORT_DAYS", 92),
        )


def dead_letter_topic(function_name: str) -> str:
    """The dead-letter topic of a topic-triggered function: ``<function>-dead-letter``, the name
    topology.yaml gives it (DEAD_LETTER_TOPIC overrides)."""
    return os.environ.get("DEAD_LETTER_TOPIC") or f"{function_name}-dead-letter"
