"""Reports read with keys scoped to publishers, created with the admin CLI, over HTTP on the local
stack: a key reads its publishers' campaigns only; another publisher's campaign answers exactly
like one that does not exist; a key without a scope reads none but works for ingest and monitor."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from shared.retail_media.campaigns import Campaign
from tests.conftest import fresh_event, poll
from tests.integration.beacon_support import fresh_campaign
from tests.integration.ingest_support import post
from tools import admin


def create_key(capsys: pytest.CaptureFixture[str], *arguments: str) -> str:
    assert admin.main(["keys", "create", *arguments]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def report(stack: dict[str, Any], campaign_id: str, key: str) -> requests.Response:
    return requests.get(f"{stack['functions']['reports']}/v1/reports/campaigns/{campaign_id}",
                        headers={"Authorization": f"Bearer {key}"}, timeout=30)


@pytest.fixture(scope="module")
def campaigns(stack: dict[str, Any]) -> tuple[Campaign, Campaign]:
    return fresh_campaign(stack, "product"), fresh_campaign(stack, "display")


def test_a_publisher_key_reads_its_campaigns_only(stack, campaigns, capsys) -> None:
    own, others = campaigns
    key = create_key(capsys, "--name", "retailer-own", "--publisher", own.publisher_id)
    answer = report(stack, own.id, key)
    assert answer.status_code == 200 and answer.json()["campaign_id"] == own.id
    hidden, unknown = report(stack, others.id, key), report(stack, "no-such-campaign", key)
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json() == {"messages": [f"unknown campaign {others.id!r}"]}
    assert unknown.json() == {"messages": ["unknown campaign 'no-such-campaign'"]}


def test_a_key_may_read_several_publishers_and_an_admin_key_all(stack, campaigns, capsys) -> None:
    own, others = campaigns
    both = create_key(capsys, "--name", "agency", "--publisher", own.publisher_id, "--publisher", others.publisher_id)
    assert [report(stack, c.id, both).status_code for c in campaigns] == [200, 200]
    admin_key = create_key(capsys, "--name", "operations", "--admin")
    assert [report(stack, c.id, admin_key).status_code for c in campaigns] == [200, 200]
    # The local stack's development key is an admin key.
    assert [report(stack, c.id, stack["dev_api_key"]).status_code for c in campaigns] == [200, 200]


def test_a_key_without_a_scope_reads_no_report_but_still_works_for_ingest_and_monitor(
        stack, campaigns, capsys) -> None:
    key = create_key(capsys, "--name", "platform-app")
    assert [report(stack, c.id, key).status_code for c in campaigns] == [404, 404]
    assert post(stack["functions"]["ingest"], fresh_event(), key=key).status_code == 200
    monitor = requests.post(f"{stack['functions']['monitor']}/v1/users", json={}, timeout=30,
                            headers={"Authorization": f"Bearer {key}"})
    assert monitor.status_code == 200


def test_keys_scope_changes_an_existing_keys_scope(stack, campaigns, capsys) -> None:
    own, _ = campaigns
    key = create_key(capsys, "--name", "legacy-report-client")
    key_id = key.split("_")[1]
    assert report(stack, own.id, key).status_code == 404
    assert admin.main(["keys", "scope", key_id, "--publisher", own.publisher_id]) == 0
    assert capsys.readouterr().out.strip() == f"key {key_id}: publishers {own.publisher_id}"
    # Running instances trust a verified key for API_KEY_CACHE_SECONDS (1 s in the tests).
    poll(lambda: report(stack, own.id, key).status_code == 200, timeout=10, what="the new scope")
    assert admin.main(["keys", "list"]) == 0
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.startswith(key_id)]
    assert line.endswith(f"publishers {own.publisher_id}")
    assert admin.main(["keys", "scope", key_id, "--none"]) == 0
    poll(lambda: report(stack, own.id, key).status_code == 404, timeout=10, what="the scope removed")
