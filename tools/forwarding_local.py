"""Forwarding in the local stack: its secrets and settings, the webhook sink, the demo partner.

``function_env`` (an ENV_STEPS entry of tools/stack.py) gives every local function what
production gets from Secret Manager, behind ``env:`` references: a fresh webhook signing secret
and the MongoDB connection string; and the development-only setting that lets webhooks reach
loopback, where the sink listens. ``register_demo_partner`` (a SETUP_STEPS entry) starts the
sink, creates the demo bucket and registers the demo partner, whitelabel ``company-xpto`` (the
spec's examples), with one destination of each kind.
"""

from __future__ import annotations

import sys
from typing import Any

from google.cloud import firestore

from shared.events.contract import known_event_types
from shared.forwarding.destinations.webhook_guard import check_webhook_url
from shared.forwarding.destinations.webhook_signing import new_secret
from shared.forwarding.partners import PartnerRegistry, parse_partner
from tools.stack import LocalStack, _http_ok, free_port

WEBHOOK_SECRET_ENV = "LOCAL_WEBHOOK_SECRET"
MONGODB_URI_ENV = "LOCAL_MONGODB_URI"
DEMO_WHITELABEL = "company-xpto"
DEMO_DATABASE = "fpass_demo"
DEMO_COLLECTION = "events"
DEMO_BUCKET = "company-xpto-events"
DEMO_PREFIX = "fpass/events"


def function_env(stack: LocalStack) -> dict[str, str]:
    return {
        "WEBHOOK_ALLOW_LOOPBACK": "true",
        WEBHOOK_SECRET_ENV: new_secret(),
        MONGODB_URI_ENV: stack.emulators["mongodb"],
        # The stack calls the re-driver every second (topology.yaml): one pass per call, where
        # Cloud Scheduler's once-a-minute call polls for most of the minute.
        "REDRIVE_RUN_SECONDS": "0",
    }


def local_partner(whitelabel: str, sink_url: str, *, bucket: str = DEMO_BUCKET, database: str = DEMO_DATABASE,
                  webhooks: dict[str, str] | None = None) -> dict[str, Any]:
    """A partner configuration for the local stack: webhooks on the sink (id -> path, by default
    ``demo-webhook`` at ``/hooks/<whitelabel>``), the local MongoDB, a bucket of fake-gcs-server."""
    paths = webhooks or {"demo-webhook": f"/hooks/{whitelabel}"}
    hooks = [{"id": hook_id, "kind": "webhook", "url": sink_url + path,
              "signingSecrets": [f"env:{WEBHOOK_SECRET_ENV}"], "timeoutSeconds": 5}
             for hook_id, path in paths.items()]
    return {
        "whitelabel": whitelabel,
        "name": f"{whitelabel} (local)",
        "destinations": hooks + [
            {"id": "demo-mongodb", "kind": "mongodb", "connectionString": f"env:{MONGODB_URI_ENV}",
             "database": database, "collection": DEMO_COLLECTION},
            {"id": "demo-gcs", "kind": "gcs", "bucket": bucket, "prefix": DEMO_PREFIX},
        ],
    }


def apply_local_partner(config: dict[str, Any], db: firestore.Client | None = None) -> None:
    """Register a partner in the Firestore of ``db`` (default: this process's client)."""
    from shared.platform.clients import firestore_client

    partner = parse_partner(config, lambda url: check_webhook_url(url, allow_loopback=True), known_event_types())
    PartnerRegistry(db or firestore_client()).apply(partner)


def create_bucket(project_id: str, name: str) -> None:
    from google.api_core.exceptions import Conflict
    from google.cloud import storage

    try:
        storage.Client(project=project_id).create_bucket(name)
    except Conflict:
        pass


def register_demo_partner(stack: LocalStack) -> dict[str, Any]:
    port = free_port()
    sink = stack._spawn("webhook-sink", [sys.executable, "-m", "tools.webhook_sink", "--port", str(port)],
                        {"WEBHOOK_SINK_SECRET": stack.function_env[WEBHOOK_SECRET_ENV], "PYTHONUNBUFFERED": "1"})
    sink_url = f"http://127.0.0.1:{port}"
    stack._await(sink, lambda: _http_ok(sink_url + "/health"))
    create_bucket(stack.project_id, DEMO_BUCKET)
    # A client of its own: this process may have run another stack before (tests), and the
    # process-wide client still points at that stack's Firestore.
    apply_local_partner(local_partner(DEMO_WHITELABEL, sink_url), firestore.Client(project=stack.project_id))
    hook_path = f"/hooks/{DEMO_WHITELABEL}"
    return {
        "webhook_sink": sink_url,
        "demo_partner": {
            "whitelabel": DEMO_WHITELABEL,
            "destinations": {
                "webhook": {"id": "demo-webhook", "url": sink_url + hook_path},
                "mongodb": {"id": "demo-mongodb", "database": DEMO_DATABASE, "collection": DEMO_COLLECTION},
                "gcs": {"id": "demo-gcs", "bucket": DEMO_BUCKET, "prefix": DEMO_PREFIX},
            },
            "deliveries_url": f"{sink_url}/deliveries?path={hook_path}",
        },
    }
