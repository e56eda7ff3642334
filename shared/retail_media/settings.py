"""Settings of beacon, attribution and reports (environment variables; defaults are
production's)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from shared.platform.settings import env_float, env_int, env_origins


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
    # How long a found ad id -> campaign lookup is trusted per instance (how long a changed or
    # removed ad may still resolve to its old campaign; an unknown ad is never cached).
    campaign_cache_seconds: float

    @property
    def dedup_windows(self) -> dict[str, timedelta]:
        return {"impression": timedelta(seconds=self.impression_dedup_seconds),
                "view": timedelta(seconds=self.view_dedup_seconds),
                "click": timedelta(seconds=self.click_dedup_seconds),
                "conversion": timedelta(seconds=self.conversion_dedup_seconds)}

    @classmethod
    def from_env(cls) -> "BeaconSettings":
        return cls(
            conversions_topic=os.environ.get("CONVERSIONS_TOPIC", "conversions"),
            publish_timeout_seconds=env_float("PUBLISH_TIMEOUT_SECONDS", 5.0),
            allowed_origins=env_origins("BEACON_ALLOWED_ORIGINS"),
            max_ad_event_bytes=env_int("MAX_AD_EVENT_BYTES", 4 * 1024),
            max_conversion_bytes=env_int("MAX_CONVERSION_BYTES", 256 * 1024),
            impression_dedup_seconds=env_float("IMPRESSION_DEDUP_SECONDS", 60.0),
            view_dedup_seconds=env_float("VIEW_DEDUP_SECONDS", 60.0),
            click_dedup_seconds=env_float("CLICK_DEDUP_SECONDS", 3600.0),
            conversion_dedup_seconds=env_float("CONVERSION_DEDUP_SECONDS", 30 * 86400.0),
            campaign_cache_seconds=env_float("CAMPAIGN_CACHE_SECONDS", 30.0),
        )


@dataclass(frozen=True)
class AttributionSettings:
    # A click (product ads) or view (display/video ads) at most this long before the order.
    window_seconds: float
    # Touchpoints are kept (TTL) for the window plus this, so a conversion processed late
    # (Pub/Sub retries) still finds a touchpoint from exactly one window before its created_at.
    touchpoint_grace_seconds: float
    # How far the publisher's clock (created_at) and ours may differ. A touchpoint up to this
    # long *after* created_at still counts (an order placed right after a click must not be lost
    # to a few seconds of difference, or created_at truncated to whole seconds), and the beacon
    # accepts a created_at up to this long after it received the conversion, no later.
    clock_skew_seconds: float
    # Bounded wait for Pub/Sub to confirm a dead letter (a message that is not a conversion).
    publish_timeout_seconds: float

    @property
    def touchpoint_ttl(self) -> timedelta:
        return timedelta(seconds=self.window_seconds + self.touchpoint_grace_seconds)

    @property
    def clock_skew(self) -> timedelta:
        return timedelta(seconds=self.clock_skew_seconds)

    @classmethod
    def from_env(cls) -> "AttributionSettings":
        return cls(window_seconds=env_float("ATTRIBUTION_WINDOW_SECONDS", 14 * 86400.0),
                   touchpoint_grace_seconds=env_float("TOUCHPOINT_GRACE_SECONDS", 86400.0),
                   clock_skew_seconds=env_float("ATTRIBUTION_CLOCK_SKEW_SECONDS", 300.0),
                   publish_timeout_seconds=env_float("PUBLISH_TIMEOUT_SECONDS", 5.0))


@dataclass(frozen=True)
class ReportsSettings:
    api_key_cache_seconds: float
    max_report_days: int

    @classmethod
    def from_env(cls) -> "ReportsSettings":
        return cls(
            api_key_cache_seconds=env_float("API_KEY_CACHE_SECONDS", 30.0),
            max_report_days=env_int("MAX_REPORT_DAYS", 92),
        )
