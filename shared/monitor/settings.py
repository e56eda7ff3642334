"""Settings of the monitor function (environment variables; defaults are production's)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from shared.platform.settings import env_float, env_int


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
    # How long an Idempotency-Key of an event occurrence is remembered (its resends answered alike).
    idempotency_seconds: float

    @classmethod
    def from_env(cls) -> "MonitorSettings":
        return cls(
            events_topic=os.environ.get("EVENTS_TOPIC", "events"),
            publish_timeout_seconds=env_float("PUBLISH_TIMEOUT_SECONDS", 5.0),
            max_body_bytes=env_int("MONITOR_MAX_BODY_BYTES", 256 * 1024),
            api_key_cache_seconds=env_float("API_KEY_CACHE_SECONDS", 30.0),
            config_cache_seconds=env_float("MONITOR_CONFIG_CACHE_SECONDS", 30.0),
            idempotency_seconds=env_float("MONITOR_IDEMPOTENCY_SECONDS", 86400.0),
        )
