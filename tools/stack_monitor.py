"""The monitor API in the local stack.

``function_env`` (an ENV_STEPS entry of tools/stack.py) makes instances reread the registrations
every second (production: 30 s), so an ``admin monitor ... apply`` shows at once. ``setup`` (a
SETUP_STEPS entry) registers the example custom attributes and event type of examples/monitor/,
so the API can be tried right after ``make up``; privacy and rules stay off until applied.
"""

from __future__ import annotations

from typing import Any

from google.cloud import firestore

from tools.admin_commands.monitor import apply_file
from tools.stack import REPO_ROOT, LocalStack

EXAMPLES = REPO_ROOT / "examples" / "monitor"


def function_env(stack: LocalStack) -> dict[str, str]:
    # What the caller (the tests) set explicitly wins.
    return {} if "MONITOR_CONFIG_CACHE_SECONDS" in stack.function_env else {"MONITOR_CONFIG_CACHE_SECONDS": "1"}


def setup(stack: LocalStack) -> dict[str, Any]:
    # A client of its own: this process may have run another stack before (tests).
    db = firestore.Client(project=stack.project_id)
    apply_file("attributes", EXAMPLES / "attributes.yaml", db, out=lambda _: None)
    apply_file("event-types", EXAMPLES / "event-types.yaml", db, out=lambda _: None)
    return {}
