"""ingest logs structured JSON in Cloud Logging's shape, with flowId as trace, and no secrets."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path

from tests.conftest import fresh_event, poll
from tests.integration.ingest_support import post


def log_entries(stack: dict) -> list[dict]:
    lines = (Path(stack["logs"]) / "function-ingest.log").read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_a_flow_is_logged_as_json_with_its_flow_id_as_trace(stack):
    flow_id = str(uuid.uuid4())
    event = fresh_event()
    request = {"name": "user.interaction", "version": 1, "flowId": flow_id, "payload": event,
               "auth": {"token": stack["dev_api_key"]}}
    assert post(stack["functions"]["ingest"], request).status_code == 200

    def flow_lines() -> list[dict]:
        lines = [e for e in log_entries(stack) if e.get("flowId") == flow_id]
        return lines if any(e["message"] == "answered" for e in lines) else []

    published, answered = poll(flow_lines, what="the flow's log lines")
    assert (published["severity"], published["message"]) == ("INFO", "event published")
    # A Cloud Trace id is 32 hex digits: a UUID flowId gives its own hex.
    trace = f"projects/{stack['project_id']}/traces/{uuid.UUID(flow_id).hex}"
    assert published["logging.googleapis.com/trace"] == answered["logging.googleapis.com/trace"] == trace
    assert published["logging.googleapis.com/sourceLocation"]["file"].endswith("shared/ingest/service.py")
    assert published["eventId"] == event["eventId"]
    assert (answered["severity"], answered["answer"], answered["kind"], answered["code"], answered["httpStatus"]) == (
        "INFO", "user.interaction:response", "response", None, 200)


def test_each_answer_is_logged_with_its_kind_code_and_status_even_a_refusal_answered_200(stack):
    flow_id = str(uuid.uuid4())
    wrapped = {"name": "user.interaction", "version": 1, "flowId": flow_id, "payload": fresh_event()}
    assert post(stack["functions"]["ingest"], wrapped).status_code == 200
    assert post(stack["functions"]["ingest"], fresh_event(), key="fpk_000000000000_nope").status_code == 401
    [refused_200] = poll(lambda: [e for e in log_entries(stack) if e.get("flowId") == flow_id], what="the line")
    assert (refused_200["severity"], refused_200["message"], refused_200["kind"], refused_200["code"],
            refused_200["httpStatus"]) == ("WARNING", "answered", "unauthorized", "MISSING_TOKENS", 200)
    refused_401 = poll(lambda: [e for e in log_entries(stack)
                                if e.get("code") == "INVALID_TOKEN" and e.get("httpStatus") == 401], what="the line")
    assert refused_401[-1]["kind"] == "unauthorized"


def test_keys_never_reach_the_logs(stack):
    wrong_key = f"fpk_{uuid.uuid4().hex[:12]}_{uuid.uuid4().hex}"
    post(stack["functions"]["ingest"], fresh_event(), key=wrong_key)
    post(stack["functions"]["ingest"], fresh_event(), key=stack["dev_api_key"])
    poll(lambda: any(e.get("code") == "INVALID_TOKEN" for e in log_entries(stack)), what="the refusal log line")
    for log_file in Path(stack["logs"]).glob("*.log"):
        text = log_file.read_text(errors="replace")
        secret_part = stack["dev_api_key"].split("_", 2)[2]
        assert secret_part not in text, log_file.name
        assert wrong_key.split("_", 2)[2] not in text, log_file.name


def test_a_batch_logs_one_published_line_per_event_type_and_its_events_at_debug(stack):
    events = [fresh_event("view"), fresh_event("leave"), fresh_event("open")]
    answer = post(stack["functions"]["ingest"], events, key=stack["dev_api_key"], path="/v1/events/batch")
    assert answer.status_code == 200 and answer.json()["payload"]["published"] == 3
    ids = {e["eventId"] for e in events}

    def event_lines() -> list[dict]:
        lines = [e for e in log_entries(stack) if e.get("eventId") in ids and e["message"] == "event published"]
        return lines if len(lines) == len(events) else []

    lines = poll(event_lines, what="the batch's per-event lines")
    assert {line["severity"] for line in lines} == {"DEBUG"}
    flow_id = lines[0]["flowId"]
    summary = poll(lambda: [e for e in log_entries(stack) if e.get("flowId") == flow_id
                            and e["message"] == "events published"], what="the batch's summary lines")
    expected = Counter(e["eventType"] for e in events)
    assert {(line["severity"], line["eventType"], line["count"]) for line in summary} == {
        ("INFO", event_type, count) for event_type, count in expected.items()}
