"""``partners``: the partner registry (apply a YAML file, list, show, disable, enable, delete).

``apply -f FILE`` is idempotent: the file is the partners' whole configuration, so applying it
again changes nothing, and a partner is enabled unless the file says ``disabled: true``. A file
with any invalid partner is refused whole, with one line per problem; a partner without
destinations is accepted with a warning (its events are held until it has one). Webhook URLs pass
the SSRF guard (https, public addresses) at registration; loopback only with --local.

``show`` ends with each destination's health, as YAML comments: ``ok``, ``failing`` or
``UNHEALTHY`` (failing for longer than DESTINATION_UNHEALTHY_AFTER_SECONDS, default 3600), since
when, the last error, how many deliveries are retrying and held. A failing destination is never
disabled automatically: the platform keeps retrying it (docs/forwarding.md, "An endpoint that keeps
failing"), and the operator decides with ``disable``.

``disable`` pauses a partner: its events are held (reason ``partner_disabled``) and ``enable``
turns it on again and replays them, with one progress line per event. ``delete`` marks it
deleted: its events, and its retries still pending, are held (``partner_deleted``); applying a
file with it registers it again.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from google.cloud import firestore

from shared.events.contract import known_event_types
from shared.forwarding.destinations.webhook_guard import check_webhook_url
from shared.forwarding.holds import PARTNER_DISABLED
from shared.forwarding.partners import (
    InvalidPartnerConfig,
    Partner,
    PartnerRegistry,
    parse_partner,
)
from shared.platform.clients import firestore_client
from shared.platform.clock import utc_now
from tools.admin_commands import deadletters
from tools.admin_commands.delivery_stats import destination_health

# A destination failing for longer than this is reported UNHEALTHY by `partners show`: by then
# the retry policy has reached its longest wait (FORWARD_MAX_BACKOFF_SECONDS) several times over.
DEFAULT_UNHEALTHY_AFTER_SECONDS = 3600


def register(groups: argparse._SubParsersAction) -> None:
    partners = groups.add_parser("partners", help="partners and their destinations (webhook, MongoDB, Cloud Storage)")
    commands = partners.add_subparsers(dest="command", required=True)

    apply = commands.add_parser("apply", help="create or update the partners of a YAML file (idempotent)")
    apply.add_argument("-f", "--file", type=Path, required=True, help="YAML file (see examples/partners/)")
    apply.add_argument("--dry-run", action="store_true", help="validate only; write nothing")
    apply.set_defaults(run=_apply)

    commands.add_parser("list", help="list partners and their destinations").set_defaults(run=_list)

    show = commands.add_parser("show", help="one partner's stored configuration as YAML, and its destinations' "
                                            "health (UNHEALTHY: failing longer than "
                                            "DESTINATION_UNHEALTHY_AFTER_SECONDS)")
    show.add_argument("whitelabel")
    show.set_defaults(run=_show)

    for name, summary, run in (
            ("disable", "pause a partner: its events are held until it is enabled", _disable),
            ("enable", "enable a partner and deliver what was held while it was disabled", _enable),
            ("delete", "delete a partner: its undelivered events are held", _delete)):
        change = commands.add_parser(name, help=summary)
        change.add_argument("whitelabel")
        change.set_defaults(run=run)


def partner_entries(document: Any) -> list[Any]:
    """A file holds one partner (a mapping with ``whitelabel``) or ``partners:``, a list of them."""
    if isinstance(document, dict) and "partners" in document and "whitelabel" not in document:
        entries = document["partners"]
        return entries if isinstance(entries, list) else [entries]
    return [document]


def load_partners(path: Path) -> tuple[list[Partner], list[str]]:
    """The partners of a file, and every problem found in it."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return [], [f"{path}: cannot read it as YAML ({exc})"]
    allow_loopback = os.environ.get("WEBHOOK_ALLOW_LOOPBACK", "").lower() == "true"
    known = known_event_types()
    partners, problems = [], []
    for entry in partner_entries(document):
        try:
            partners.append(parse_partner(entry, lambda url: check_webhook_url(url, allow_loopback=allow_loopback),
                                          known))
        except InvalidPartnerConfig as exc:
            problems.extend(exc.problems)
    whitelabels = [p.whitelabel for p in partners]
    problems.extend(f"partner {w!r}: appears more than once in the file"
                    for w in sorted({w for w in whitelabels if whitelabels.count(w) > 1}))
    return partners, problems


def _apply(args: argparse.Namespace) -> int:
    partners, problems = load_partners(args.file)
    if problems:
        print(f"error: {args.file} was not applied; fix these problems:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    for partner in partners:
        if not partner.destinations:
            print(f"warning: partner {partner.whitelabel!r} has no destinations: its events are held "
                  f"(no_destinations) until it has one", file=sys.stderr)
    if args.dry_run:
        print(f"{args.file}: {len(partners)} partner(s) valid; nothing written (--dry-run)")
        return 0
    registry = PartnerRegistry(firestore_client())
    for partner in partners:
        before = registry.get(partner.whitelabel)
        outcome = registry.apply(partner)
        kinds = ", ".join(f"{d.kind}:{d.id}" for d in partner.destinations) or "no destinations"
        print(f"{partner.whitelabel}: {outcome} ({kinds}){' [disabled]' if partner.disabled else ''}")
        if outcome != "unchanged" and partner.receiving and (before is None or not before.receiving):
            print(f"  events held while it was {_state(before)}: python -m tools.admin deadletters replay "
                  f"--partner {partner.whitelabel}")
    return 0


def _state(partner: Partner | None) -> str:
    if partner is None:
        return "unknown"
    if partner.deleted:
        return "deleted"
    return "disabled" if partner.disabled else "without destinations"


def _list(args: argparse.Namespace) -> int:
    partners = sorted(PartnerRegistry(firestore_client()).list(), key=lambda p: p.whitelabel)
    print(f"{'WHITELABEL':<28} {'STATE':<9} DESTINATIONS")
    for p in partners:
        destinations = " ".join(f"{d.kind}:{d.id}" for d in p.destinations) or "-"
        state = "deleted" if p.deleted else "disabled" if p.disabled else "enabled"
        print(f"{p.whitelabel:<28} {state:<9} {destinations}")
    return 0


def _show(args: argparse.Namespace) -> int:
    db = firestore_client()
    partner = PartnerRegistry(db).get(args.whitelabel)
    if partner is None:
        print(f"error: no partner {args.whitelabel!r}", file=sys.stderr)
        return 1
    print(yaml.safe_dump(partner.to_document(), sort_keys=False, allow_unicode=True), end="")
    # As YAML comments, so that the output can still be saved and applied.
    for line in health_lines(db, partner, unhealthy_after_seconds()):
        print(f"# {line}")
    return 0


def unhealthy_after_seconds() -> float:
    value = os.environ.get("DESTINATION_UNHEALTHY_AFTER_SECONDS", str(DEFAULT_UNHEALTHY_AFTER_SECONDS))
    try:
        return float(value)
    except ValueError:
        raise SystemExit(f"error: DESTINATION_UNHEALTHY_AFTER_SECONDS must be a number of seconds, not {value!r}")


def health_lines(db: firestore.Client, partner: Partner, after_seconds: float) -> list[str]:
    """One line per destination: UNHEALTHY when it has been failing for longer than
    ``after_seconds``, failing when it fails for less, ok otherwise."""
    now = utc_now()
    lines = [f"health (unhealthy: failing for more than {after_seconds:g} s, DESTINATION_UNHEALTHY_AFTER_SECONDS)"]
    for destination in partner.destinations:
        health = destination_health(db, partner.whitelabel, destination.id)
        backlog = f"{health.retrying} retrying, {health.held} held"
        delivered = (f"last delivered {health.last_delivered_at.isoformat(timespec='seconds')}"
                     if health.last_delivered_at else "never delivered")
        if health.failing_since is None:
            lines.append(f"{destination.id}: ok: {backlog}; {delivered}")
            continue
        state = "UNHEALTHY" if health.unhealthy(now, after_seconds) else "failing"
        lines.append(f"{destination.id}: {state} since {health.failing_since.isoformat(timespec='seconds')} "
                     f"({int((now - health.failing_since).total_seconds())} s): {backlog}; {delivered}; "
                     f"last error: {health.last_error or '?'}")
    return lines


def _disable(args: argparse.Namespace) -> int:
    if not PartnerRegistry(firestore_client()).disable(args.whitelabel):
        print(f"error: no partner {args.whitelabel!r}", file=sys.stderr)
        return 1
    print(f"disabled {args.whitelabel}: its events are held (partner_disabled) until "
          f"`partners enable {args.whitelabel}`")
    return 0


def _enable(args: argparse.Namespace) -> int:
    if not PartnerRegistry(firestore_client()).enable(args.whitelabel):
        print(f"error: no partner {args.whitelabel!r}", file=sys.stderr)
        return 1
    print(f"enabled {args.whitelabel}; delivering the events held while it was disabled:", flush=True)
    return deadletters.replay(function=None, partner=args.whitelabel, reasons={PARTNER_DISABLED},
                              fresh_event_ids=False)


def _delete(args: argparse.Namespace) -> int:
    if not PartnerRegistry(firestore_client()).delete(args.whitelabel):
        print(f"error: no partner {args.whitelabel!r}", file=sys.stderr)
        return 1
    print(f"deleted {args.whitelabel}: its events and pending retries are held (partner_deleted); applying a file "
          "with it registers it again")
    return 0
