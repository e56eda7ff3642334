"""Every error answer of ingest, with its exact shape and status, against the running function.

A protocol event is answered 200 whatever the kind; a bare event, or a body that could not be
read, gets the kind's status."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import requests

from tests.conftest import fresh_event, poll
from tests.integration.ingest_support import post
from tools import admin



def assert_error(answer, name: str, kind: str, code: str, status: int, flow_id: str | None = None) -> dict[str, Any]:
    """The shape every error answer has; returns its parameters."""
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"name", "version", "id", "flowId", "payload", "identity", "auth", "metadata"}
    assert body["identity"] == {} and body["auth"] == {}
    assert body["name"] == f"{name}:{kind}"
    assert body["version"] == 1
    uuid.UUID(body["id"])
    if flow_id:
        assert body["flowId"] == flow_id
    else:
        uuid.UUID(body["flowId"])
    assert body["metadata"]["origin"] == "ingest"
    assert abs(body["metadata"]["timestamp"] - time.time()) < 60
    assert set(body["payload"]) == {"code", "message", "parameters"}
    assert body["payload"]["code"] == code
    assert body["payload"]["message"]
    return body["payload"]["parameters"]


def wrapped(event: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"name": event.get("eventType", "user.interaction"), "version": 1, "flowId": str(uuid.uuid4()),
            "payload": event, **fields}


def test_invalid_json(stack):
    answer = post(stack["functions"]["ingest"], data=b'{"eventId": ', key=stack["dev_api_key"])
    assert_error(answer, "event", "bad_request", "INVALID_JSON", 400)


def test_body_that_is_not_utf8(stack):
    answer = post(stack["functions"]["ingest"], data=b"\xff\xfe{}", key=stack["dev_api_key"])
    assert_error(answer, "event", "bad_request", "INVALID_JSON", 400)


def test_missing_fields_lists_every_missing_path(stack):
    event = fresh_event("view")
    del event["eventDate"]
    del event["data"]["mediaCount"]
    del event["data"]["whitelabel"], event["data"]["ownerWhitelabel"]
    request = wrapped(event)
    answer = post(stack["functions"]["ingest"], request, key=stack["dev_api_key"])
    parameters = assert_error(answer, "user.interaction", "badRequest", "MISSING_FIELDS", 200, request["flowId"])
    assert sorted(parameters["fields"]) == ["data.mediaCount", "data.whitelabel", "eventDate"]


def test_invalid_fields_say_what_is_wrong_with_each(stack):
    event = fresh_event("view")
    event["eventId"] = "5g16f9d7-cb32-43fd-ade2-93a5ecea467a"  # the spec's non-UUID artefact
    event["eventDate"] = "29/08/2022"
    event["data"]["type"] = "rewind"
    event["data"]["mediaStart"] = "fifty"
    answer = post(stack["functions"]["ingest"], wrapped(event), key=stack["dev_api_key"])
    parameters = assert_error(answer, "user.interaction", "badRequest", "INVALID_FIELDS", 200)
    problems = {f["field"]: f["problem"] for f in parameters["fields"]}
    assert problems == {
        "eventId": "must be a UUIDv4",
        "eventDate": "must be an ISO 8601 date-time with a time zone",
        "data.type": "must be one of view, leave, open",
        "data.mediaStart": "'fifty' is not of type 'number'",
    }


def test_protocol_name_must_match_the_event_type(stack):
    answer = post(stack["functions"]["ingest"], {"name": "user.interaction", "version": 1, "payload": "x"},
                  key=stack["dev_api_key"])
    assert assert_error(answer, "user.interaction", "badRequest", "INVALID_FIELDS", 200)["fields"] == [
        {"field": "payload", "problem": "must be a JSON object"}]
    request = wrapped(fresh_event(), name="user.other")
    answer = post(stack["functions"]["ingest"], request, key=stack["dev_api_key"])
    assert assert_error(answer, "user.other", "badRequest", "INVALID_FIELDS", 200)["fields"] == [
        {"field": "name", "problem": "must equal payload.eventType"}]


def test_a_bare_event_keeps_the_http_status_of_its_refusal(stack):
    event = fresh_event()
    del event["eventDate"]
    answer = post(stack["functions"]["ingest"], event, key=stack["dev_api_key"])
    assert assert_error(answer, "user.interaction", "bad_request", "MISSING_FIELDS", 400) == {"fields": ["eventDate"]}


def test_nan_and_infinity_are_not_json(stack):
    event = fresh_event()
    event["data"]["mediaStart"] = float("nan")
    request = wrapped(event, auth={"token": stack["dev_api_key"]})
    # The envelope around a NaN is still read: a protocol client gets its answer as an event.
    answer = post(stack["functions"]["ingest"], data=json.dumps(request).encode())
    assert assert_error(answer, "user.interaction", "badRequest", "INVALID_JSON", 200, request["flowId"]) == {
        "error": "NaN is not a JSON value"}
    event["data"]["mediaStart"] = float("-inf")
    answer = post(stack["functions"]["ingest"], data=json.dumps(event).encode(), key=stack["dev_api_key"])
    assert assert_error(answer, "event", "bad_request", "INVALID_JSON", 400) == {
        "error": "-Infinity is not a JSON value"}


@pytest.mark.parametrize("version", ["1", 1])
def test_version_is_an_integer_or_a_string_of_digits(stack, version):
    request = wrapped(fresh_event(), version=version)
    answer = post(stack["functions"]["ingest"], request, key=stack["dev_api_key"])
    assert answer.status_code == 200 and answer.json()["name"] == "user.interaction:response", answer.text


@pytest.mark.parametrize("version", ["v1", "1.0", 1.5, True])
def test_any_other_version_is_invalid(stack, version):
    answer = post(stack["functions"]["ingest"], wrapped(fresh_event(), version=version), key=stack["dev_api_key"])
    assert assert_error(answer, "user.interaction", "badRequest", "INVALID_FIELDS", 200) == {
        "fields": [{"field": "version", "problem": "must be an integer or a string of digits"}]}


def test_unknown_event_type(stack):
    event = fresh_event()
    event["eventType"] = "user.teleported"
    answer = post(stack["functions"]["ingest"], wrapped(event), key=stack["dev_api_key"])
    parameters = assert_error(answer, "user.teleported", "badRequest", "UNKNOWN_EVENT_TYPE", 200)
    assert parameters["eventType"] == "user.teleported"
    assert "user.interaction" in parameters["known"]


def test_unsupported_version(stack):
    answer = post(stack["functions"]["ingest"], wrapped(fresh_event(), version=7), key=stack["dev_api_key"])
    parameters = assert_error(answer, "user.interaction", "badRequest", "UNSUPPORTED_VERSION", 200)
    assert parameters == {"version": 7, "supported": [1]}


def test_payload_too_large(stack):
    event = fresh_event()
    event["padding"] = "x" * (1024 * 1024)
    answer = post(stack["functions"]["ingest"], event, key=stack["dev_api_key"])
    assert assert_error(answer, "event", "bad_request", "PAYLOAD_TOO_LARGE", 400) == {"maxBytes": 1024 * 1024}


def test_batch_too_many_events(stack):
    events = [fresh_event() for _ in range(501)]
    answer = post(stack["functions"]["ingest"], events, key=stack["dev_api_key"], path="/v1/events/batch")
    assert assert_error(answer, "events.batch", "bad_request", "PAYLOAD_TOO_LARGE", 400) == {
        "maxEvents": 500, "events": 501}


def test_batch_too_many_bytes(stack):
    answer = post(stack["functions"]["ingest"], data=b"[" + b" " * (5 * 1024 * 1024) + b"]",
                  key=stack["dev_api_key"], path="/v1/events/batch")
    assert assert_error(answer, "events.batch", "bad_request", "PAYLOAD_TOO_LARGE", 400) == {
        "maxBytes": 5 * 1024 * 1024}


def test_unknown_route(stack):
    answer = post(stack["functions"]["ingest"], fresh_event(), key=stack["dev_api_key"], path="/v2/things")
    assert_error(answer, "event", "not_found", "UNKNOWN_ROUTE", 404)


def test_a_protocol_event_on_a_wrong_path_gets_a_not_found_event(stack):
    request = wrapped(fresh_event())
    answer = post(stack["functions"]["ingest"], request, key=stack["dev_api_key"], path="/events/")
    parameters = assert_error(answer, "user.interaction", "notFound", "UNKNOWN_ROUTE", 200, request["flowId"])
    assert parameters == {"routes": ["POST /v1/events", "POST /v1/events/batch"]}


def test_missing_token(stack):
    request = wrapped(fresh_event())
    answer = post(stack["functions"]["ingest"], request)
    assert_error(answer, "user.interaction", "unauthorized", "MISSING_TOKENS", 200, request["flowId"])


@pytest.mark.parametrize("key", ["fpk_000000000000_wrongsecret", "not-even-shaped-like-a-key"])
def test_wrong_token(stack, key):
    answer = post(stack["functions"]["ingest"], fresh_event(), key=key)
    assert_error(answer, "user.interaction", "unauthorized", "INVALID_TOKEN", 401)


def test_a_right_key_id_with_a_wrong_secret_is_refused(stack):
    key_id = stack["dev_api_key"].split("_")[1]
    answer = post(stack["functions"]["ingest"], fresh_event(), key=f"fpk_{key_id}_guessed")
    assert_error(answer, "user.interaction", "unauthorized", "INVALID_TOKEN", 401)


def test_revoked_key_is_refused_after_the_cache_period(stack, capsys):
    assert admin.main(["keys", "create", "--name", "revocation-test"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert post(stack["functions"]["ingest"], fresh_event(), key=key).status_code == 200

    assert admin.main(["keys", "revoke", key.split("_")[1]]) == 0
    assert "revoked" in capsys.readouterr().out
    def refused() -> list:
        answer = post(stack["functions"]["ingest"], fresh_event(), key=key)
        return [answer] if answer.status_code == 401 else []  # a 4xx Response is falsy itself

    [answer] = poll(refused, timeout=10, what="the revoked key to be refused")
    assert_error(answer, "user.interaction", "unauthorized", "INVALID_TOKEN", 401)
    assert admin.main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert any(key.split("_")[1] in line and "revoked" in line for line in listing.splitlines())
    assert key.split("_")[2] not in listing


def test_malformed_authorization_header(stack):
    answer = requests.post(stack["functions"]["ingest"] + "/v1/events", json=fresh_event(),
                           headers={"Authorization": "Basic dXNlcjpwYXNz"}, timeout=10)
    assert_error(answer, "user.interaction", "unauthorized", "INVALID_TOKEN", 401)
