"""Partner configuration: the example file is valid, every problem is reported, and what is
stored holds secret references only."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shared.events.contract import known_event_types
from shared.forwarding.destinations.webhook_guard import check_webhook_url
from shared.forwarding.partners import (
    GcsDestination,
    InvalidPartnerConfig,
    MongoDestination,
    WebhookDestination,
    from_document,
    parse_partner,
)
from tools.admin_commands.partners import load_partners, partner_entries

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "partners" / "company-xpto.yaml"


def public_dns(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


def guard(url: str) -> list[str]:
    return check_webhook_url(url, resolver=public_dns)


def parse(raw: dict) -> object:
    return parse_partner(raw, guard, known_event_types())


def valid_partner() -> dict:
    return partner_entries(yaml.safe_load(EXAMPLE.read_text()))[0]


def problems_of(raw: dict) -> list[str]:
    with pytest.raises(InvalidPartnerConfig) as raised:
        parse(raw)
    return raised.value.problems


def test_the_example_file_is_valid_and_has_one_destination_of_each_kind():
    partner = parse(valid_partner())
    assert partner.whitelabel == "company-xpto" and not partner.disabled
    webhook, mongodb, gcs = partner.destinations
    assert isinstance(webhook, WebhookDestination) and webhook.timeout_seconds == 10
    assert webhook.event_types == ("user.interaction",)
    assert isinstance(mongodb, MongoDestination) and mongodb.collection == "events"
    assert isinstance(gcs, GcsDestination) and gcs.prefix == "fpass/events"


def test_the_stored_document_round_trips_and_holds_references_only():
    partner = parse(valid_partner())
    document = partner.to_document()
    assert from_document(document) == partner
    hook = document["destinations"][0]
    assert hook["signingSecrets"] == ["projects/my-project/secrets/company-xpto-webhook/versions/latest"]
    assert document["destinations"][1]["connectionString"].startswith("projects/")


def test_defaults():
    raw = {"whitelabel": "p1", "destinations": [
        {"id": "h", "kind": "webhook", "url": "https://p1.example/h", "signingSecrets": "env:S"},
        {"id": "g", "kind": "gcs", "bucket": "p1-bucket"}]}
    hook, gcs = parse(raw).destinations
    assert hook.timeout_seconds == 10 and hook.signing_secrets == ("env:S",) and hook.event_types is None
    assert hook.accepts("anything")
    assert gcs.prefix == ""


@pytest.mark.parametrize("change, problem", [
    (lambda p: p.pop("whitelabel"), "whitelabel is required"),
    (lambda p: p.update(whitelabel="a/b"), "whitelabel must be"),
    (lambda p: p.update(colour="red"), "unknown field 'colour'"),
    (lambda p: p.update(disabled="no"), "disabled must be true or false"),
    (lambda p: p.update(destinations={}), "destinations must be a list"),
    (lambda p: p["destinations"][0].update(kind="ftp"), "kind must be one of webhook, mongodb, gcs"),
    (lambda p: p["destinations"][0].update(id="Bad Id"), "id must be 1-63 lowercase"),
    (lambda p: p["destinations"][1].update(id="xpto-webhook"), "id is used by another destination"),
    (lambda p: p["destinations"][0].pop("url"), "url is required"),
    (lambda p: p["destinations"][0].update(url="http://api.company-xpto.com/x"), "must use https"),
    (lambda p: p["destinations"][0].update(url="https://10.0.0.8/x"), "private"),
    (lambda p: p["destinations"][0].update(url="https://169.254.169.254/x"), "link-local"),
    (lambda p: p["destinations"][0].update(signingSecrets=[]), "signingSecrets must be 1 to 3"),
    (lambda p: p["destinations"][0].update(signingSecrets=["whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"]),
     "not a secret value"),
    (lambda p: p["destinations"][0].update(timeoutSeconds=0), "timeoutSeconds must be"),
    (lambda p: p["destinations"][0].update(timeoutSeconds=31), "timeoutSeconds must be"),
    (lambda p: p["destinations"][0].update(eventTypes=["user.nothing"]), "unknown event type 'user.nothing'"),
    (lambda p: p["destinations"][0].update(eventTypes=[]), "eventTypes must be a non-empty list"),
    (lambda p: p["destinations"][1].update(connectionString="mongodb://u:p@db.example/x"), "not a secret value"),
    (lambda p: p["destinations"][1].update(database="a.b"), "database must be"),
    (lambda p: p["destinations"][1].update(collection="system.users"), "collection must be"),
    (lambda p: p["destinations"][1].pop("collection"), "collection is required"),
    (lambda p: p["destinations"][2].update(bucket="Bad_Bucket!"), "bucket must be"),
    (lambda p: p["destinations"][2].update(prefix="a/../b"), "prefix must be"),
])
def test_each_problem_is_reported(change, problem):
    raw = valid_partner()
    change(raw)
    assert any(problem in p for p in problems_of(raw)), problems_of(raw)


def test_every_problem_is_reported_at_once_and_no_secret_is_echoed():
    raw = valid_partner()
    raw["destinations"][0]["signingSecrets"] = ["whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"]
    raw["destinations"][1]["connectionString"] = "mongodb://admin:hunter2@db.example/x"
    raw["destinations"][2]["bucket"] = "X"
    problems = problems_of(raw)
    assert len(problems) == 3
    assert all(p.startswith("partner 'company-xpto': destinations[") for p in problems)
    assert not any("hunter2" in p or "whsec_c2Vj" in p for p in problems)


def test_a_file_of_several_partners_is_refused_whole_when_one_is_invalid(tmp_path, monkeypatch):
    monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK", "true")
    good = {"whitelabel": "good", "destinations": [
        {"id": "h", "kind": "webhook", "url": "http://127.0.0.1:9/h", "signingSecrets": ["env:S"]}]}
    bad = {"whitelabel": "bad", "destinations": [{"id": "g", "kind": "gcs", "bucket": "B"}]}
    path = tmp_path / "partners.yaml"
    path.write_text(yaml.safe_dump({"partners": [good, bad, good]}))
    partners, problems = load_partners(path)
    assert [p.whitelabel for p in partners] == ["good", "good"]
    assert any("partner 'bad'" in p for p in problems)
    assert any("'good': appears more than once" in p for p in problems)
