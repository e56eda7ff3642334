"""Settings of the forwarders and the re-driver (environment variables; defaults are production's)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.forwarding.destination_health import DestinationHealth
from shared.forwarding.retry_policy import RetryPolicy
from shared.platform.settings import env_bool, env_float, env_int


@dataclass(frozen=True)
class ForwardingSettings:
    # How long a partner that receives events is reused per instance before Firestore is read
    # again (how long a change to it, or disabling it, takes to reach running forwarders). Other
    # partners (unknown, disabled, deleted) are read for every event.
    partner_cache_seconds: float
    # How long a resolved secret is reused per instance (how long a rotation takes to be seen).
    secret_cache_seconds: float
    # The retry policy of a failed delivery (shared/forwarding/retry_policy.py).
    max_attempts: int
    min_backoff_seconds: float
    max_backoff_seconds: float
    # Consecutive failures at a destination that open its circuit, and for how long at first
    # (doubled at each failed probe, up to max_backoff_seconds).
    circuit_failures: int
    circuit_open_seconds: float
    # The least a first attempt (inside a push) may wait, whatever the destination's usual latency.
    inline_min_seconds: float
    # How long a delivery in flight (or a retry on its way) may go without a recorded outcome
    # before the re-driver sends it again: longer than any attempt (a webhook waits 30 s at most).
    redrive_lease_seconds: float
    # Pub/Sub's max_delivery_attempts of the forwarder's push subscription (topology.yaml): an
    # event Pub/Sub retries itself is held before Pub/Sub would dead-letter it.
    pubsub_max_delivery_attempts: int
    # Local development only: lets webhooks target loopback (the local sink). Never in production.
    webhook_allow_loopback: bool
    mongodb_max_pool_size: int
    mongodb_server_selection_timeout_ms: int
    gcs_timeout_seconds: float
    # Bounded wait for Pub/Sub to confirm a publish (dead letters).
    publish_timeout_seconds: float
    # Days a delivery-log entry is kept (its expireAt).
    delivery_log_days: int

    @classmethod
    def from_env(cls) -> "ForwardingSettings":
        return cls(
            partner_cache_seconds=env_float("PARTNER_CACHE_SECONDS", 30.0),
            secret_cache_seconds=env_float("SECRET_CACHE_SECONDS", 300.0),
            max_attempts=env_int("FORWARD_MAX_ATTEMPTS", 30),
            min_backoff_seconds=env_float("FORWARD_MIN_BACKOFF_SECONDS", 10.0),
            max_backoff_seconds=env_float("FORWARD_MAX_BACKOFF_SECONDS", 600.0),
            circuit_failures=env_int("FORWARD_CIRCUIT_FAILURES", 3),
            circuit_open_seconds=env_float("FORWARD_CIRCUIT_OPEN_SECONDS", 10.0),
            inline_min_seconds=env_float("FORWARD_INLINE_MIN_SECONDS", 1.0),
            redrive_lease_seconds=env_float("FORWARD_REDRIVE_LEASE_SECONDS", 300.0),
            pubsub_max_delivery_attempts=env_int("PUBSUB_MAX_DELIVERY_ATTEMPTS", 5),
            webhook_allow_loopback=env_bool("WEBHOOK_ALLOW_LOOPBACK", False),
            mongodb_max_pool_size=env_int("MONGODB_MAX_POOL_SIZE", 10),
            mongodb_server_selection_timeout_ms=env_int("MONGODB_SERVER_SELECTION_TIMEOUT_MS", 5000),
            gcs_timeout_seconds=env_float("GCS_TIMEOUT_SECONDS", 10.0),
            publish_timeout_seconds=env_float("PUBLISH_TIMEOUT_SECONDS", 5.0),
            delivery_log_days=env_int("DELIVERY_LOG_DAYS", 30),
        )

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.max_attempts, self.min_backoff_seconds, self.max_backoff_seconds)

    def destination_health(self) -> DestinationHealth:
        return DestinationHealth(failure_threshold=self.circuit_failures, open_seconds=self.circuit_open_seconds,
                                 max_open_seconds=self.max_backoff_seconds,
                                 min_inline_seconds=self.inline_min_seconds)


@dataclass(frozen=True)
class RedriveSettings:
    # One invocation (Cloud Scheduler: every minute) looks for due retries this long, every
    # poll_seconds, so retries are not held to the scheduler's one-minute grain; 0: one pass.
    # It then waits for the attempts it started (a webhook waits 30 s at most): the function's
    # timeout (terraform/variables.tf) covers both.
    run_seconds: float
    poll_seconds: float
    # Due deliveries read per status and pass, and attempts made side by side.
    batch_size: int
    workers: int

    @classmethod
    def from_env(cls) -> "RedriveSettings":
        return cls(
            run_seconds=env_float("REDRIVE_RUN_SECONDS", 45.0),
            poll_seconds=env_float("REDRIVE_POLL_SECONDS", 2.0),
            batch_size=env_int("REDRIVE_BATCH_SIZE", 200),
            workers=env_int("REDRIVE_WORKERS", 32),
        )
