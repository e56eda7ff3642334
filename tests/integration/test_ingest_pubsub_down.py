"""Pub/Sub unreachable or silent: ingest answers PUBSUB_UNAVAILABLE (an ``error`` event, 424 to a
bare event), never a success it can't back.

A second ingest instance talks to the Pub/Sub emulator through a loopback TCP proxy; cutting
the proxy makes Pub/Sub down (connection refused) or hanging (bytes swallowed) for that
instance only, while the emulator keeps every message that did get through.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import pytest

from tests.conftest import fresh_event
from tests.integration.ingest_support import post, reader  # noqa: F401 (a fixture)
from tests.integration.test_ingest_errors import assert_error
from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
def proxied_ingest(local_stack, stack: dict[str, Any]) -> Iterator[tuple[str, TcpProxy]]:
    host, port = stack["emulators"]["pubsub"].split(":")
    proxy = TcpProxy(host, int(port))
    instance = f"-via-proxy-{uuid.uuid4().hex[:6]}"
    url = local_stack.launch_function("ingest", {"PUBSUB_EMULATOR_HOST": proxy.address}, instance=instance)
    yield url, proxy
    proxy.close()
    local_stack.stop_child(f"function-ingest{instance}")


def test_pubsub_down_gives_pubsub_unavailable(stack, proxied_ingest, reader):
    url, proxy = proxied_ingest
    before = fresh_event()
    assert post(url, before, key=stack["dev_api_key"]).status_code == 200
    reader.pull_until({before["eventId"]})

    proxy.close()
    event = fresh_event()
    request = {"name": "user.interaction", "version": 1, "flowId": str(uuid.uuid4()), "payload": event}
    answer = post(url, request, key=stack["dev_api_key"])
    parameters = assert_error(answer, "user.interaction", "error", "PUBSUB_UNAVAILABLE", 200, request["flowId"])
    assert parameters == {"eventId": event["eventId"], "retryable": True}

    answer = post(url, event, key=stack["dev_api_key"])
    parameters = assert_error(answer, "user.interaction", "failed_dependency", "PUBSUB_UNAVAILABLE", 424)
    assert parameters == {"eventId": event["eventId"], "retryable": True}


def test_pubsub_silent_gives_pubsub_unavailable_for_a_batch(stack, proxied_ingest):
    url, proxy = proxied_ingest
    proxy.blackhole()
    events = [fresh_event(), fresh_event()]
    answer = post(url, events + [{"not": "an event"}], key=stack["dev_api_key"], path="/v1/events/batch")
    assert answer.status_code == 424, answer.text
    body = answer.json()
    assert body["name"] == "events.batch:failed_dependency"
    assert (body["payload"]["code"], body["payload"]["parameters"]) == ("PUBSUB_UNAVAILABLE", {"retryable": True})
    assert [(r.get("eventId"), r["outcome"]) for r in body["payload"]["results"]] == [
        (events[0]["eventId"], "failed_dependency"), (events[1]["eventId"], "failed_dependency"),
        (None, "bad_request")]
    assert (body["payload"]["published"], body["payload"]["failed"], body["payload"]["rejected"]) == (0, 2, 1)


def test_no_event_answered_200_is_missing_from_the_topic(stack, proxied_ingest, reader):
    """Requests in flight while Pub/Sub goes silent: every 200 must be backed by a message."""
    url, proxy = proxied_ingest
    first = fresh_event()
    assert post(url, first, key=stack["dev_api_key"]).status_code == 200
    events = [fresh_event() for _ in range(30)]

    def send(index_event: tuple[int, dict]) -> tuple[str, int]:
        index, event = index_event
        if index == 10:
            proxy.blackhole()
        return event["eventId"], post(url, event, key=stack["dev_api_key"]).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = dict(pool.map(send, enumerate(events)))

    assert set(statuses.values()) <= {200, 424}
    assert 424 in statuses.values(), "the proxy cut should have failed some requests"
    answered_ok = {first["eventId"]} | {event_id for event_id, status in statuses.items() if status == 200}
    reader.pull_until(answered_ok)
