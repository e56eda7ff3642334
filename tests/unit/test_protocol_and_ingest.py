"""Pure logic of the Events Protocol envelope and of the ingest service (no I/O: a fake publish)."""

from __future__ import annotations

import json
import logging
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


@pytest.mark.parametrize("version, read", [(1, 1), (2, 2), ("1", 1), ("12", 12), ("007", 7)])
def test_version_is_an_integer_or_a_string_of_digits(version, read):
    assert parse_request({"name": "x", "payload": {}, "version": version}).version == read


@pytest.mark.parametrize("version", [True, 1.0, "1.0", "v1", "", " 1", "-1", "\u0661", None, [1]])
def test_any_other_version_is_invalid(version):
    with pytest.raises(ProtocolError) as error:
        parse_request({"name": "x", "payload": {}, "version": version})
    assert error.value.code == "INVALID_FIELDS"
    assert error.value.parameters["fields"] == [
        {"field": "version", "problem": "must be an integer or a string of digits"}]


def test_answers_get_a_fresh_id_and_origin_and_the_objects_strict_clients_require():
    first = answer("user.interaction", "response", {}, "flow", "ingest")
    second = answer("user.interaction", "response", {}, "flow", "ingest")
    assert first["name"] == "user.interaction:response" and first["id"] != second["id"]
    assert first["metadata"]["origin"] == "ingest" and isinstance(first["metadata"]["timestamp"], int)
    # The Kotlin client's StrictEventValidator refuses an answer without these objects.
    assert first["identity"] == {} and first["auth"] == {}
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

    events = [fresh_event(), {"eventType": "user.interaction", "eventId": "mine-1"}, wrap(fresh_event())]
    result = call(service(publish), events, path="/v1/events/batch")
    assert result.status == 200 and calls == [2]
    results = result.body["payload"]["results"]
    assert [r["outcome"] for r in results] == ["response", "bad_request", "response"]
    # Every result carries the eventId its event had, valid or not, to be matched by id.
    assert [r["eventId"] for r in results] == [events[0]["eventId"], "mine-1", events[2]["payload"]["eventId"]]
    unidentified = call(service(publish), [["not", "an event"], wrap({"eventId": 7})], path="/v1/events/batch")
    assert [set(r) for r in unidentified.body["payload"]["results"]] == [{"index", "outcome", "payload"}] * 2


def test_a_batch_with_a_failed_publish_is_an_error_with_each_outcome():
    def half_down(messages):
        return [PublishOutcome(message_id="1"), PublishOutcome(error="Pub/Sub did not confirm within 1 s")]

    events = [fresh_event(), fresh_event()]
    bare = call(service(half_down), events, path="/v1/events/batch")
    assert bare.status == 424
    assert bare.body["name"] == "events.batch:failed_dependency"
    payload = bare.body["payload"]
    assert (payload["code"], payload["parameters"]) == ("PUBSUB_UNAVAILABLE", {"retryable": True})
    assert (payload["published"], payload["rejected"], payload["failed"]) == (1, 0, 1)
    assert [(r["eventId"], r["outcome"]) for r in payload["results"]] == [
        (events[0]["eventId"], "response"), (events[1]["eventId"], "failed_dependency")]
    assert payload["results"][1]["payload"]["code"] == "PUBSUB_UNAVAILABLE"

    wrapped = call(service(half_down), {"name": "events.batch", "version": 1, "payload": {"events": events}},
                   path="/v1/events/batch")
    assert wrapped.status == 200
    assert wrapped.body["name"] == "events.batch:error" and wrapped.body["payload"]["failed"] == 1
    assert [r["outcome"] for r in wrapped.body["payload"]["results"]] == ["response", "error"]


def test_batch_limits_come_from_the_settings():
    result = call(service(ok_publish), [fresh_event()] * 4, path="/v1/events/batch")
    assert (result.status, result.body["payload"]["code"]) == (400, "PAYLOAD_TOO_LARGE")
    assert result.body["payload"]["parameters"] == {"maxEvents": 3, "events": 4}
    empty = call(service(ok_publish), [], path="/v1/events/batch")
    assert (empty.status, empty.body["payload"]["code"]) == (400, "INVALID_FIELDS")
    assert service(ok_publish).body_limit("/v1/events/batch") == 50_000
    assert service(ok_publish).body_limit("/v1/events") == 10_000


def down_publish(messages):
    return [PublishOutcome(error="Pub/Sub did not confirm within 1 s") for _ in messages]


def broken_publish(messages):
    raise RuntimeError("a bug")


def without(field: str) -> dict:
    event = fresh_event()
    del event[field]
    return event


def wrap(event: dict, **fields) -> dict:
    return {"name": event.get("eventType", "user.interaction"), "version": 1, "flowId": "flow-1", "payload": event,
            **fields}


# (what is wrong, the event sent, how to send it, the kind a protocol client reads, the code, the
# status and kind a bare event gets: the spec's spelling)
REFUSALS = [
    ("missing fields", without("eventDate"), {}, "badRequest", "MISSING_FIELDS", 400, "bad_request"),
    ("NaN", {**fresh_event(), "score": float("nan")}, {}, "badRequest", "INVALID_JSON", 400, "bad_request"),
    ("no key", fresh_event(), {"key": None}, "unauthorized", "MISSING_TOKENS", 401, "unauthorized"),
    ("unknown key", fresh_event(), {"key": "fpk_000000000001_wrong"}, "unauthorized", "INVALID_TOKEN", 401,
     "unauthorized"),
    ("wrong path", fresh_event(), {"path": "/v2/things"}, "notFound", "UNKNOWN_ROUTE", 404, "not_found"),
    ("Pub/Sub down", fresh_event(), {"publish": down_publish}, "error", "PUBSUB_UNAVAILABLE", 424,
     "failed_dependency"),
    ("a bug", fresh_event(), {"publish": broken_publish}, "error", "INTERNAL", 500, "error"),
]


def send(document, *, key: str | None = KEY, path: str = "/v1/events", publish=ok_publish):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return service(publish).api.answer(http_request("POST", path, json.dumps(document).encode(), headers))


@pytest.mark.parametrize("what, event, how, kind, code, bare_status, bare_kind", REFUSALS,
                         ids=[r[0] for r in REFUSALS])
def test_a_protocol_event_is_refused_with_200_and_a_bare_event_with_the_kinds_status(
        what, event, how, kind, code, bare_status, bare_kind, caplog):
    caplog.set_level(logging.INFO, logger="shared.ingest.service")
    bare = send(event, **how)
    assert bare.status == bare_status
    # A bare body that could not be read (not JSON, wrong path) is answered as "event:<kind>".
    assert bare.body["name"].rpartition(":")[2] == bare_kind and bare.body["payload"]["code"] == code

    wrapped = send(wrap(event), **how)
    assert wrapped.status == 200
    assert (wrapped.body["name"], wrapped.body["flowId"]) == (f"user.interaction:{kind}", "flow-1")
    assert wrapped.body["payload"] == bare.body["payload"]

    answered = [(r.kind, r.code, r.httpStatus) for r in caplog.records if r.getMessage() == "answered"]
    assert answered == [(bare_kind, code, bare_status), (kind, code, 200)]
    expected_level = logging.WARNING if bare_status < 500 else logging.ERROR
    assert {r.levelno for r in caplog.records if r.getMessage() == "answered"} == {expected_level}


def test_a_published_event_is_200_in_both_shapes_and_logged_once_as_a_response(caplog):
    caplog.set_level(logging.INFO, logger="shared.ingest.service")
    for document in (fresh_event(), wrap(fresh_event(), version="1")):
        result = send(document)
        assert result.status == 200 and result.body["name"] == "user.interaction:response"
    answered = [(r.kind, r.code, r.httpStatus, r.levelno) for r in caplog.records if r.getMessage() == "answered"]
    assert answered == [("response", None, 200, logging.INFO)] * 2


def test_a_body_that_is_not_json_at_all_is_answered_with_400_whatever_the_caller():
    result = service(ok_publish).api.answer(http_request("POST", "/v1/events", b'{"name": "x", "payload": '))
    assert (result.status, result.body["name"], result.body["payload"]["code"]) == (400, "event:bad_request",
                                                                                      "INVALID_JSON")


def test_a_body_nested_too_deeply_is_invalid_json_not_a_crash():
    result = service(ok_publish).api.answer(http_request("POST", "/v1/events", b"[" * 5000 + b"]" * 5000))
    assert (result.status, result.body["payload"]["code"]) == (400, "INVALID_JSON")
