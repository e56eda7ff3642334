"""``monitor``: what the monitor API accepts (custom attributes, event types, rules, privacy)
and a look at a tracked user.

    monitor attributes apply -f examples/monitor/attributes.yaml [--prune]
    monitor event-types apply -f examples/monitor/event-types.yaml [--prune]
    monitor rules apply -f examples/monitor/rules.yaml
    monitor privacy apply -f examples/monitor/privacy.yaml
    monitor show                      # everything registered
    monitor users show <trackId>      # the record a trackId resolves to

``apply`` creates or replaces what the file lists; ``--prune`` also removes what it does not.
Running instances see a change within MONITOR_CONFIG_CACHE_SECONDS (30 s).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

import yaml
from google.cloud import firestore

from shared.monitor import config as monitor_config
from shared.monitor.store import UserStore
from shared.platform.clients import firestore_client


def register(groups: argparse._SubParsersAction) -> None:
    monitor = groups.add_parser("monitor", help="the monitor API: attributes, event types, rules, privacy, users")
    sections = monitor.add_subparsers(dest="section", required=True)
    for name, help_text, prunable in (
        ("attributes", "custom user attributes", True),
        ("event-types", "event types recorded by POST /v1/events/{id}/data", True),
        ("rules", "monitoring inclusion/exclusion rules", False),
        ("privacy", "the privacy setting and its terms", False),
    ):
        section = sections.add_parser(name, help=help_text)
        commands = section.add_subparsers(dest="command", required=True)
        apply = commands.add_parser("apply", help=f"register the {help_text} of a YAML file")
        apply.add_argument("-f", "--file", type=Path, required=True)
        if prunable:
            apply.add_argument("--prune", action="store_true", help="also remove what the file does not list")
        apply.set_defaults(run=_apply, section_name=name)
    sections.add_parser("show", help="print everything registered, as YAML").set_defaults(run=_show)
    users = sections.add_parser("users", help="tracked users")
    user_commands = users.add_subparsers(dest="command", required=True)
    show_user = user_commands.add_parser("show", help="print the user a trackId resolves to (after merges)")
    show_user.add_argument("track_id")
    show_user.set_defaults(run=_show_user)


def apply_file(section: str, path: Path, db: firestore.Client, prune: bool = False,
               out: Callable[[str], None] = print) -> None:
    """Validate and register one section of a YAML file; raises ConfigError naming the problem."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    store = monitor_config.ConfigStore(db)
    key = {"event-types": "eventTypes"}.get(section, section)
    if not isinstance(document, dict) or key not in document:
        raise monitor_config.ConfigError(f"{path}: expected a top-level `{key}:`")
    raw = document[key]
    if section == "attributes":
        items = monitor_config.parse_attributes(raw)
        removed = store.put_attributes(items, prune)
    elif section == "event-types":
        items = monitor_config.parse_event_types(raw)
        removed = store.put_event_types(items, prune)
    elif section == "rules":
        rules = monitor_config.parse_rules(raw)
        store.put_rules(rules)
        out(f"rules: {len(rules.include)} include, {len(rules.exclude)} exclude")
        return
    else:
        privacy = monitor_config.parse_privacy(raw)
        store.put_privacy(privacy)
        out(f"privacy: {'enabled' if privacy.enabled else 'disabled'}, terms {list(privacy.terms)}")
        return
    out(f"{section}: applied {', '.join(item.id for item in items) or 'nothing'}"
        + (f"; removed {', '.join(removed)}" if removed else ""))


def _apply(args: argparse.Namespace) -> int:
    try:
        apply_file(args.section_name, args.file, firestore_client(), getattr(args, "prune", False))
    except (OSError, yaml.YAMLError, monitor_config.ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _show(args: argparse.Namespace) -> int:
    current = monitor_config.ConfigStore(firestore_client()).load()
    document: dict[str, Any] = {
        "attributes": [a.to_dict() for a in current.attributes.values()],
        "eventTypes": [t.to_dict() for t in current.event_types.values()],
        "rules": current.rules.to_dict(),
        "privacy": current.privacy.to_dict(),
    }
    print(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), end="")
    return 0


def _show_user(args: argparse.Namespace) -> int:
    user = UserStore(firestore_client()).get(args.track_id)
    if user is None:
        print(f"error: no user has trackId {args.track_id}", file=sys.stderr)
        return 1
    if user["trackId"] != args.track_id:
        print(f"# {args.track_id} was merged into {user['trackId']}")
    print(json.dumps(user, indent=2, ensure_ascii=False, default=str))
    return 0
