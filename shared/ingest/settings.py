"""Settings of the ingest function (environment variables; defaults are production's)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from shared.platform.settings import env_float, env_int


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
            publish_timeout_seconds=env_float("PUBLISH_TIMEOUT_SECONDS", 5.0),
            max_event_bytes=env_int("MAX_EVENT_BYTES", 1024 * 1024),
            max_batch_bytes=env_int("MAX_BATCH_BYTES", 5 * 1024 * 1024),
            max_batch_events=env_int("MAX_BATCH_EVENTS", 500),
            api_key_cache_seconds=env_float("API_KEY_CACHE_SECONDS", 30.0),
        )
