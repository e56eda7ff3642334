"""Pure logic of the Events Protocol envelope and of the ingest service (no I/O: a fake publish)."""

from __future__ import annotations

import json
import uuid

import pytest

from shared.events.protocol import ProtocolError, answer, parse_request
from shared.ingest.service import IngestService
from shared.ingest.settings import IngestSettings
from shared.platform.api_keys import ApiKeyVerifier, hash_key
from shared.platform.publisher import OutgoingMessage, PublishOutcome
from tests.conftest import fresh_event
from tests.support.http import http_request

KEY = "fpk_000000000001_secret"
SETTINGS = IngestSettings(events_topic="events", publish_timeout_seconds=1, max_event_bytes=10_000,
                          max_batch_bytes=50_000, max_batch_events=3, api_key_cache_seconds=0)


def service(publish) -> IngestService:
    keys = ApiKeyVerifier(lambda _id: {"name": "app", "hash": hash_key(KEY), "revokedAt": None}, 0)
    return IngestService(SETTINGS, publish, keys)


def ok_publish(messages: list[OutgoingMessage]) -> list[PublishOutcome]:
    return [PublishOutcome(message_id=str(i)) for i, _ in enumerate(messages)]


def call(svc: IngestService, body, path="/v1/events"):
    raw = json.dumps(body).encode()
    return svc.api.answer(http_request("POST", path, raw, {"Authorization": f"Bearer {KEY}"}))


def test_a_bare_event_is_its_own_payload_with_a_new_flow_id():
    event = fresh_event()
    request = parse_request(event)
    assert request.payload is event and not request.wrapped
    assert request.name == "user.interaction" and request.version == 1
    uuid.UUID(request.flow_id)


def test_envelope_field_types_are_checked_and_the_flow_id_kept():
    with pytest.raises(ProtocolError) as error:
        parse_request({"name": 3, "payload": {}, "flowId": "f-1", "metadata": []})
    assert error.value.code == "INVALID_FIELDS"
    assert error.value.request.flow_id == "f-1"
    assert {f["field"] for f in error.value.parameters["fields"]} == {"name", "metadata"}
    with pytest.raises(ProtocolError) as error:
        parse_request({"payload": {}, "version": "1"})
    assert (error.value.code, error.value.parameters) == ("MISSING_FIELDS", {"fields": ["name"]})
    with pytest.raises(ProtocolError) as error:
        parse_request({"name": "x", "payload": {}, "version": True})
    assert error.value.parameters["fields"] == [{"field": "version", "problem": "must be an integer"}]


def test_answers_get_a_fresh_id_and_origin():
    first = answer("user.interaction", "response", {}, "flow", "ingest")
    second = answer("user.interaction", "response", {}, "flow", "ingest")
    assert first["name"] == "user.interaction:response" and first["id"] != second["id"]
    assert first["metadata"]["origin"] == "ingest" and isinstance(first["metadata"]["timestamp"], int)
    assert answer(None, "error", {}, "flow", "ingest")["name"] == "event:error"


def test_an_unexpected_failure_is_a_500_error_without_a_stack_trace():
    def broken_publish(messages):
        raise RuntimeError("a bug with a secret inside")

    result = call(service(broken_publish), fresh_event())
    assert result.status == 500
    assert result.body["name"] == "user.interaction:error"
    assert result.body["payload"] == {"code": "INTERNAL", "message": "unexpected server error", "parameters": {}}
    assert "secret" not in json.dumps(result.body) and "Traceback" not in json.dumps(result.body)


def test_a_batch_publishes_only_its_valid_events_in_one_call():
    calls: list[int] = []

    def publish(messages):
        calls.append(len(messages))
        return ok_publish(messages)

    result = call(service(publish), [fresh_event(), {"eventType": "user.interaction"}, fresh_event()],
                  path="/v1/events/batch")
    assert result.status == 200 and calls == [2]
    assert [r["outcome"] for r in result.body["payload"]["results"]] == ["response", "bad_request", "response"]


def test_a_batch_with_a_failed_publish_is_failed_dependency_with_each_outcome():
    def half_down(messages):
        return [PublishOutcome(message_id="1"), PublishOutcome(error="Pub/Sub did not confirm within 1 s")]

    result = call(service(half_down), [fresh_event(), fresh_event()], path="/v1/events/batch")
    assert result.status == 424
    assert result.body["name"] == "events.batch:failed_dependency"
    assert [r["outcome"] for r in result.body["payload"]["results"]] == ["response", "failed_dependency"]


def test_batch_limits_come_from_the_settings():
    result = call(service(ok_publish), [fresh_event()] * 4, path="/v1/events/batch")
    assert (result.status, result.body["payload"]["code"]) == (400, "PAYLOAD_TOO_LARGE")
    assert result.body["payload"]["parameters"] == {"maxEvents": 3, "events": 4}
    empty = call(service(ok_publish), [], path="/v1/events/batch")
    assert (empty.status, empty.body["payload"]["code"]) == (400, "INVALID_FIELDS")
    assert service(ok_publish).body_limit("/v1/events/batch") == 50_000
    assert service(ok_publish).body_limit("/v1/events") == 10_000
