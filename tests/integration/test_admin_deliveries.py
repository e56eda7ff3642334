"""The operator's view of the delivery log on the real stack: `deliveries summary` counts what
the forwarders recorded, `deliveries show` prints one event's entries, `partners show` reports a
destination failing for too long."""

from __future__ import annotations

import re

import pytest

from shared.forwarding.partners import PartnerRegistry
from tests.conftest import poll
from tests.integration.forwarding_support import (  # noqa: F401 - clients is a fixture
    admin_cli,
    clients,
    ingest,
    register,
    wait_delivered,
    wait_status,
)

pytestmark = pytest.mark.integration


def summary_row(output: str, partner: str, destination: str) -> dict[str, object]:
    [line] = [line for line in output.splitlines() if line.startswith(f"{partner} ") and f" {destination} " in line]
    counts = line.split()[2:6]
    return {"delivered": int(counts[0]), "retrying": int(counts[1]), "failed": int(counts[2]),
            "held": int(counts[3]), "error": line.split("  ")[-1]}


@pytest.fixture(scope="module")
def failing_partner(stack, clients):
    """A webhook partner with two events delivered, then one retrying (its webhook answers 503)."""
    partner = register(stack, kinds=("webhook",))
    delivered = [partner.event(), partner.event()]
    for event in delivered:
        ingest(stack, event)
        wait_delivered(clients, event["eventId"], "demo-webhook")
    partner.fail_next(10_000)
    failing = partner.event()
    ingest(stack, failing)
    wait_status(clients, f"{failing['eventId']}:demo-webhook", "retrying")
    yield partner, delivered, failing
    partner.fail_next(0)


def test_summary_counts_each_status_per_destination_with_the_last_error(local_stack, capsys, failing_partner):
    partner, _, _ = failing_partner
    code, output = admin_cli(local_stack, capsys, "deliveries", "summary", "--partner", partner.whitelabel,
                             "--since", "1h")
    assert code == 0, output
    row = summary_row(output, partner.whitelabel, "demo-webhook")
    assert (row["delivered"], row["retrying"], row["failed"], row["held"]) == (2, 1, 0, 0)
    assert "503" in row["error"]


def test_summary_shows_a_whole_partner_held_and_leaves_out_older_entries(stack, clients, local_stack, capsys):
    partner = register(stack, kinds=("webhook",))
    PartnerRegistry(clients["db"]).disable(partner.whitelabel)
    event = partner.event()
    ingest(stack, event)
    code, output = 0, ""

    def held_row():
        nonlocal code, output
        code, output = admin_cli(local_stack, capsys, "deliveries", "summary", "--partner", partner.whitelabel)
        return code == 0 and " *webhook " in output and summary_row(output, partner.whitelabel, "*webhook")

    row = poll(held_row, timeout=30, interval=0.5, what="the partner's hold in the summary")
    assert (row["delivered"], row["retrying"], row["held"]) == (0, 0, 1)
    assert "partner_disabled" in row["error"]
    assert summary_row(output, partner.whitelabel, "demo-webhook")["held"] == 0


def test_show_prints_every_destination_of_one_event(local_stack, capsys, failing_partner):
    partner, delivered, failing = failing_partner
    code, output = admin_cli(local_stack, capsys, "deliveries", "show", failing["eventId"])
    assert code == 0, output
    [line] = [line for line in output.splitlines() if line.startswith("demo-webhook ")]
    assert partner.whitelabel in line and " retrying " in line and "HTTP 503" in line
    code, output = admin_cli(local_stack, capsys, "deliveries", "show", delivered[0]["eventId"])
    assert " delivered " in output and "HTTP 200" in output
    code, output = admin_cli(local_stack, capsys, "deliveries", "show", "00000000-0000-4000-8000-000000000000")
    assert code == 1 and "no entry" in output


def test_partners_show_reports_a_destination_failing_longer_than_the_setting(local_stack, capsys, monkeypatch,
                                                                             failing_partner):
    partner, _, _ = failing_partner
    code, output = admin_cli(local_stack, capsys, "partners", "show", partner.whitelabel)
    assert code == 0, output
    health = next(line for line in output.splitlines() if line.startswith("# demo-webhook: "))
    assert health.startswith("# demo-webhook: failing since ") and "1 retrying, 0 held" in health
    assert "HTTP 503" in health

    monkeypatch.setenv("DESTINATION_UNHEALTHY_AFTER_SECONDS", "0")
    code, output = admin_cli(local_stack, capsys, "partners", "show", partner.whitelabel)
    health = next(line for line in output.splitlines() if line.startswith("# demo-webhook: "))
    assert re.match(r"# demo-webhook: UNHEALTHY since \S+ \(\d+ s\): 1 retrying, 0 held; last delivered ", health)


def test_partners_show_says_ok_for_a_destination_that_delivers(stack, clients, local_stack, capsys, monkeypatch):
    partner = register(stack, kinds=("webhook",))
    event = partner.event()
    ingest(stack, event)
    wait_delivered(clients, event["eventId"], "demo-webhook")
    monkeypatch.setenv("DESTINATION_UNHEALTHY_AFTER_SECONDS", "0")
    code, output = admin_cli(local_stack, capsys, "partners", "show", partner.whitelabel)
    assert "# demo-webhook: ok: 0 retrying, 0 held; last delivered " in output
