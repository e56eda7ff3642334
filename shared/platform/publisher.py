"""Publishing events to Pub/Sub, answering only once Pub/Sub confirmed each message.

One PublisherClient per process (it batches across concurrent requests). Its batching waits at
most a few milliseconds so a single request is not held back, and every publish has a bounded
deadline: when Pub/Sub is down or slow the caller learns it within ``timeout_seconds`` and
answers failed_dependency instead of success.
"""

from __future__ import annotations

import time
from concurrent import futures
from dataclasses import dataclass
from typing import Mapping, Sequence

from google.api_core import retry as api_retry
from google.cloud import pubsub_v1

# Pub/Sub accepts 10 MB per publish request; leave room for attributes and framing.
MAX_BATCH_BYTES = 9 * 1024 * 1024
# Long enough to merge concurrent requests into one RPC, short enough to be invisible.
MAX_BATCH_LATENCY_SECONDS = 0.005


@dataclass(frozen=True)
class OutgoingMessage:
    data: bytes
    attributes: Mapping[str, str]


@dataclass(frozen=True)
class PublishOutcome:
    message_id: str | None = None
    error: str | None = None

    @property
    def published(self) -> bool:
        return self.message_id is not None


class EventPublisher:
    def __init__(self, project_id: str, topic: str, timeout_seconds: float):
        self._timeout = timeout_seconds
        self._client = pubsub_v1.PublisherClient(
            batch_settings=pubsub_v1.types.BatchSettings(
                max_messages=1000, max_bytes=MAX_BATCH_BYTES, max_latency=MAX_BATCH_LATENCY_SECONDS
            ),
        )
        self.topic_path = self._client.topic_path(project_id, topic)
        # Retries inside the client stop at our deadline, so a message we reported as failed is
        # not published long after (a retried publish may still land: eventId makes it harmless).
        self._retry = api_retry.Retry(initial=0.05, maximum=1.0, multiplier=2.0, timeout=timeout_seconds)

    def publish_many(self, messages: Sequence[OutgoingMessage]) -> list[PublishOutcome]:
        pending = [
            self._client.publish(
                self.topic_path, m.data, retry=self._retry, timeout=self._timeout, **dict(m.attributes)
            )
            for m in messages
        ]
        deadline = time.monotonic() + self._timeout
        outcomes = []
        for future in pending:
            try:
                message_id = future.result(timeout=max(0.0, deadline - time.monotonic()))
                outcomes.append(PublishOutcome(message_id=message_id))
            except futures.TimeoutError:
                outcomes.append(PublishOutcome(error=f"Pub/Sub did not confirm within {self._timeout:g} s"))
            except Exception as exc:  # any publish failure is a failed dependency, never success
                outcomes.append(PublishOutcome(error=f"Pub/Sub publish failed: {type(exc).__name__}"))
        return outcomes
