"""Every error answer of ingest, with its exact shape, against the running function."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from tests.conftest import fresh_event, poll
from tests.integration.ingest_support import post
from tools import admin

ERROR_STATUS = {"bad_request": 400, "unauthorized": 401, "not_found": 404, "failed_dependency": 424}


def assert_error(answer, name: str, kind: str, code: str, flow_id: str | None = None) -> dict[str, Any]:
    """The shape every error answer has; returns its parameters."""
    assert answer.status_code == ERROR_STATUS[kind], answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"name", "version", "id", "flowId", "payload", "metadata"}
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
    assert_error(answer, "event", "bad_request", "INVALID_JSON")


def test_body_that_is_not_utf8(stack):
    answer = post(stack["functions"]["ingest"], data=b"\xff\xfe{}", key=stack["dev_api_key"])
    assert_error(answer, "event", "bad_request", "INVALID_JSON")


def test_missing_fields_lists_every_missing_path(stack):
    event = fresh_event("view")
    del event["eventDate"]
    del event["data"]["mediaCount"]
    del event["data"]["whitelabel"], event["data"]["ownerWhitelabel"]
    request = wrapped(event)
    answer = post(stack["functions"]["ingest"], request, key=stack["dev_api_key"])
    parameters = assert_error(answer, "user.interaction", "bad_request", "MISSING_FIELDS", request["flowId"])
    assert sorted(parameters["fields"]) == ["data.mediaCount", "data.whitelabel", "eventDate"]


def test_invalid_fields_say_what_is_wrong_with_each(stack):
    event = fresh_event("view")
    event["eventId"] = "5g16f9d7-cb32-43fd-ade2-93a5ecea467a"  # the spec's non-UUID artefact
    event["eventDate"] = "29/08/2022"
    event["data"]["type"] = "rewind"
    event["data"]["mediaStart"] = "fifty"
    answer = post(stack["functions"]["ingest"], wrapped(event), key=stack["dev_api_key"])
    parameters = assert_error(answer, "user.interaction", "bad_request", "INVALID_FIELDS")
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
    assert assert_error(answer, "user.interaction", "bad_request", "INVALID_FIELDS")["fields"] == [
        {"field": "payload", "problem": "must be a JSON object"}]
    request = wrapped(fresh_event(), name="user.other")
    answer = post(stack["functions"]["ingest"], request, key=stack["dev_api_key"])
    assert assert_error(answer, "user.other", "bad_request", "INVALID_FIELDS")["fields"] == [
        {"field": "name", "problem": "must equal payload.eventType"}]


def test_unknown_event_type(stack):
    event = fresh_event()
    event["eventType"] = "user.teleported"
    answer = post(stack["functions"]["ingest"], wrapped(event), key=stack["dev_api_key"])
    parameters = assert_error(answer, "user.teleported", "bad_request", "UNKNOWN_EVENT_TYPE")
    assert parameters["eventType"] == "user.teleported"
    assert "user.interaction" in parameters["known"]


def test_unsupported_version(stack):
    answer = post(stack["functions"]["ingest"], wrapped(fresh_event(), version=7), key=stack["dev_api_key"])
    parameters = assert_error(answer, "user.interaction", "bad_request", "UNSUPPORTED_VERSION")
    assert parameters == {"version": 7, "supported": [1]}


def test_payload_too_large(stack):
    event = fresh_event()
    event["padding"] = "x" * (1024 * 1024)
    answer = post(stack["functions"]["ingest"], event, key=stack["dev_api_key"])
    assert assert_error(answer, "event", "bad_request", "PAYLOAD_TOO_LARGE") == {"maxBytes": 1024 * 1024}


def test_batch_too_many_events(stack):
    events = [fresh_event() for _ in range(501)]
    answer = post(stack["functions"]["ingest"], events, key=stack["dev_api_key"], path="/v1/events/batch")
    assert assert_error(answer, "events.batch", "bad_request", "PAYLOAD_TOO_LARGE") == {
        "maxEvents": 500, "events": 501}


def test_batch_too_many_bytes(stack):
    answer = post(stack["functions"]["ingest"], data=b"[" + b" " * (5 * 1024 * 1024) + b"]",
                  key=stack["dev_api_key"], path="/v1/events/batch")
    assert assert_error(answer, "events.batch", "bad_request", "PAYLOAD_TOO_LARGE") == {"maxBytes": 5 * 1024 * 1024}


def test_unknown_route(stack):
    answer = post(stack["functions"]["ingest"], fresh_event(), key=stack["dev_api_key"], path="/v2/things")
    assert_error(answer, "event", "not_found", "UNKNOWN_ROUTE")


def test_missing_token(stack):
    request = wrapped(fresh_event())
    answer = post(stack["functions"]["ingest"], request)
    assert_error(answer, "user.interaction", "unauthorized", "MISSING_TOKENS", request["flowId"])


@pytest.mark.parametrize("key", ["fpk_000000000000_wrongsecret", "not-even-shaped-like-a-key"])
def test_wrong_token(stack, key):
    answer = post(stack["functions"]["ingest"], fresh_event(), key=key)
    assert_error(answer, "user.interaction", "unauthorized", "INVALID_TOKEN")


def test_a_right_key_id_with_a_wrong_secret_is_refused(stack):
    key_id = stack["dev_api_key"].split("_")[1]
    answer = post(stack["functions"]["ingest"], fresh_event(), key=f"fpk_{key_id}_guessed")
    assert_error(answer, "user.interaction", "unauthorized", "INVALID_TOKEN")


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
    assert_error(answer, "user.interaction", "unauthorized", "INVALID_TOKEN")
    assert admin.main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert any(key.split("_")[1] in line and "revoked" in line for line in listing.splitlines())
    assert key.split("_")[2] not in listing


def test_malformed_authorization_header(stack):
    answer = requests.post(stack["functions"]["ingest"] + "/v1/events", json=fresh_event(),
                           headers={"Authorization": "Basic dXNlcjpwYXNz"}, timeout=10)
    assert_error(answer, "user.interaction", "unauthorized", "INVALID_TOKEN")
