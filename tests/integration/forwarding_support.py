"""Helpers for the forwarding integration tests: a fresh partner per test (its webhooks on the
stack's sink, the local MongoDB and a fake-gcs-server bucket), posting through ingest, and reading
back the delivery log, the dead letters and the forwarders' logs.

The fixtures ``clients`` and ``partner`` are imported by the test modules that use them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from google.cloud import firestore, storage
from pymongo import MongoClient

from shared.events.message import encode_event
from shared.forwarding.delivery_log import DeliveryLog
from shared.forwarding.destinations.gcs import object_name
from shared.forwarding.message import ForwardedEvent, PubSubMessage
from tests.conftest import TEST_FUNCTION_ENV, fresh_event, poll
from tools import admin
from tools.admin_commands.deadletters import DeadLetter, hold_subscriptions
from tools.forwarding_local import DEMO_COLLECTION, DEMO_PREFIX, apply_local_partner, create_bucket, local_partner

TEST_BUCKET = "fpass-test-events"
TEST_DATABASE = "fpass_test"
DESTINATIONS = ("demo-webhook", "demo-mongodb", "demo-gcs")
MAX_ATTEMPTS = int(TEST_FUNCTION_ENV["FORWARD_MAX_ATTEMPTS"])


@dataclass
class PartnerUnderTest:
    whitelabel: str
    sink: str
    hooks: dict[str, str]  # destination id -> sink path

    @property
    def hook_path(self) -> str:
        return next(iter(self.hooks.values()))

    def event(self, **changes: Any) -> dict[str, Any]:
        event = fresh_event("view")
        event["eventDate"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        event["data"]["whitelabel"] = event["data"]["ownerWhitelabel"] = self.whitelabel
        event["ownerData"] = {"tags": ["Nível ABC", "GrupoXPTO"]}  # non-ASCII must survive byte for byte
        event.update(changes)
        return event

    def fail_next(self, times: int, path: str | None = None, status: int = 503, delay: float = 0.0) -> None:
        """The sink answers the next ``times`` deliveries with ``status`` after ``delay`` s (0: stop)."""
        answer = requests.post(f"{self.sink}/control/fail", params={
            "path": path or self.hook_path, "times": times, "status": status, "delay": delay}, timeout=5)
        answer.raise_for_status()

    def deliveries(self, event_id: str | None = None, path: str | None = None) -> list[dict]:
        params = {"path": path or self.hook_path}
        if event_id:
            params["webhookId"] = event_id
        return requests.get(f"{self.sink}/deliveries", params=params, timeout=5).json()["deliveries"]


@pytest.fixture(scope="module")
def clients(stack: dict[str, Any]) -> dict[str, Any]:
    create_bucket(stack["project_id"], TEST_BUCKET)
    db = firestore.Client(project=stack["project_id"])
    return {
        "db": db,
        "log": DeliveryLog(db, keep_days=30),
        "mongo": MongoClient(stack["emulators"]["mongodb"])[TEST_DATABASE][DEMO_COLLECTION],
        "bucket": storage.Client(project=stack["project_id"]).bucket(TEST_BUCKET),
    }


def partner_config(stack: dict[str, Any], whitelabel: str, hooks: dict[str, str] | None = None,
                   kinds: tuple[str, ...] = ("webhook", "mongodb", "gcs")) -> dict[str, Any]:
    config = local_partner(whitelabel, stack["webhook_sink"], bucket=TEST_BUCKET, database=TEST_DATABASE,
                           webhooks=hooks or {"demo-webhook": f"/hooks/{whitelabel}"})
    config["destinations"] = [d for d in config["destinations"] if d["kind"] in kinds]
    return config


def register(stack: dict[str, Any], hooks: dict[str, str] | None = None, whitelabel: str | None = None,
             kinds: tuple[str, ...] = ("webhook", "mongodb", "gcs")) -> PartnerUnderTest:
    whitelabel = whitelabel or new_whitelabel()
    config = partner_config(stack, whitelabel, hooks, kinds)
    apply_local_partner(config)
    return PartnerUnderTest(whitelabel, stack["webhook_sink"],
                            {d["id"]: d["url"].removeprefix(stack["webhook_sink"]) for d in config["destinations"]
                             if d["kind"] == "webhook"})


def new_whitelabel() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def partner(stack: dict[str, Any], clients) -> PartnerUnderTest:
    return register(stack)


def ingest(stack: dict[str, Any], event: dict[str, Any], flow_id: str | None = None) -> bytes:
    """Post the event as compact JSON (a protocol envelope when a flowId is given); returns the
    bytes published, which every destination must receive unchanged."""
    body = encode_event(event)
    if flow_id:
        request = {"name": event["eventType"], "version": 1, "flowId": flow_id, "payload": event}
        answer = requests.post(stack["functions"]["ingest"] + "/v1/events", json=request, timeout=10,
                               headers={"Authorization": f"Bearer {stack['dev_api_key']}"})
    else:
        answer = requests.post(stack["functions"]["ingest"] + "/v1/events", data=body, timeout=10,
                               headers={"Authorization": f"Bearer {stack['dev_api_key']}",
                                        "Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    return body


def entry(clients, event_id: str, destination_id: str) -> dict | None:
    return clients["log"].get(event_id, destination_id)


def wait_status(clients, document_id: str, status: str, timeout: float = 30.0) -> dict:
    return poll(lambda: (e := clients["log"].get_entry(document_id)) and e["status"] == status and e,
                timeout=timeout, what=f"deliveries/{document_id} {status}")


def wait_delivered(clients, event_id: str, destination_id: str, timeout: float = 30.0) -> dict:
    return wait_status(clients, f"{event_id}:{destination_id}", "delivered", timeout)


def stored_object(clients, body: bytes):
    return clients["bucket"].blob(object_name(DEMO_PREFIX, ForwardedEvent.from_message(PubSubMessage(body))))


def admin_cli(local_stack, capsys, *argv: str) -> tuple[int, str]:
    code = admin.main(["--local", "--stack-file", str(local_stack.state_dir / "stack.json"), *argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def dead_letters(partner: str, function: str | None = None) -> list[DeadLetter]:
    """The partner's dead letters, read and released (they stay where they are)."""
    found = []
    for hold in hold_subscriptions(function):
        try:
            found += [letter for letter in hold.pull_all() if letter.partner == partner]
        finally:
            hold.release()
    return found


def wait_dead_letters(partner: str, count: int, function: str | None = None, timeout: float = 30.0) -> list[DeadLetter]:
    return poll(lambda: (found := dead_letters(partner, function)) and len(found) >= count and found,
                timeout=timeout, interval=0.5, what=f"{count} dead letter(s) of {partner}")


def log_records(stack: dict[str, Any], message: str, event_id: str) -> list[dict]:
    """The functions' JSON log lines with this message about this event."""
    found = []
    for path in Path(stack["logs"]).glob("function-*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if event_id in line and line.startswith("{"):
                record = json.loads(line)
                if record.get("message") == message and record.get("eventId") == event_id:
                    found.append(record)
    return found
