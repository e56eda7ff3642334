"""Retail media in the local stack: the storefront origin the beacon allows, the demo campaigns.

``function_env`` (an ENV_STEPS entry of tools/stack.py) sets the beacon's allowed browser origin
(production sets the publishers' storefront origins) and a 1 s campaign cache, so a
``campaigns apply`` shows at once. ``setup`` (a SETUP_STEPS entry) loads
examples/campaigns/demo.yaml, one campaign of each type, and lists them in stack.json under
``"demo_campaigns"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from google.cloud import firestore

from tools.admin_commands.campaigns import apply_file
from tools.stack import REPO_ROOT, LocalStack

DEMO_ORIGIN = "http://localhost:8000"
DEMO_CAMPAIGNS = REPO_ROOT / "examples" / "campaigns" / "demo.yaml"


def function_env(stack: LocalStack) -> dict[str, str]:
    local = {"BEACON_ALLOWED_ORIGINS": DEMO_ORIGIN, "CAMPAIGN_CACHE_SECONDS": "1"}
    # What the caller (the tests) set explicitly wins.
    return {name: value for name, value in local.items() if name not in stack.function_env}


def setup(stack: LocalStack, path: Path = DEMO_CAMPAIGNS) -> dict[str, Any]:
    # A client of its own: this process may have run another stack before (tests).
    campaigns = apply_file(path, firestore.Client(project=stack.project_id), out=lambda _: None)
    return {"demo_campaigns": [c.to_info() for c in campaigns]}
