"""Monitor event occurrences with an Idempotency-Key, against the real emulators: a resend after a
424 (Pub/Sub down for the instance that got the first request) publishes the first request's
event, with its eventId, and any later resend gets the same answer without publishing again."""

from __future__ import annotations

import json
import uuid
from typing import Any, Iterator

import pytest
import requests

from tests.integration.ingest_support import TopicReader
from tests.support.tcp_proxy import TcpProxy

EVENT_PATH = "/v1/events/course.completed/data"


@pytest.fixture
def monitor_without_pubsub(local_stack, stack: dict[str, Any]) -> Iterator[str]:
    """A monitor instance of its own whose Pub/Sub is down (its proxy closed)."""
    host, port = stack["emulators"]["pubsub"].split(":")
    proxy = TcpProxy(host, int(port))
    proxy.close()
    instance = f"-no-pubsub-{uuid.uuid4().hex[:6]}"
    yield local_stack.launch_function("monitor", {"PUBSUB_EMULATOR_HOST": proxy.address}, instance=instance)
    local_stack.stop_child(f"function-monitor{instance}")


@pytest.fixture
def reader(stack: dict[str, Any]) -> Iterator[TopicReader]:
    topic_reader = TopicReader(stack["project_id"], stack["topics"]["events"])
    yield topic_reader
    topic_reader.delete()


def call(stack: dict[str, Any], url: str, path: str, body: Any, **headers: str) -> requests.Response:
    return requests.post(url + path, data=json.dumps(body), timeout=30, headers={
        "Authorization": f"Bearer {stack['dev_api_key']}", "Content-Type": "application/json", **headers})


def test_a_resend_after_a_424_records_the_occurrence_once_with_one_event_id(stack, monitor_without_pubsub, reader):
    monitor = stack["functions"]["monitor"]
    track_id = call(stack, monitor, "/v1/users", {}).json()["lum_user"]["trackId"]
    occurrence = {"lum_user": {"trackId": track_id}, "courseId": "c-idem", "score": 7}
    key = {"Idempotency-Key": f'"{uuid.uuid4()}"'}

    failed = call(stack, monitor_without_pubsub, EVENT_PATH, occurrence, **key)
    assert (failed.status_code, failed.json()["code"]) == (424, "PUBSUB_UNAVAILABLE"), failed.text

    # The client sends it again; another instance (Pub/Sub up) takes it.
    resent = call(stack, monitor, EVENT_PATH, occurrence, **key)
    assert resent.status_code == 200, resent.text
    event_id, message_id = resent.json()["eventId"], resent.json()["messageId"]
    # Once more, the body's keys in another order: the same answer, nothing published again.
    again = call(stack, monitor, EVENT_PATH, dict(reversed(occurrence.items())), **key)
    assert again.json() == {"eventId": event_id, "messageId": message_id, "lum_user": {"trackId": track_id}}

    reader.pull_until({event_id})
    of_this_user = {message.attributes["eventId"] for message in reader.received.values()
                    if json.loads(message.data)["ownerExternalId"] == track_id}
    assert of_this_user == {event_id}
    assert reader.received[event_id].message_id == message_id


def test_a_key_sent_with_another_body_is_refused_and_keys_are_per_request(stack):
    monitor = stack["functions"]["monitor"]
    track_id = call(stack, monitor, "/v1/users", {}).json()["lum_user"]["trackId"]
    occurrence = {"lum_user": {"trackId": track_id}, "courseId": "c-1"}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = call(stack, monitor, EVENT_PATH, occurrence, **key)
    assert first.status_code == 200, first.text

    reused = call(stack, monitor, EVENT_PATH, {**occurrence, "courseId": "c-2"}, **key)
    assert (reused.status_code, reused.json()["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert set(reused.json()) == {"status", "code", "message", "parameters", "flowId"}
    other_key = call(stack, monitor, EVENT_PATH, occurrence, **{"Idempotency-Key": str(uuid.uuid4())})
    without_key = call(stack, monitor, EVENT_PATH, occurrence)
    assert len({first.json()["eventId"], other_key.json()["eventId"], without_key.json()["eventId"]}) == 3


@pytest.mark.parametrize("header", ["", '""', "x" * 256, "caf\u00e9"])
def test_a_malformed_key_is_an_invalid_header(stack, header: str):
    monitor = stack["functions"]["monitor"]
    track_id = call(stack, monitor, "/v1/users", {}).json()["lum_user"]["trackId"]
    answer = call(stack, monitor, EVENT_PATH, {"lum_user": {"trackId": track_id}, "courseId": "c"},
                  **{"Idempotency-Key": header.encode("utf-8").decode("latin-1")})
    assert (answer.status_code, answer.json()["code"]) == (400, "INVALID_HEADER"), answer.text
    assert answer.json()["parameters"]["fields"][0]["field"] == "Idempotency-Key"
