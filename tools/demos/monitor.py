"""Demo of monitor: the spec's two usage scenarios end to end, privacy and monitoring rules, and
what reached topic "events"."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import requests
from google.cloud import firestore, pubsub_v1

from shared.monitor.store import UserStore
from tools.admin_commands.monitor import apply_file

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "monitor"
SPEC_PREFIX = "/lumis/api/rest/lumis/monitor"
EVENT_PATH = "/v1/events/course.completed/data"


class _Client:
    def __init__(self, url: str, key: str, show: Callable[[str], None]):
        self.url, self.key, self.show = url, key, show

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             quiet: bool = False) -> requests.Response:
        content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
        answer = requests.request(method, self.url + path, data=None if body is None else json.dumps(body),
                                  headers={"Authorization": f"Bearer {self.key}", "Content-Type": content_type,
                                           **(headers or {})}, timeout=10)
        if not quiet:
            sent = "" if body is None else " " + json.dumps(body, ensure_ascii=False)
            extra = "".join(f" [{k}: {v}]" for k, v in (headers or {}).items())
            self.show(f"  {method} {path}{sent}{extra}")
            self.show(f"    -> {answer.status_code} {answer.text.strip() or '(no body)'}")
        return answer


def run(info: dict, show: Callable[[str], None]) -> None:
    show("== monitor: the user-monitoring API (../shared/specs/monitoring-users-api.md) ==")
    db = firestore.Client(project=info["project_id"])
    monitor = _Client(info["functions"]["monitor"], info["dev_api_key"], show)
    subscriber = pubsub_v1.SubscriberClient()
    subscription = subscriber.subscription_path(info["project_id"], f"demo-monitor-{uuid.uuid4().hex[:8]}")
    subscriber.create_subscription(name=subscription, topic=info["topics"]["events"])
    try:
        show("registered at start-up (examples/monitor/): custom attributes active, classes, company, "
             "memberSince, phone (identifies the user); event type course.completed for partner company-xpto")
        event_ids = _scenario_without_friendly_id(monitor, show) + _scenario_with_friendly_id(monitor, db, show)
        _privacy(monitor, db, show)
        _rules(monitor, db, show)
        _show_published(subscriber, subscription, event_ids, show)
    finally:
        subscriber.delete_subscription(subscription=subscription)


def _scenario_without_friendly_id(monitor: _Client, show: Callable[[str], None]) -> list[str]:
    show("")
    show("-- scenario 1: an external system that keeps the trackId (no friendlyId), at the spec's own paths")
    show("a user starts interacting: the system asks for a trackId and stores it")
    track_id = monitor.call("POST", f"{SPEC_PREFIX}/v1/users", {}).json()["lum_user"]["trackId"]
    show("an action of the user: lum_user.trackId names the user")
    first = monitor.call("POST", SPEC_PREFIX + EVENT_PATH, {"lum_user": {"trackId": track_id}, "courseId": "c-101",
                                                            "score": 7.5})
    show("the system learns more about the user (merge patch: null would remove)")
    monitor.call("PATCH", f"{SPEC_PREFIX}/v1/users/{track_id}",
                 {"firstName": "Ann", "email": "ann@example.com", "customAttributes": {"company": "Acme"}})
    second = monitor.call("POST", SPEC_PREFIX + EVENT_PATH, {"lum_user": {"trackId": track_id}, "courseId": "c-102"})
    return [first.json()["eventId"], second.json()["eventId"]]


def _scenario_with_friendly_id(monitor: _Client, db: firestore.Client, show: Callable[[str], None]) -> list[str]:
    show("")
    show("-- scenario 2: an external system with its own user ids (friendlyId), relative to the function URL")
    login = f"john.smith.{uuid.uuid4().hex[:6]}"
    show(f"John ({login}) logs in on his laptop: the system passes the friendlyId it knows")
    john = monitor.call("POST", "/v1/users", {"friendlyId": login, "firstName": "John", "lastName": "Smith"},
                        headers={"X-Authenticated-User": login}).json()["lum_user"]["trackId"]
    show("later, on his phone, he is not logged in yet: an anonymous trackId, and an action")
    phone = monitor.call("POST", "/v1/users", {"customAttributes": {"classes": 3}}).json()["lum_user"]["trackId"]
    anonymous = monitor.call("POST", EVENT_PATH, {"lum_user": {"trackId": phone}, "courseId": "c-201"})
    show("he logs in: identify merges the anonymous user into John and answers John's trackId")
    merged_id = monitor.call("POST", f"/v1/users/{phone}/identify", {"friendlyId": login},
                             headers={"X-Authenticated-User": login}).json()["lum_user"]["trackId"]
    record = UserStore(db).get(phone)
    show(f"  the merged user is John's: {merged_id == john}; the phone's trackId now resolves to it: "
         f"trackId={record['trackId']} friendlyId={record['friendlyId']} "
         f"customAttributes={record['customAttributes']} (classes came from the phone)")
    show("the phone still holds its old trackId: it resolves to John")
    after = monitor.call("POST", EVENT_PATH, {"lum_user": {"trackId": phone}, "courseId": "c-202", "tags": ["mobile"]})
    show("known by friendlyId: POST /v1/users with it finds John (created: false)")
    monitor.call("POST", "/v1/users",
                 {"friendlyId": login, "customAttributes": {"memberSince": "2020-02-01T10:00:00-03:00"}},
                 headers={"X-Authenticated-User": login})
    return [anonymous.json()["eventId"], after.json()["eventId"]]


def _privacy(monitor: _Client, db: firestore.Client, show: Callable[[str], None]) -> None:
    show("")
    show("-- privacy: python -m tools.admin --local monitor privacy apply -f examples/monitor/privacy.yaml")
    apply_file("privacy", EXAMPLES / "privacy.yaml", db, out=lambda line: show(f"  {line}"))
    visitor = monitor.call("POST", "/v1/users", {}, quiet=True).json()["lum_user"]["trackId"]
    _until(lambda: monitor.call("PATCH", f"/v1/users/{visitor}", {"email": "v@example.com"},
                                quiet=True).status_code == 409)
    show(f"an anonymous visitor {visitor} without consent: personal data is refused")
    monitor.call("PATCH", f"/v1/users/{visitor}", {"email": "v@example.com"})
    show("the visitor accepts the privacy term; then the same change is stored")
    monitor.call("POST", f"/v1/users/{visitor}/consents", {"termId": "privacy-policy-2024"})
    monitor.call("PATCH", f"/v1/users/{visitor}", {"email": "v@example.com"})


def _rules(monitor: _Client, db: firestore.Client, show: Callable[[str], None]) -> None:
    show("")
    show("-- monitoring rules: python -m tools.admin --local monitor rules apply -f examples/monitor/rules.yaml")
    apply_file("rules", EXAMPLES / "rules.yaml", db, out=lambda line: show(f"  {line}"))
    crawler = {"User-Agent": "Googlebot/2.1"}
    _until(lambda: monitor.call("POST", "/v1/users", {}, headers=crawler, quiet=True).status_code == 403)
    show("a crawler's request is not monitored")
    monitor.call("POST", "/v1/users", {}, headers=crawler)


def _show_published(subscriber: pubsub_v1.SubscriberClient, subscription: str, event_ids: list[str],
                    show: Callable[[str], None]) -> None:
    show("")
    show("pulled back from topic 'events' (the occurrences above, as FPASS events of type monitor.event):")
    received: dict[str, Any] = {}
    deadline = time.monotonic() + 20
    while set(event_ids) - set(received) and time.monotonic() < deadline:
        response = subscriber.pull(subscription=subscription, max_messages=10, timeout=10)
        for item in response.received_messages:
            received[item.message.attributes["eventId"]] = item.message
        if response.received_messages:
            subscriber.acknowledge(subscription=subscription, ack_ids=[m.ack_id for m in response.received_messages])
    for event_id in event_ids:
        message = received.get(event_id)
        if message is None:
            show(f"  {event_id}: not received")
            continue
        event = json.loads(message.data)
        show(f"  attributes={dict(message.attributes)}")
        show(f"    resourceId={event['resourceId']} fields={json.dumps(event['data']['fields'])} "
             f"lum_user={json.dumps(event['data']['lum_user'], ensure_ascii=False)}")


def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Registrations reach running instances within MONITOR_CONFIG_CACHE_SECONDS (1 s locally)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the registration did not reach the monitor function in time")
        time.sleep(0.2)
