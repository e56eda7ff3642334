"""``keys``: API keys of platform apps (create, scope, list, revoke). Only hashes are stored.

    keys create --name my-app                          # ingest and monitor; no reports
    keys create --name retailer-x --publisher pub-x    # also reads pub-x's campaign reports
    keys create --name ops --admin                     # also reads every publisher's reports
    keys scope <key id> --publisher pub-x --publisher pub-y   # change an existing key's scope
"""

from __future__ import annotations

import argparse

from shared.platform.api_keys import ApiKeyStore, Scope
from shared.platform.clients import firestore_client


def register(groups: argparse._SubParsersAction) -> None:
    keys = groups.add_parser("keys", help="API keys of platform apps")
    commands = keys.add_subparsers(dest="command", required=True)

    create = commands.add_parser("create", help="create a key; it is printed once and never stored")
    create.add_argument("--name", required=True, help="the app the key is for")
    _scope_arguments(create)
    create.set_defaults(run=_create)

    scope = commands.add_parser("scope", help="set which publishers' campaign reports a key reads")
    scope.add_argument("key_id")
    _scope_arguments(scope, none_option=True)
    scope.set_defaults(run=_scope)

    commands.add_parser("list", help="list keys (ids, names, state, scope; never the keys)").set_defaults(run=_list)

    revoke = commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    revoke.set_defaults(run=_revoke)


def _scope_arguments(parser: argparse.ArgumentParser, none_option: bool = False) -> None:
    choice = parser.add_mutually_exclusive_group(required=none_option)
    choice.add_argument("--publisher", action="append", dest="publishers", metavar="PUBLISHER_ID",
                        help="read this publisher's campaign reports (repeat for several)")
    choice.add_argument("--admin", action="store_true", help="read every publisher's campaign reports")
    if none_option:
        choice.add_argument("--none", action="store_true", help="read no campaign reports")


def _scope_of(args: argparse.Namespace) -> Scope:
    return Scope(admin=args.admin, publishers=tuple(dict.fromkeys(args.publishers or ())))


def _create(args: argparse.Namespace) -> int:
    key, record = ApiKeyStore(firestore_client()).create(args.name, _scope_of(args))
    print(f"created key {record.key_id} for {record.name!r} ({record.scope.describe()}); "
          "store it now, it is not shown again:")
    print(key)
    return 0


def _scope(args: argparse.Namespace) -> int:
    scope = _scope_of(args)
    if not ApiKeyStore(firestore_client()).set_scope(args.key_id, scope):
        print(f"error: no key with id {args.key_id}")
        return 1
    print(f"key {args.key_id}: {scope.describe()}")
    return 0


def _list(args: argparse.Namespace) -> int:
    records = sorted(ApiKeyStore(firestore_client()).list(), key=lambda r: r.created_at)
    print(f"{'KEY ID':<14} {'STATE':<8} {'CREATED':<26} {'NAME':<24} REPORTS")
    for r in records:
        state = "revoked" if r.revoked_at else "active"
        print(f"{r.key_id:<14} {state:<8} {r.created_at.isoformat(timespec='seconds'):<26} {r.name:<24} "
              f"{r.scope.describe()}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    if not ApiKeyStore(firestore_client()).revoke(args.key_id):
        print(f"error: no key with id {args.key_id}")
        return 1
    print(f"revoked key {args.key_id}")
    return 0
