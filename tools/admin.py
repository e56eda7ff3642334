"""The operators' admin CLI.

    python -m tools.admin --local keys create --name my-app    # against the running local stack
    python -m tools.admin keys list                              # against GOOGLE_CLOUD_PROJECT

``--local`` reads ``.stack/stack.json`` (written by ``make up``) and talks to its emulators;
without it the CLI uses the project in GOOGLE_CLOUD_PROJECT with Application Default Credentials.
Each concept adds its command group as a module in ``tools/admin_commands`` (COMMAND_GROUPS).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

from tools.stack import DEFAULT_STATE_DIR

COMMAND_GROUPS = ["tools.admin_commands.keys", "tools.admin_commands.monitor", "tools.admin_commands.campaigns",
                  "tools.admin_commands.partners", "tools.admin_commands.deadletters",
                  "tools.admin_commands.deliveries"]


def use_local_stack(stack_file: Path) -> None:
    if not stack_file.exists():
        raise SystemExit(f"error: {stack_file} not found: start the local stack with `make up` first")
    info = json.loads(stack_file.read_text())
    os.environ.update({
        "GOOGLE_CLOUD_PROJECT": info["project_id"],
        "PUBSUB_EMULATOR_HOST": info["emulators"]["pubsub"],
        "FIRESTORE_EMULATOR_HOST": info["emulators"]["firestore"],
        "STORAGE_EMULATOR_HOST": info["emulators"]["storage"],
        # The local stack's webhooks go to its sink on loopback (a development-only setting).
        "WEBHOOK_ALLOW_LOOPBACK": "true",
    })


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.admin", description=__doc__.split("\n")[0])
    parser.add_argument("--local", action="store_true", help="use the local stack in .stack/stack.json")
    parser.add_argument("--stack-file", type=Path, default=DEFAULT_STATE_DIR / "stack.json",
                        help="stack.json of the local stack to use with --local")
    groups = parser.add_subparsers(dest="group", required=True)
    for module_name in COMMAND_GROUPS:
        importlib.import_module(module_name).register(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.local:
        use_local_stack(args.stack_file)
    if not os.environ.get("GOOGLE_CLOUD_PROJECT"):
        print("error: set GOOGLE_CLOUD_PROJECT, or pass --local to use the local stack", file=sys.stderr)
        return 2
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
