"""ingest against the real emulators: what is accepted reaches topic "events" unchanged."""

from __future__ import annotations

import json
import uuid

import pytest

from shared.events.message import encode_event
from tests.conftest import fresh_event, spec_example
from tests.integration.ingest_support import post, reader  # noqa: F401 (a fixture)


@pytest.mark.parametrize("kind", ["view", "leave", "open"])
def test_spec_example_wrapped_is_published_unchanged_with_attributes(stack, reader, kind):
    event = spec_example(kind)
    event["eventId"] = str(uuid.uuid4())  # the spec's examples share one id
    flow_id = str(uuid.uuid4())
    request = {"name": "user.interaction", "version": 1, "id": str(uuid.uuid4()), "flowId": flow_id,
               "payload": event, "identity": {"userId": 1}, "metadata": {"origin": "test"}}

    answer = post(stack["functions"]["ingest"], request, key=stack["dev_api_key"])

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["name"] == "user.interaction:response"
    assert body["flowId"] == flow_id
    assert body["id"] != request["id"]
    assert body["payload"]["eventId"] == event["eventId"]
    message = reader.pull_until({event["eventId"]})[event["eventId"]]
    assert body["payload"]["messageId"] == message.message_id
    assert json.loads(message.data) == event
    assert message.data == encode_event(event)
    assert dict(message.attributes) == {"eventId": event["eventId"], "eventType": "user.interaction",
                                        "whitelabel": "company-xpto", "flowId": flow_id}


def test_bare_event_is_accepted_and_gets_a_flow_id(stack, reader):
    event = fresh_event("open")
    answer = post(stack["functions"]["ingest"], event, key=stack["dev_api_key"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    uuid.UUID(body["flowId"])
    message = reader.pull_until({event["eventId"]})[event["eventId"]]
    assert message.attributes["flowId"] == body["flowId"]
    assert json.loads(message.data) == event


def test_unknown_fields_are_kept(stack, reader):
    event = fresh_event("leave")
    event["partnerExtra"] = {"nested": [1, 2.5, "três", None]}
    event["data"]["customField"] = "kept"
    assert post(stack["functions"]["ingest"], event, key=stack["dev_api_key"]).status_code == 200
    message = reader.pull_until({event["eventId"]})[event["eventId"]]
    assert json.loads(message.data) == event


def test_owner_whitelabel_is_the_partner_when_whitelabel_is_absent(stack, reader):
    event = fresh_event("open")
    del event["data"]["whitelabel"]
    event["data"]["ownerWhitelabel"] = "owner-only"
    assert post(stack["functions"]["ingest"], event, key=stack["dev_api_key"]).status_code == 200
    assert reader.pull_until({event["eventId"]})[event["eventId"]].attributes["whitelabel"] == "owner-only"


def test_auth_token_in_the_protocol_event_is_accepted(stack, reader):
    event = fresh_event()
    request = {"name": "user.interaction", "version": 1, "payload": event, "auth": {"token": stack["dev_api_key"]}}
    answer = post(stack["functions"]["ingest"], request)
    assert answer.status_code == 200, answer.text
    reader.pull_until({event["eventId"]})


def test_batch_publishes_the_valid_events_and_reports_each_outcome(stack, reader):
    good = [fresh_event("view"), fresh_event("leave")]
    missing = fresh_event("open")
    del missing["ownerExternalId"]
    unknown = fresh_event("open")
    unknown["eventType"] = "user.teleported"
    batch = [good[0], missing, {"name": "user.interaction", "version": 1, "payload": good[1]}, unknown]

    answer = post(stack["functions"]["ingest"], batch, key=stack["dev_api_key"], path="/v1/events/batch")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["name"] == "events.batch:response"
    payload = body["payload"]
    assert (payload["published"], payload["rejected"], payload["failed"]) == (2, 2, 0)
    outcomes = [(r["index"], r["eventId"], r["outcome"], r["payload"].get("code")) for r in payload["results"]]
    assert outcomes == [(0, good[0]["eventId"], "response", None),
                        (1, missing["eventId"], "bad_request", "MISSING_FIELDS"),
                        (2, good[1]["eventId"], "response", None),
                        (3, unknown["eventId"], "bad_request", "UNKNOWN_EVENT_TYPE")]
    assert payload["results"][1]["payload"]["parameters"]["fields"] == ["ownerExternalId"]
    received = reader.pull_until({e["eventId"] for e in good})
    assert {json.loads(m.data)["eventId"] for m in received.values()} == {e["eventId"] for e in good}
    for index, event in ((0, good[0]), (2, good[1])):
        assert payload["results"][index]["payload"] == {"eventId": event["eventId"],
                                                        "messageId": received[event["eventId"]].message_id}


def test_batch_in_a_protocol_envelope_carries_its_flow_id(stack, reader):
    events = [fresh_event(), fresh_event()]
    flow_id = str(uuid.uuid4())
    request = {"name": "events.batch", "version": 1, "flowId": flow_id, "payload": {"events": events}}
    answer = post(stack["functions"]["ingest"], request, key=stack["dev_api_key"], path="/v1/events/batch")
    assert answer.status_code == 200, answer.text
    assert answer.json()["flowId"] == flow_id
    received = reader.pull_until({e["eventId"] for e in events})
    assert {m.attributes["flowId"] for m in received.values() if m.attributes["eventId"] in
            {e["eventId"] for e in events}} == {flow_id}


def test_a_protocol_wrapped_batch_is_answered_200_even_when_refused_whole(stack):
    flow_id = str(uuid.uuid4())
    request = {"name": "events.batch", "version": 1, "flowId": flow_id, "payload": {"events": []}}
    answer = post(stack["functions"]["ingest"], request, key=stack["dev_api_key"], path="/v1/events/batch")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["name"], body["flowId"], body["payload"]["code"]) == ("events.batch:badRequest", flow_id,
                                                                       "INVALID_FIELDS")
    bare = post(stack["functions"]["ingest"], [], key=stack["dev_api_key"], path="/v1/events/batch")
    assert (bare.status_code, bare.json()["payload"]["code"]) == (400, "INVALID_FIELDS")
    unauthorized = post(stack["functions"]["ingest"], request, path="/v1/events/batch")
    assert unauthorized.status_code == 200
    assert (unauthorized.json()["name"], unauthorized.json()["payload"]["code"]) == (
        "events.batch:unauthorized", "MISSING_TOKENS")
