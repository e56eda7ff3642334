"""``campaigns``: the retail-media campaign registry and its reports.

    campaigns apply -f examples/campaigns/demo.yaml   # create or replace the file's campaigns
    campaigns list                                    # every campaign, its ads and SKUs
    campaigns report <campaign id> [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--format table|csv|json]
                                   [--chart FILE.png]

``apply`` validates the whole file first and writes nothing if anything is wrong; an ad a
campaign no longer lists is removed. It warns about SKUs that campaigns of one publisher share
(each sale of such a SKU is credited to one of them only: the one the buyer touched last). The
beacon sees a new ad at once, a changed or removed one within CAMPAIGN_CACHE_SECONDS (30 s).

``report`` prints a table with a total line; ``--format json`` prints what the reports API answers
and ``--format csv`` one row per day for a spreadsheet; ``--chart`` writes a PNG of the daily
series (tools/admin_commands/report_chart.py).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any, Callable

import yaml
from google.cloud import firestore

from shared.platform.clients import firestore_client
from shared.platform.clock import utc_now
from shared.retail_media.campaigns import (
    Campaign,
    CampaignFileError,
    CampaignStore,
    parse_campaigns,
    shared_skus,
)
from shared.retail_media.reports import CampaignReports, report_json
from shared.retail_media.reports_api import DEFAULT_DAYS

REPORT_COLUMNS = ["date", "impressions", "views", "clicks", "conversions", "attributed_revenue"]


def register(groups: argparse._SubParsersAction) -> None:
    campaigns = groups.add_parser("campaigns", help="retail-media campaigns: apply, list, report")
    commands = campaigns.add_subparsers(dest="command", required=True)
    apply = commands.add_parser("apply", help="create or replace the campaigns of a YAML file")
    apply.add_argument("-f", "--file", type=Path, required=True)
    apply.set_defaults(run=_apply)
    commands.add_parser("list", help="list campaigns").set_defaults(run=_list)
    report = commands.add_parser("report", help="per-day impressions, views, clicks, conversions, revenue")
    report.add_argument("campaign_id")
    report.add_argument("--from", dest="first", type=date.fromisoformat, help="first day (UTC), YYYY-MM-DD")
    report.add_argument("--to", dest="last", type=date.fromisoformat, help="last day (UTC), default today")
    report.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="table (default), csv (one row per day) or json (as the reports API answers)")
    report.add_argument("--chart", type=Path, metavar="FILE.png", help="also write a PNG chart of the daily series")
    report.set_defaults(run=_report)


def apply_file(path: Path, db: firestore.Client, out: Callable[[str], None] = print,
               warn: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> list[Campaign]:
    """Validate every campaign of ``path``, then register them; raises CampaignFileError. Warns
    about each SKU that one of them shares with another campaign of its publisher."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CampaignFileError(f"{path}: not valid YAML: {exc}")
    campaigns = parse_campaigns(document)
    store = CampaignStore(db)
    for campaign in campaigns:
        removed = store.apply(campaign)
        out(f"applied {campaign.id} ({campaign.type}, publisher {campaign.publisher_id}): "
            f"{len(campaign.ad_ids)} ads, {len(campaign.skus)} SKUs"
            + (f"; removed ads {', '.join(removed)}" if removed else ""))
    applied = {c.id for c in campaigns}
    for publisher_id, sku, campaign_ids in shared_skus(store.list()):
        if applied & set(campaign_ids):
            warn(f"warning: publisher {publisher_id}: SKU {sku!r} is in campaigns {', '.join(campaign_ids)}; "
                 "each sale of it is credited to the one the buyer touched last")
    return campaigns


def _apply(args: argparse.Namespace) -> int:
    try:
        apply_file(args.file, firestore_client())
    except (CampaignFileError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _list(args: argparse.Namespace) -> int:
    print(f"{'CAMPAIGN':<20} {'TYPE':<8} {'PUBLISHER':<18} {'ADS':<32} SKUS")
    for c in CampaignStore(firestore_client()).list():
        print(f"{c.id:<20} {c.type:<8} {c.publisher_id:<18} {','.join(c.ad_ids):<32} {','.join(c.skus)}")
    return 0


def _report(args: argparse.Namespace) -> int:
    db = firestore_client()
    campaign = CampaignStore(db).get(args.campaign_id)
    if campaign is None:
        print(f"error: no campaign {args.campaign_id!r}", file=sys.stderr)
        return 1
    last = args.last or utc_now().date()
    first = args.first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        print("error: --from is after --to", file=sys.stderr)
        return 2
    report = report_json(campaign, first, last, CampaignReports(db).daily(campaign.id, first, last))
    if args.format == "json":
        print(json.dumps(report, indent=2))
    elif args.format == "csv":
        write_csv(report, sys.stdout)
    else:
        print_table(report)
    if args.chart:
        from tools.admin_commands.report_chart import write_chart  # matplotlib: imported only when drawing

        write_chart(report, args.chart)
        print(f"chart written to {args.chart}", file=sys.stderr)
    return 0


def print_table(report: dict[str, Any]) -> None:
    print(f"campaign {report['campaign_id']} ({report['type']}, publisher {report['publisher_id']}) "
          f"{report['from']} .. {report['to']}")
    print(f"{'DATE':<12} {'IMPRESSIONS':>11} {'VIEWS':>7} {'CLICKS':>7} {'CONVERSIONS':>11} {'REVENUE':>12}")
    for row in [*report["days"], {"date": "total", **report["totals"]}]:
        print(f"{row['date']:<12} {row['impressions']:>11} {row['views']:>7} {row['clicks']:>7} "
              f"{row['conversions']:>11} {row['attributed_revenue']:>12.2f}")


def write_csv(report: dict[str, Any], stream: IO[str]) -> None:
    """One row per day, the API's field names as the header; no total row (a spreadsheet sums)."""
    writer = csv.DictWriter(stream, fieldnames=REPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(report["days"])
