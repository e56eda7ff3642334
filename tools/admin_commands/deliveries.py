"""``deliveries``: what the delivery log says (docs/forwarding.md, "The delivery log").

    deliveries summary [--partner P] [--since 1h]   # per partner and destination: counts, last error
    deliveries show <eventId>                       # every entry of one event

``summary`` counts, per destination of each registered partner (and ``*<kind>``, the partner as a
whole, when it was held), the entries delivered, retrying, failed (an event too large to keep,
Pub/Sub retries it) and held (dead-lettered with a reason: ``deadletters list`` shows them)
whose last attempt (a hold: when it was held) falls in the window. Counts are server-side
aggregations, so a long window costs a few queries, not a read of every entry. ``show`` prints
the last attempt of each destination, not every attempt: the log keeps one entry per destination,
with ``attempts`` counting them.
"""

from __future__ import annotations

import argparse
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from shared.forwarding.delivery_log import DEAD_LETTERED, DELIVERED, FAILED, RETRYING, partner_target
from shared.forwarding.partners import KINDS, PartnerRegistry
from shared.platform.clients import firestore_client
from shared.platform.clock import utc_now
from tools.admin_commands.delivery_stats import destination_counts, event_entries

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
QUERY_THREADS = 8
COLUMNS = ((DELIVERED, "DELIVERED"), (RETRYING, "RETRYING"), (FAILED, "FAILED"), (DEAD_LETTERED, "HELD"))


def duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``1h``, ``7d``."""
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 30m, 1h or 7d")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def register(groups: argparse._SubParsersAction) -> None:
    deliveries = groups.add_parser("deliveries", help="the delivery log: per-destination summary, one event")
    commands = deliveries.add_subparsers(dest="command", required=True)
    summary = commands.add_parser("summary", help="per partner and destination: delivered, retrying, "
                                                  "failed, held, and the last error")
    summary.add_argument("--partner", help="only this partner (whitelabel)")
    summary.add_argument("--since", type=duration, default=timedelta(hours=24),
                         help="window, e.g. 30m, 1h, 7d (default: 24h)")
    summary.set_defaults(run=_summary)
    show = commands.add_parser("show", help="every destination's entry of one event")
    show.add_argument("event_id")
    show.set_defaults(run=_show)


def _summary(args: argparse.Namespace) -> int:
    db = firestore_client()
    registry = PartnerRegistry(db)
    if args.partner:
        partner = registry.get(args.partner)
        if partner is None:
            print(f"error: no partner {args.partner!r}", file=sys.stderr)
            return 1
        partners = [partner]
    else:
        partners = sorted(registry.list(), key=lambda p: p.whitelabel)
    since = utc_now() - args.since
    print(f"since {since.isoformat(timespec='seconds')}")
    print(f"{'PARTNER':<24} {'DESTINATION':<20} " + " ".join(f"{title:>9}" for _, title in COLUMNS)
          + "  LAST ERROR")
    # (partner, destination, shown even when empty): the partner-as-a-whole rows only when not.
    targets = [(p.whitelabel, d.id, True) for p in partners for d in p.destinations] + [
        (p.whitelabel, partner_target(kind), False) for p in partners for kind in KINDS]
    targets.sort(key=lambda target: (target[0], not target[2]))
    # About seven small queries per row: run rows side by side, printed in order.
    with ThreadPoolExecutor(max_workers=QUERY_THREADS) as pool:
        rows = pool.map(lambda t: destination_counts(db, t[0], t[1], since), targets)
        for (whitelabel, target, always), row in zip(targets, rows):
            if not always and not any(row.counts.values()):
                continue
            error = f"{row.last_error_at.isoformat(timespec='seconds')} {row.last_error}" if row.last_error else "-"
            print(f"{whitelabel:<24} {target:<20} "
                  + " ".join(f"{row.counts[status]:>9}" for status, _ in COLUMNS) + f"  {error}")
    return 0


def _time(value: Any) -> str:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else "-"


def _show(args: argparse.Namespace) -> int:
    entries = event_entries(firestore_client(), args.event_id)
    if not entries:
        print(f"error: the delivery log has no entry for event {args.event_id!r} "
              "(never forwarded, or older than DELIVERY_LOG_DAYS)", file=sys.stderr)
        return 1
    print(f"{'DESTINATION':<20} {'PARTNER':<20} {'KIND':<8} {'STATUS':<14} {'ATTEMPTS':>8} "
          f"{'FIRST ATTEMPT':<26} {'LAST ATTEMPT':<26} {'NEXT ATTEMPT':<26} LAST RESULT / REASON")
    for document_id, entry in entries:
        if document_id == args.event_id:  # the content claim, not a destination
            continue
        target = entry.get("destinationId", "?")
        if "~" in document_id and not target.startswith("*"):
            target += " (conflict)"  # this event reused an eventId another content owns
        result = entry.get("lastResult") or "-"
        if entry.get("reason"):
            result += f" | held: {entry['reason']}: {entry.get('detail', '')}"
        if entry.get("replayedAt"):
            result += f" | replayed {_time(entry['replayedAt'])}" + (
                f" as {entry['replayedAs']}" if entry.get("replayedAs") else "")
        print(f"{target:<20} {entry.get('partner') or '?':<20} {entry.get('kind', '?'):<8} "
              f"{entry.get('status', '?'):<14} {entry.get('attempts', 0):>8} {_time(entry.get('firstAttemptAt')):<26} "
              f"{_time(entry.get('lastAttemptAt')):<26} {_time(entry.get('nextAttemptAt')):<26} {result}")
    claim = dict(entries).get(args.event_id)
    if claim:
        print(f"content {claim.get('contentHash', '?')[:16]}… claimed by {claim.get('claimedBy', '?')} "
              f"at {_time(claim.get('claimedAt'))}")
    return 0
