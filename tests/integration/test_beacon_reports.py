"""Reports: GET /v1/reports/campaigns/{id} (authenticated) and the admin CLI, on the local stack."""

from __future__ import annotations

import csv
import io
import json
import struct
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from shared.retail_media.attribution import AttributionService, Window
from shared.retail_media.campaigns import CampaignStore
from tests.conftest import poll
from tests.integration.beacon_support import (
    MovableClock,
    RecordingPublisher,
    db,
    fresh_campaign,
    get_report,
    in_process_beacon,
    order,
    post_conversion,
    post_event,
)
from tests.integration.beacon_support import send as send_to
from tools import admin

DAY1 = datetime(2026, 2, 1, 23, 59, 59, tzinfo=timezone.utc)
DAY2 = DAY1 + timedelta(seconds=1)


@pytest.fixture(scope="module")
def history(stack: dict[str, Any]):
    """Two days of a display campaign: day 1 two impressions and a view; day 2 an impression (and
    a duplicate), a view, a click, two attributed orders (21.00 and 0.30) and one without a
    campaign SKU."""
    client = db(stack)
    campaign = fresh_campaign(stack, "display", skus=("SKU-1", "SKU-2"))
    clock, published = MovableClock(DAY1), RecordingPublisher()
    beacon = in_process_beacon(stack, clock, published)

    def send(path: str, body: dict[str, Any]) -> None:
        assert send_to(beacon, path, body).status == 202
    ad = f"/v1/beacon/{{}}/{campaign.ad_ids[0]}"
    send(ad.format("impression"), {"session_id": "s1"})
    send(ad.format("impression"), {"session_id": "s2"})
    send(ad.format("view"), {"session_id": "s1"})
    clock.now = DAY2
    send(ad.format("impression"), {"session_id": "s1"})  # 1 s after s1's first: a duplicate
    send(ad.format("impression"), {"session_id": "s3"})
    send(ad.format("view"), {"session_id": "s2"})
    send(ad.format("click"), {"session_id": "s2"})
    send("/v1/beacon/conversion", order(campaign, ("SKU-1", 2, 10.25), ("SKU-2", 1, 0.5), ("X", 1, 99.0),
                                        session="s1", created_at=DAY2))
    send("/v1/beacon/conversion", order(campaign, ("SKU-2", 3, 0.1), session="s2", created_at=DAY2))
    send("/v1/beacon/conversion", order(campaign, ("X", 1, 5.0), session="s2", created_at=DAY2))
    clock.now = DAY2 + timedelta(minutes=1)
    window = Window(timedelta(days=14), timedelta(minutes=5))
    attribution = AttributionService(client, CampaignStore(client), window, clock)
    for message in published.messages:
        attribution.process(message)
    return campaign


def test_report_per_day(stack: dict[str, Any], history) -> None:
    answer = get_report(stack, history.id, **{"from": "2026-01-31", "to": "2026-02-02"})
    assert answer.status_code == 200
    report = answer.json()
    assert (report["campaign_id"], report["type"], report["publisher_id"]) == (history.id, "display",
                                                                                history.publisher_id)
    zero = {"impressions": 0, "views": 0, "clicks": 0, "conversions": 0, "attributed_revenue": 0.0}
    assert report["days"] == [
        {"date": "2026-01-31", **zero},
        {"date": "2026-02-01", **zero, "impressions": 2, "views": 1},
        {"date": "2026-02-02", "impressions": 1, "views": 1, "clicks": 1, "conversions": 2,
         "attributed_revenue": 21.3},
    ]
    assert report["totals"] == {"impressions": 3, "views": 2, "clicks": 1, "conversions": 2,
                                "attributed_revenue": 21.3}


def test_report_needs_a_valid_api_key(stack: dict[str, Any], history) -> None:
    url = f"{stack['functions']['reports']}/v1/reports/campaigns/{history.id}"
    assert requests.get(url, timeout=10).status_code == 401
    answer = get_report(stack, history.id, key="fpk_nope_nope")
    assert answer.status_code == 401 and "messages" in answer.json()


@pytest.mark.parametrize("params,status", [
    ({"from": "2026-02-03", "to": "2026-02-01"}, 400),
    ({"from": "yesterday"}, 400),
    ({"from": "2026-02-30"}, 400),
    ({"from": "2025-01-01", "to": "2026-02-01"}, 400),
])
def test_bad_ranges_are_refused(stack: dict[str, Any], history, params: dict[str, str], status: int) -> None:
    answer = get_report(stack, history.id, **params)
    assert answer.status_code == status and answer.json()["messages"]


def test_unknown_campaign(stack: dict[str, Any]) -> None:
    assert get_report(stack, "no-such-campaign").status_code == 404


def test_default_range_is_the_last_seven_days_with_live_beacons(stack: dict[str, Any]) -> None:
    campaign = fresh_campaign(stack, "product")
    post_event(stack, "click", campaign.ad_ids[0], {"session_id": "s-live"})
    report = get_report(stack, campaign.id).json()
    assert len(report["days"]) == 7
    assert report["days"][-1]["date"] == datetime.now(timezone.utc).date().isoformat()
    assert report["totals"]["clicks"] == 1
    # An order placed now is on today's line (one dated in the future is refused, never reported).
    assert post_conversion(stack, order(campaign, ("SKU-001", 1, 12.5), session="s-live")).status_code == 202

    def todays_line() -> dict[str, Any] | None:
        day = get_report(stack, campaign.id).json()["days"][-1]
        return day if day["conversions"] else None

    today = poll(todays_line, what="the conversion on today's report")
    assert (today["date"], today["attributed_revenue"]) == (datetime.now(timezone.utc).date().isoformat(), 12.5)


def test_admin_cli_apply_list_report(stack: dict[str, Any], history, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    suffix = history.id.rsplit("-", 1)[1]
    campaign_file = tmp_path / "campaigns.yaml"
    campaign_file.write_text(f"""
campaigns:
  - id: cli-{suffix}
    publisher_id: pub-cli
    type: video
    skus: ["12221"]
    ad_ids: ["ad-cli-{suffix}-1", "ad-cli-{suffix}-2"]
""")
    assert admin.main(["campaigns", "apply", "-f", str(campaign_file)]) == 0
    assert f"applied cli-{suffix} (video, publisher pub-cli): 2 ads, 1 SKUs" in capsys.readouterr().out
    assert post_event(stack, "view", f"ad-cli-{suffix}-2", {"session_id": "s"}).status_code == 202

    campaign_file.write_text(campaign_file.read_text().replace(f', "ad-cli-{suffix}-2"', ""))
    assert admin.main(["campaigns", "apply", "-f", str(campaign_file)]) == 0
    assert f"removed ads ad-cli-{suffix}-2" in capsys.readouterr().out
    assert CampaignStore(db(stack)).ad(f"ad-cli-{suffix}-2") is None

    assert admin.main(["campaigns", "list"]) == 0
    assert f"cli-{suffix}" in capsys.readouterr().out
    assert admin.main(["campaigns", "report", history.id, "--from", "2026-02-01", "--to", "2026-02-02"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].split() == ["total", "3", "2", "1", "2", "21.30"]


def test_admin_cli_report_as_csv_json_and_a_chart(stack: dict[str, Any], history, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    days = ["--from", "2026-01-30", "--to", "2026-02-03"]
    api = get_report(stack, history.id, **{"from": "2026-01-30", "to": "2026-02-03"}).json()
    assert admin.main(["campaigns", "report", history.id, *days, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == api

    assert admin.main(["campaigns", "report", history.id, *days, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [{"date": r["date"], "impressions": int(r["impressions"]), "views": int(r["views"]),
             "clicks": int(r["clicks"]), "conversions": int(r["conversions"]),
             "attributed_revenue": float(r["attributed_revenue"])} for r in rows] == api["days"]

    chart = tmp_path / "report.png"
    assert admin.main(["campaigns", "report", history.id, *days, "--chart", str(chart)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split() == ["total", "3", "2", "1", "2", "21.30"]
    data = chart.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1000, 600) and 20_000 < len(data) < 500_000


def test_admin_cli_warns_about_skus_two_campaigns_of_one_publisher_share(
        stack: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suffix = uuid.uuid4().hex[:8]
    campaign_file = tmp_path / "overlap.yaml"
    campaign_file.write_text(f"""
campaigns:
  - {{id: brand-a-{suffix}, publisher_id: pub-{suffix}, type: product, skus: [S1, S2], ad_ids: [ad-a-{suffix}]}}
  - {{id: brand-b-{suffix}, publisher_id: pub-{suffix}, type: display, skus: [S2], ad_ids: [ad-b-{suffix}]}}
  - {{id: brand-c-{suffix}, publisher_id: other-{suffix}, type: video, skus: [S1], ad_ids: [ad-c-{suffix}]}}
""")
    assert admin.main(["campaigns", "apply", "-f", str(campaign_file)]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: publisher pub-{suffix}: SKU 'S2' is in campaigns brand-a-{suffix}, "
                        f"brand-b-{suffix}; each sale of it is credited to the one the buyer touched last"]


def test_admin_cli_refuses_an_invalid_file_and_an_ad_of_another_campaign(
        stack: dict[str, Any], history, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("campaigns:\n  - id: x\n    type: banner\n")
    assert admin.main(["campaigns", "apply", "-f", str(bad)]) == 1
    assert "type: must be one of product, display, video" in capsys.readouterr().err
    stolen = tmp_path / "stolen.yaml"
    stolen.write_text(f"campaigns:\n  - id: thief\n    publisher_id: p\n    type: product\n"
                      f"    skus: [A]\n    ad_ids: [{history.ad_ids[0]}]\n")
    assert admin.main(["campaigns", "apply", "-f", str(stolen)]) == 1
    assert f"already belongs to campaign '{history.id}'" in capsys.readouterr().err


@pytest.mark.parametrize("campaign_id", ["__x__", "__name__", "a" * 1600])
def test_an_id_no_campaign_can_have_is_an_unknown_campaign(stack: dict[str, Any], campaign_id: str) -> None:
    # Firestore refuses such document ids (reserved, or too long): they are never looked up.
    answer = get_report(stack, campaign_id)
    assert (answer.status_code, answer.json()) == (404, {"messages": [f"unknown campaign {campaign_id!r}"]})


def test_the_default_from_never_reaches_before_the_first_day(stack: dict[str, Any], history) -> None:
    answer = get_report(stack, history.id, to="0001-01-02")
    assert answer.status_code == 200, answer.text
    assert [day["date"] for day in answer.json()["days"]] == ["0001-01-01", "0001-01-02"]
