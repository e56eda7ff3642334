"""A PNG chart of a campaign report's daily series, for a person to look at: counts (impressions,
views, clicks, conversions) above, attributed revenue below, one point per day.

matplotlib's object API (``Figure``) draws with its Agg renderer: no pyplot global state, no
display needed, the same output on a server as on a laptop.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

COUNTS = ("impressions", "views", "clicks", "conversions")


def write_chart(report: dict[str, Any], path: Path) -> None:
    days = [date.fromisoformat(d["date"]) for d in report["days"]]
    figure = Figure(figsize=(10, 6), dpi=100, layout="constrained")
    counts, revenue = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    for name in COUNTS:
        counts.plot(days, [d[name] for d in report["days"]], marker="o", markersize=3, label=name)
    # Clicks and conversions are often a hundredth of the impressions: a log scale keeps them
    # readable (symlog: linear below 1, so days with none still show, at 0).
    counts.set_yscale("symlog", linthresh=1)
    counts.set_ylim(bottom=0)
    counts.set_ylabel("events per day (log scale)")
    figure.legend(loc="outside lower center", ncols=len(COUNTS), frameon=False)
    counts.grid(alpha=0.3)
    revenue.bar(days, [d["attributed_revenue"] for d in report["days"]], color="tab:green", width=0.8)
    revenue.set_ylabel("attributed revenue")
    revenue.grid(axis="y", alpha=0.3)
    locator = AutoDateLocator()
    revenue.xaxis.set_major_locator(locator)
    revenue.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    figure.suptitle(f"campaign {report['campaign_id']} ({report['type']}, publisher {report['publisher_id']}): "
                    f"{report['from']} to {report['to']}")
    figure.savefig(path, format="png")
