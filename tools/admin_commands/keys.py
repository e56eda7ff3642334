"""``keys``: API keys of platform apps (create, list, revoke). Only hashes are stored."""

from __future__ import annotations

import argparse

from shared.platform.api_keys import ApiKeyStore
from shared.platform.clients import firestore_client


def register(groups: argparse._SubParsersAction) -> None:
    keys = groups.add_parser("keys", help="API keys of platform apps")
    commands = keys.add_subparsers(dest="command", required=True)

    create = commands.add_parser("create", help="create a key; it is printed once and never stored")
    create.add_argument("--name", required=True, help="the app the key is for")
    create.set_defaults(run=_create)

    commands.add_parser("list", help="list keys (ids, names, state; never the keys)").set_defaults(run=_list)

    revoke = commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    revoke.set_defaults(run=_revoke)


def _create(args: argparse.Namespace) -> int:
    key, record = ApiKeyStore(firestore_client()).create(args.name)
    print(f"created key {record.key_id} for {record.name!r}; store it now, it is not shown again:")
    print(key)
    return 0


def _list(args: argparse.Namespace) -> int:
    records = sorted(ApiKeyStore(firestore_client()).list(), key=lambda r: r.created_at)
    print(f"{'KEY ID':<14} {'STATE':<8} {'CREATED':<26} NAME")
    for r in records:
        state = "revoked" if r.revoked_at else "active"
        print(f"{r.key_id:<14} {state:<8} {r.created_at.isoformat(timespec='seconds'):<26} {r.name}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    if not ApiKeyStore(firestore_client()).revoke(args.key_id):
        print(f"error: no key with id {args.key_id}")
        return 1
    print(f"revoked key {args.key_id}")
    return 0
