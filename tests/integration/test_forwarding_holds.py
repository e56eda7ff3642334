"""Events acknowledged by ingest that cannot be delivered now are held, visible and replayable,
never dropped: an eventId reused with other content (the spec's own three examples), an unknown
partner, a partner without destinations, registered a moment ago, disabled, deleted."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import yaml

from shared.forwarding.delivery_log import hold_entry_id
from shared.forwarding.message import content_hash, fresh_event_id
from tests.conftest import spec_example
from tests.integration.forwarding_support import (  # noqa: F401 - clients and partner are fixtures
    DESTINATIONS,
    PartnerUnderTest,
    admin_cli,
    clients,
    dead_letters,
    entry,
    ingest,
    log_records,
    new_whitelabel,
    partner,
    partner_config,
    register,
    wait_dead_letters,
    wait_delivered,
    wait_status,
)

pytestmark = pytest.mark.integration

KINDS = ("webhook", "mongodb", "gcs")
FORWARDERS = tuple(f"forward_{kind}" for kind in KINDS)


def partner_file(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / f"{config['whitelabel']}.yaml"
    path.write_text(yaml.safe_dump({"partners": [config]}))
    return path


def test_the_spec_examples_sharing_one_event_id_are_one_delivery_and_two_held_conflicts(
        stack, local_stack, clients, partner, capsys):
    shared_id = str(uuid.uuid4())
    examples = []
    for kind in ("view", "leave", "open"):
        event = spec_example(kind)  # the spec's examples, dated 2022, with one eventId for the three
        event["eventId"] = shared_id
        event["data"]["whitelabel"] = event["data"]["ownerWhitelabel"] = partner.whitelabel
        examples.append(event)
    for event in examples:
        ingest(stack, event)

    # One content owns the eventId, the same at every destination; the two others are held.
    owner = wait_status(clients, f"{shared_id}:demo-webhook", "delivered")["contentHash"]
    for destination in DESTINATIONS:
        assert wait_delivered(clients, shared_id, destination)["contentHash"] == owner
    delivered = next(e for e in examples if content_hash(e) == owner)
    conflicting = [e for e in examples if e is not delivered]
    letters = wait_dead_letters(partner.whitelabel, 6)
    assert sorted((l.function, l.target, l.attributes["eventId"]) for l in letters) == sorted(
        (f"forward_{d.removeprefix('demo-')}", d, shared_id) for d in DESTINATIONS for _ in conflicting)
    assert {l.reason for l in letters} == {"event_id_conflict"}
    assert sorted(content_hash(json.loads(l.message.data)) for l in letters) == sorted(
        content_hash(e) for e in conflicting for _ in DESTINATIONS)
    for event in conflicting:
        for destination in DESTINATIONS:
            held = clients["log"].get_entry(hold_entry_id(shared_id, content_hash(event), destination))
            assert held["status"] == "dead_lettered" and held["reason"] == "event_id_conflict"
    for destination in DESTINATIONS:  # the original delivery's entry is untouched
        assert entry(clients, shared_id, destination)["attempts"] == 1
    held_logs = [r for r in log_records(stack, "event held", shared_id) if r["reason"] == "event_id_conflict"]
    assert len(held_logs) == 6 and {r["severity"] for r in held_logs} == {"WARNING"}
    assert [d["body"] for d in partner.deliveries(shared_id)] == [json.dumps(
        delivered, ensure_ascii=False, separators=(",", ":"))]

    code, out = admin_cli(local_stack, capsys, "deadletters", "replay", "--partner", partner.whitelabel)
    assert code == 0 and "replayed 0 dead letter(s)" in out and "6 event_id_conflict dead letter(s) left" in out

    code, out = admin_cli(local_stack, capsys, "deadletters", "replay", "--partner", partner.whitelabel,
                          "--fresh-event-ids")
    assert code == 0 and "replayed 6 dead letter(s)" in out
    for event in conflicting:
        new_id = fresh_event_id(shared_id, content_hash(event))
        assert f"replayed event {shared_id} as {new_id}" in out
        for destination in DESTINATIONS:
            wait_delivered(clients, new_id, destination)
            held = clients["log"].get_entry(hold_entry_id(shared_id, content_hash(event), destination))
            assert held["status"] == "replayed" and held["replayedAs"] == new_id
        stored = clients["mongo"].find_one({"_id": new_id})
        assert stored["data"]["type"] == event["data"]["type"]
        [received] = partner.deliveries(new_id)
        assert received["signatureValid"] and f'"eventId":"{new_id}"' in received["body"]
    assert dead_letters(partner.whitelabel) == []


def test_an_unknown_partner_s_event_is_held_and_delivered_once_it_is_registered(stack, local_stack, clients,
                                                                               capsys, tmp_path):
    future = new_whitelabel()
    event = register_later_event(stack, future)
    ingest(stack, event)

    letters = wait_dead_letters(future, 3)
    assert sorted(l.function for l in letters) == sorted(FORWARDERS)
    assert {(l.reason, l.target) for l in letters} == {("no_partner", "*")}
    for kind in KINDS:
        held = wait_status(clients, hold_entry_id(event["eventId"], content_hash(event), f"*{kind}"), "dead_lettered")
        assert held["reason"] == "no_partner" and held["partner"] == future
    assert {r["reason"] for r in log_records(stack, "event held", event["eventId"])} == {"no_partner"}
    code, out = admin_cli(local_stack, capsys, "deadletters", "list", "--partner", future, "--reason", "no_partner")
    assert "3 dead letter(s)" in out and f"no partner {future!r} is registered" in out

    code, out = admin_cli(local_stack, capsys, "partners", "apply", "-f",
                          str(partner_file(tmp_path, partner_config(stack, future))))
    assert code == 0 and f"{future}: created" in out and f"deadletters replay --partner {future}" in out
    code, out = admin_cli(local_stack, capsys, "deadletters", "replay", "--partner", future)
    assert code == 0 and "replayed 3 dead letter(s)" in out
    for destination in DESTINATIONS:
        wait_delivered(clients, event["eventId"], destination)
    for kind in KINDS:
        assert clients["log"].get_entry(hold_entry_id(event["eventId"], content_hash(event), f"*{kind}"))[
            "status"] == "replayed"


def test_a_partner_registered_a_moment_ago_gets_the_next_event(stack, clients):
    whitelabel = new_whitelabel()
    before = register_later_event(stack, whitelabel)
    ingest(stack, before)
    wait_dead_letters(whitelabel, 3)  # the forwarders looked the partner up and found none

    register(stack, whitelabel=whitelabel)
    after = register_later_event(stack, whitelabel)
    ingest(stack, after)
    for destination in DESTINATIONS:
        wait_delivered(clients, after["eventId"], destination)
    assert {l.attributes["eventId"] for l in dead_letters(whitelabel)} == {before["eventId"]}


def test_a_partner_without_destinations_is_applied_with_a_warning_and_its_events_held(
        stack, local_stack, clients, capsys, tmp_path):
    whitelabel = new_whitelabel()
    config = {"whitelabel": whitelabel, "destinations": []}
    code, out = admin_cli(local_stack, capsys, "partners", "apply", "-f", str(partner_file(tmp_path, config)))
    assert code == 0 and f"warning: partner {whitelabel!r} has no destinations" in out
    event = register_later_event(stack, whitelabel)
    ingest(stack, event)
    letters = wait_dead_letters(whitelabel, 3)
    assert {l.reason for l in letters} == {"no_destinations"}

    code, out = admin_cli(local_stack, capsys, "partners", "apply", "-f",
                          str(partner_file(tmp_path, partner_config(stack, whitelabel))))
    assert code == 0 and f"deadletters replay --partner {whitelabel}" in out
    admin_cli(local_stack, capsys, "deadletters", "replay", "--partner", whitelabel)
    for destination in DESTINATIONS:
        wait_delivered(clients, event["eventId"], destination)


def held_for(letters, event_id: str) -> str:
    """The reason of an event's one dead letter. A forwarder reuses a partner it delivered to
    for PARTNER_CACHE_SECONDS: an event sent just after a change may be held at its destination
    (attempted, then held on its retry) rather than for the whole partner; held either way."""
    [letter] = [l for l in letters if l.attributes["eventId"] == event_id]
    assert letter.function == "forward_webhook" and letter.target in ("*", "demo-webhook")
    return letter.reason


def partner_with_a_pending_retry(stack, clients) -> tuple[PartnerUnderTest, dict]:
    """A partner (a webhook only) whose endpoint is down, and an event waiting for its retry."""
    partner = register(stack, kinds=("webhook",))
    partner.fail_next(1000)
    pending = partner.event()
    ingest(stack, pending)
    wait_status(clients, f"{pending['eventId']}:demo-webhook", "retrying")
    return partner, pending


def test_a_disabled_partner_s_events_are_held_and_enabling_it_delivers_them(stack, local_stack, clients, capsys):
    partner, retried = partner_with_a_pending_retry(stack, clients)

    code, out = admin_cli(local_stack, capsys, "partners", "disable", partner.whitelabel)
    assert code == 0 and "held (partner_disabled)" in out
    held = wait_status(clients, f"{retried['eventId']}:demo-webhook", "dead_lettered")
    assert held["reason"] == "partner_disabled"
    paused = partner.event()
    ingest(stack, paused)
    letters = wait_dead_letters(partner.whitelabel, 2)
    assert held_for(letters, retried["eventId"]) == held_for(letters, paused["eventId"]) == "partner_disabled"
    assert {d["answeredStatus"] for d in partner.deliveries()} == {503}

    partner.fail_next(0)
    code, out = admin_cli(local_stack, capsys, "partners", "enable", partner.whitelabel)
    assert code == 0 and f"enabled {partner.whitelabel}" in out and "replayed 2 dead letter(s)" in out
    assert out.count("] forward_webhook: replayed event") == 2  # one progress line per event
    wait_delivered(clients, paused["eventId"], "demo-webhook")
    wait_delivered(clients, retried["eventId"], "demo-webhook")
    assert [d["answeredStatus"] for d in partner.deliveries(paused["eventId"])][-1:] == [200]
    assert dead_letters(partner.whitelabel) == []


def test_a_deleted_partner_s_pending_and_new_events_are_held(stack, local_stack, clients, capsys):
    partner, pending = partner_with_a_pending_retry(stack, clients)

    code, out = admin_cli(local_stack, capsys, "partners", "delete", partner.whitelabel)
    assert code == 0 and "held (partner_deleted)" in out
    code, out = admin_cli(local_stack, capsys, "partners", "list")
    assert f"{partner.whitelabel:<28} deleted" in out
    held = wait_status(clients, f"{pending['eventId']}:demo-webhook", "dead_lettered")
    assert held["reason"] == "partner_deleted"
    after = partner.event()
    ingest(stack, after)
    letters = wait_dead_letters(partner.whitelabel, 2)
    assert held_for(letters, pending["eventId"]) == held_for(letters, after["eventId"]) == "partner_deleted"
    assert admin_cli(local_stack, capsys, "partners", "enable", partner.whitelabel)[0] == 1  # deleted: no partner


def register_later_event(stack, whitelabel: str) -> dict:
    """An event of a partner that the test registers (or not) itself."""
    event = spec_example("view")
    event["eventId"] = str(uuid.uuid4())
    event["data"]["whitelabel"] = event["data"]["ownerWhitelabel"] = whitelabel
    return event
