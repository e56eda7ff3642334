"""Helpers for the ingest integration tests: posting, and reading back what reached Pub/Sub."""

from __future__ import annotations

import uuid
from typing import Any, Iterator

import pytest
import requests
from google.cloud import pubsub_v1


def post(url: str, body: Any = None, *, key: str | None = None, data: bytes | None = None,
         path: str = "/v1/events") -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if data is None:
        return requests.post(url + path, json=body, headers=headers, timeout=30)
    return requests.post(url + path, data=data, headers=headers, timeout=30)


class TopicReader:
    """A pull subscription on a topic, created before the test publishes (Pub/Sub delivers only
    messages published after a subscription exists)."""

    def __init__(self, project_id: str, topic_path: str):
        self.subscriber = pubsub_v1.SubscriberClient()
        self.path = self.subscriber.subscription_path(project_id, f"test-{uuid.uuid4().hex[:12]}")
        self.subscriber.create_subscription(name=self.path, topic=topic_path)
        self.received: dict[str, Any] = {}

    def pull_until(self, event_ids: set[str], timeout: float = 20.0) -> dict[str, Any]:
        """Pull (and ack) until every id in ``event_ids`` arrived; returns eventId -> message."""
        import time

        deadline = time.monotonic() + timeout
        while not event_ids <= set(self.received) and time.monotonic() < deadline:
            response = self.subscriber.pull(subscription=self.path, max_messages=100, timeout=5)
            for item in response.received_messages:
                self.received[item.message.attributes["eventId"]] = item.message
            if response.received_messages:
                self.subscriber.acknowledge(subscription=self.path,
                                            ack_ids=[m.ack_id for m in response.received_messages])
        missing = event_ids - set(self.received)
        assert not missing, f"never arrived on the topic: {sorted(missing)}"
        return self.received

    def delete(self) -> None:
        self.subscriber.delete_subscription(subscription=self.path)


@pytest.fixture
def reader(stack: dict[str, Any]) -> Iterator[TopicReader]:
    """A reader of topic ``events`` for one test (import it into a test module to use it)."""
    topic_reader = TopicReader(stack["project_id"], stack["topics"]["events"])
    yield topic_reader
    topic_reader.delete()
