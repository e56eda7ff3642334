"""The log-based metrics (topology.yaml monitoring.log_metrics) count the lines the functions really
write: an event and a refused request go through the local stack, and each metric's filter and
label extractors, as modules/monitoring renders them, are applied to the functions' JSON lines the
way Cloud Logging reads them (jsonPayload: the line without the fields Cloud Logging takes out)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, fresh_event, poll
from tests.integration.ingest_support import post
from tools import monitoring_checks

pytestmark = pytest.mark.integration

PARTNER = "company-xpto"  # the spec's example events' partner, registered by the local stack
_EXTRACT = re.compile(r"^EXTRACT\(jsonPayload\.(\w+)\)$")


def payload(line: dict[str, Any]) -> dict[str, Any]:
    """What Cloud Logging keeps as jsonPayload: it takes severity and its own special fields out."""
    return {k: v for k, v in line.items() if k != "severity" and not k.startswith("logging.googleapis.com/")}


def counted(stack: dict[str, Any], metric: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(service, labels, jsonPayload) of every line of the local stack's functions the metric counts."""
    services = set(json.loads(s) for s in re.findall(r'"[^"]*"', re.search(
        r"resource\.labels\.service_name=\((.*?)\)", metric["filter"]).group(1)))
    messages = set(json.loads(m) for m in re.findall(r'"(?:[^"\\]|\\.)*"', re.search(
        r"jsonPayload\.message=\((.*?)\)$", metric["filter"]).group(1)))
    fields = {label: _EXTRACT.match(extractor).group(1) for label, extractor in metric["label_extractors"].items()}
    found = []
    for log in Path(stack["logs"]).glob("function-*.log"):
        service = monitoring_checks.service_name(log.stem.removeprefix("function-"))
        for text in log.read_text(errors="replace").splitlines():
            if not text.startswith("{"):
                continue
            line = payload(json.loads(text))
            if service in services and line.get("message") in messages:
                found.append((service, {label: line.get(field) for label, field in fields.items()}, line))
    return found


@pytest.fixture(scope="module")
def metrics() -> dict[str, Any]:
    return monitoring_checks.render(REPO_ROOT)["log_metrics"]


def test_an_event_in_and_its_deliveries_are_counted_with_their_labels(stack, metrics):
    event = fresh_event()
    assert post(stack["functions"]["ingest"], event, key=stack["dev_api_key"]).status_code == 200

    [published] = poll(lambda: [c for c in counted(stack, metrics["events_published"])
                                if c[2].get("eventId") == event["eventId"]], what="the event published line")
    assert published[:2] == ("ingest", {"event_type": "user.interaction"})

    def deliveries() -> set[tuple[str, tuple]]:
        return {(service, tuple(sorted(labels.items()))) for service, labels, line
                in counted(stack, metrics["deliveries"]) if line.get("eventId") == event["eventId"]}

    expected = {(f"forward-{kind}", (("kind", kind), ("partner", PARTNER), ("result", "delivered")))
                for kind in ("webhook", "mongodb", "gcs")}
    assert poll(lambda: deliveries() >= expected and deliveries(), what="a delivered line per destination kind") == expected


def test_a_refused_request_is_counted_with_its_kind_code_and_status(stack, metrics):
    wrong_key = f"fpk_{uuid.uuid4().hex[:12]}_{uuid.uuid4().hex}"
    flow_id = str(uuid.uuid4())
    request = {"name": "user.interaction", "version": 1, "flowId": flow_id, "payload": fresh_event()}
    # A protocol event is answered 200 whatever its kind: the metric still counts the refusal.
    assert post(stack["functions"]["ingest"], request, key=wrong_key).status_code == 200

    [refused] = poll(lambda: [c for c in counted(stack, metrics["answers"]) if c[2].get("flowId") == flow_id],
                     what="the answered line")
    assert refused[:2] == ("ingest", {"kind": "unauthorized", "code": "INVALID_TOKEN", "http_status": 200})
