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
