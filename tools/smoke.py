"""Smoke test of a deployment: one event in through ingest, read back at its partner's destinations.

    python -m tools.smoke --local                     # the running local stack (.stack/stack.json)
    python -m tools.smoke --ingest-url URL --key KEY --whitelabel smoke-partner   # production

Production (GOOGLE_CLOUD_PROJECT and Application Default Credentials, like the admin CLI):
ingest's URL (``gcloud functions describe ingest --region R --format='value(serviceConfig.uri)'``),
an app API key (``python -m tools.admin keys create``) and a partner registered for smoke tests
(``python -m tools.admin partners apply``). Flags fall back to FPASS_INGEST_URL, FPASS_API_KEY,
FPASS_SMOKE_WHITELABEL and FPASS_ID_TOKEN. The caller must be one of ingest's invoker_members:
its Google ID token goes in X-Serverless-Authorization (the API key keeps Authorization); it is
--id-token, else fetched from the credentials, else from `gcloud auth print-identity-token`.

What is checked: ingest refuses a call without an ID token (production: it is private) and
publishes the event; then, for each destination of the partner, the delivery log
(Firestore ``deliveries``) says delivered, and the event is read back where the destination
allows: the object in Cloud Storage, the document in MongoDB (connection string from Secret
Manager), and, on the local stack, what the webhook sink received. Exit 0 when all of it holds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import requests

from tools.stack import DEFAULT_STATE_DIR

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "events" / "user.interaction.view.json"


@dataclass
class Target:
    ingest_url: str
    key: str
    whitelabel: str
    id_token: str | None = None
    # Local stack only: where the webhook sink shows what it received.
    deliveries_url: str | None = None


class Report:
    def __init__(self, show: Callable[[str], None] = print):
        self.show = show
        self.failures: list[str] = []

    def ok(self, line: str) -> None:
        self.show(f"ok    {line}")

    def fail(self, line: str) -> None:
        self.failures.append(line)
        self.show(f"FAIL  {line}")


def poll(what: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = what()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(interval)


def fresh_event(whitelabel: str) -> dict[str, Any]:
    event = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    event["eventId"] = str(uuid.uuid4())
    event["data"]["whitelabel"] = whitelabel
    event["data"].pop("ownerWhitelabel", None)
    return event


def post_event(target: Target, body: bytes, report: Report) -> bool:
    headers = {"Authorization": f"Bearer {target.key}", "Content-Type": "application/json"}
    if target.id_token:
        refused = requests.post(target.ingest_url + "/v1/events", data=body, headers=headers, timeout=30)
        if refused.status_code in (401, 403) and not refused.headers.get("content-type", "").startswith("application/json"):
            report.ok(f"ingest refuses a call without an ID token (HTTP {refused.status_code}: private)")
        else:
            report.fail(f"ingest answered HTTP {refused.status_code} to a call without an ID token: it is not private")
        headers["X-Serverless-Authorization"] = f"Bearer {target.id_token}"
    answer = requests.post(target.ingest_url + "/v1/events", data=body, headers=headers, timeout=30)
    try:
        payload = answer.json()
    except ValueError:
        payload = {}
    if answer.status_code == 200 and payload.get("name", "").endswith(":response"):
        report.ok(f"ingest published eventId={payload['payload'].get('eventId')} "
                  f"messageId={payload['payload'].get('messageId')}")
        return True
    report.fail(f"ingest answered HTTP {answer.status_code}: {answer.text[:300]}")
    return False


def check_destinations(target: Target, event: dict[str, Any], body: bytes, timeout: float, report: Report) -> None:
    from google.cloud import storage
    from pymongo import MongoClient

    from shared.platform.clients import firestore_client
    from shared.forwarding.delivery_log import COLLECTION, DELIVERED, entry_id
    from shared.forwarding.message import ForwardedEvent, PubSubMessage
    from shared.forwarding.destinations.gcs import object_name
    from shared.forwarding.partners import PartnerRegistry
    from shared.forwarding.secret_refs import SecretResolver

    db = firestore_client()
    partner = PartnerRegistry(db).get(target.whitelabel)
    if partner is None or partner.disabled or not partner.destinations:
        report.fail(f"partner {target.whitelabel!r} is not registered, disabled or has no destination: register "
                    f"one for smoke tests (python -m tools.admin partners apply -f ...)")
        return
    event_id = event["eventId"]
    for destination in partner.destinations:
        where = f"{destination.kind} {destination.id}"
        doc = db.collection(COLLECTION).document(entry_id(event_id, destination.id))
        def delivered(doc=doc) -> dict | None:
            found = doc.get().to_dict() or {}
            return found if found.get("status") == DELIVERED else None

        entry = poll(delivered, timeout)
        if not entry:
            last = doc.get().to_dict() or {}
            report.fail(f"{where}: not delivered within {timeout:g} s (delivery log: status={last.get('status')!r} "
                        f"attempts={last.get('attempts')} result={last.get('lastResult')!r})")
            continue
        report.ok(f"{where}: delivery log says delivered after {entry.get('attempts')} attempt(s)")
        if destination.kind == "gcs":
            name = object_name(destination.prefix, ForwardedEvent.from_message(PubSubMessage(body)))
            blob = storage.Client().bucket(destination.bucket).blob(name)
            stored = blob.download_as_bytes() if blob.exists() else None
            (report.ok if stored == body else report.fail)(
                f"{where}: gs://{destination.bucket}/{name} " + ("holds the event as sent" if stored == body
                                                                 else "is missing or differs"))
        elif destination.kind == "mongodb":
            uri = SecretResolver(cache_seconds=0).resolve(destination.connection_string)
            with MongoClient(uri, serverSelectionTimeoutMS=10000) as client:
                found = client[destination.database][destination.collection].find_one({"_id": event_id})
            same = found is not None and {k: v for k, v in found.items() if k != "_id"} == event
            (report.ok if same else report.fail)(
                f"{where}: {destination.database}.{destination.collection} " + (
                    f"holds _id={event_id}, the event as sent" if same else f"has no document _id={event_id} as sent"))
        elif destination.kind == "webhook" and target.deliveries_url:
            found = requests.get(target.deliveries_url, params={"webhookId": event_id}, timeout=10).json()
            received = next(iter(found.get("deliveries", [])), None)
            same = received is not None and received["body"].encode("utf-8") == body and received["signatureValid"]
            (report.ok if same else report.fail)(
                f"{where}: the sink " + ("received the event as sent, signature valid" if same
                                         else "did not receive the event as sent with a valid signature"))


def identity_token(audience: str, given: str | None) -> str:
    if given:
        return given
    try:
        import google.auth.transport.requests
        from google.oauth2 import id_token

        return id_token.fetch_id_token(google.auth.transport.requests.Request(), audience)
    except Exception:  # user credentials cannot mint an ID token for an audience: ask gcloud
        pass
    answer = subprocess.run(["gcloud", "auth", "print-identity-token"], capture_output=True, text=True)
    if answer.returncode != 0 or not answer.stdout.strip():
        raise SystemExit("error: no Google ID token for ingest: pass --id-token (FPASS_ID_TOKEN) or log in with "
                         "gcloud as one of ingest's invoker_members")
    return answer.stdout.strip()


def local_target(stack_file: Path) -> Target:
    from tools.admin import use_local_stack
    from tools.forwarding_local import MONGODB_URI_ENV

    use_local_stack(stack_file)
    info = json.loads(stack_file.read_text())
    # The demo partner's MongoDB destination names its connection string env:LOCAL_MONGODB_URI.
    os.environ.setdefault(MONGODB_URI_ENV, info["emulators"]["mongodb"])
    partner = info["demo_partner"]
    return Target(ingest_url=info["functions"]["ingest"], key=info["dev_api_key"], whitelabel=partner["whitelabel"],
                  deliveries_url=partner["deliveries_url"])


def run(target: Target, timeout: float, show: Callable[[str], None] = print) -> int:
    report = Report(show)
    event = fresh_event(target.whitelabel)
    from shared.events.message import encode_event

    body = encode_event(event)
    show(f"smoke test: eventId={event['eventId']} for partner {target.whitelabel!r} through {target.ingest_url}")
    if post_event(target, body, report):
        check_destinations(target, event, body, timeout, report)
    show(f"{'passed' if not report.failures else 'FAILED'}: {len(report.failures)} failure(s)")
    return 1 if report.failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.smoke", description=__doc__.split("\n")[0])
    parser.add_argument("--local", action="store_true", help="use the local stack in .stack/stack.json")
    parser.add_argument("--stack-file", type=Path, default=DEFAULT_STATE_DIR / "stack.json")
    parser.add_argument("--ingest-url", default=os.environ.get("FPASS_INGEST_URL"))
    parser.add_argument("--key", default=os.environ.get("FPASS_API_KEY"), help="an app API key")
    parser.add_argument("--whitelabel", default=os.environ.get("FPASS_SMOKE_WHITELABEL"),
                        help="the partner whose destinations receive the event")
    parser.add_argument("--id-token", default=os.environ.get("FPASS_ID_TOKEN"),
                        help="Google ID token of one of ingest's invokers")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for each delivery")
    args = parser.parse_args(argv)
    if args.local:
        target = local_target(args.stack_file)
    else:
        missing = [flag for flag, value in (("--ingest-url", args.ingest_url), ("--key", args.key),
                                            ("--whitelabel", args.whitelabel)) if not value]
        if not os.environ.get("GOOGLE_CLOUD_PROJECT"):
            missing.append("GOOGLE_CLOUD_PROJECT")
        if missing:
            print(f"error: missing {', '.join(missing)} (or pass --local to use the local stack)", file=sys.stderr)
            return 2
        url = args.ingest_url.rstrip("/")
        target = Target(url, args.key, args.whitelabel, id_token=identity_token(url, args.id_token))
    return run(target, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
