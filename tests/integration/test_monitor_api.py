"""The monitor API against the real emulators: the spec's two usage scenarios end to end, every
identify rule, privacy (409), monitoring rules (403), merge-patch, limits and types, concurrent
creates with one friendlyId, and event occurrences arriving on topic "events"."""

from __future__ import annotations

import json
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from google.cloud import firestore

from shared.monitor import config as monitor_config
from shared.monitor.errors import MonitorError
from shared.monitor.operations import Writes
from shared.monitor.store import USERS, UserStore
from shared.monitor.users import new_track_id
from tests.integration.ingest_support import TopicReader
from tools.admin_commands.monitor import apply_file
from tools.stack import free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "monitor"
SPEC_PREFIX = "/lumis/api/rest/lumis/monitor"
TERM = "privacy-policy-2024"


class Monitor:
    """A client of one monitor instance."""

    def __init__(self, url: str, key: str):
        self.url = url
        self.key = key

    def call(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
             content_type: str = "application/json", prefix: str = "") -> requests.Response:
        all_headers = {"Authorization": f"Bearer {self.key}", "Content-Type": content_type, **(headers or {})}
        data = None if body is None else json.dumps(body)
        return requests.request(method, self.url + prefix + path, data=data, headers=all_headers, timeout=30)

    def create(self, body: dict[str, Any] | None = None, **kwargs: Any) -> str:
        answer = self.call("POST", "/v1/users", body or {}, **kwargs)
        assert answer.status_code == 200, answer.text
        return answer.json()["lum_user"]["trackId"]

    def patch(self, track_id: str, body: dict[str, Any], **kwargs: Any) -> requests.Response:
        return self.call("PATCH", f"/v1/users/{track_id}", body, content_type="application/merge-patch+json", **kwargs)

    def identify(self, track_id: str, friendly_id: str, **kwargs: Any) -> requests.Response:
        return self.call("POST", f"/v1/users/{track_id}/identify", {"friendlyId": friendly_id}, **kwargs)

    def consent(self, track_id: str, term: str = TERM) -> requests.Response:
        return self.call("POST", f"/v1/users/{track_id}/consents", {"termId": term})

    def event(self, track_id: str, **fields: Any) -> requests.Response:
        body = {"lum_user": {"trackId": track_id}, "courseId": "course-1", **fields}
        return self.call("POST", "/v1/events/course.completed/data", body)


@pytest.fixture(scope="module", autouse=True)
def session_emulators(local_stack) -> None:
    """This process's clients talk to the session's emulators, also when a test before this module
    started (and stopped) a stack of its own, which points the emulator variables at it."""
    os.environ.update(local_stack.client_env)


@pytest.fixture(scope="module")
def monitor(local_stack, stack) -> Monitor:
    """A monitor instance of its own that reads the registrations at every request, so what a test
    applies is in force at once."""
    url = local_stack.launch_function("monitor", extra_env={"MONITOR_CONFIG_CACHE_SECONDS": "0"},
                                      instance="-monitor-tests")
    db = firestore.Client(project=stack["project_id"])
    for section, name in (("attributes", "attributes.yaml"), ("event-types", "event-types.yaml")):
        apply_file(section, EXAMPLES / name, db, out=lambda _: None)
    return Monitor(url, stack["dev_api_key"])


@pytest.fixture
def settings_store(stack) -> Iterator[monitor_config.ConfigStore]:
    """Privacy off and no rules for every test; a test that sets them gets them reset after."""
    store = monitor_config.ConfigStore(firestore.Client(project=stack["project_id"]))
    store.put_privacy(monitor_config.Privacy())
    store.put_rules(monitor_config.MonitoringRules())
    yield store
    store.put_privacy(monitor_config.Privacy())
    store.put_rules(monitor_config.MonitoringRules())


@pytest.fixture
def privacy_on(settings_store) -> None:
    settings_store.put_privacy(monitor_config.Privacy(enabled=True, terms=(TERM,)))


@pytest.fixture(scope="module")
def users(stack) -> UserStore:
    return UserStore(firestore.Client(project=stack["project_id"]))


@pytest.fixture
def reader(stack) -> Iterator[TopicReader]:
    topic_reader = TopicReader(stack["project_id"], stack["topics"]["events"])
    yield topic_reader
    topic_reader.delete()


def fid() -> str:
    return f"user-{uuid.uuid4().hex[:12]}"


def published(reader: TopicReader, answer: requests.Response) -> tuple[dict[str, Any], dict[str, str]]:
    assert answer.status_code == 200, answer.text
    event_id = answer.json()["eventId"]
    message = reader.pull_until({event_id})[event_id]
    assert message.message_id == answer.json()["messageId"]
    return json.loads(message.data), dict(message.attributes)


# -- the spec's usage scenarios ----------------------------------------------------------------------

def test_scenario_external_system_without_friendly_id(monitor, settings_store, reader, users):
    # The user starts interacting: the system gets a trackId and keeps it.
    answer = monitor.call("POST", "/v1/users", {}, prefix=SPEC_PREFIX)
    assert answer.status_code == 200 and answer.json()["created"] is True
    track_id = answer.json()["lum_user"]["trackId"]
    assert len(track_id) == 32 and track_id.isalnum()

    # An action of the user: lum_user.* filled from the (still empty) record.
    flow_id = str(uuid.uuid4())
    answer = monitor.call("POST", "/v1/events/course.completed/data",
                          {"lum_user": {"trackId": track_id}, "courseId": "c-1", "score": 8},
                          headers={"X-Flow-Id": flow_id}, prefix=SPEC_PREFIX)
    event, attributes = published(reader, answer)
    assert attributes == {"eventId": event["eventId"], "eventType": "monitor.event",
                          "whitelabel": "company-xpto", "flowId": flow_id}
    assert event["data"]["lum_user"] == {"trackId": track_id}
    assert event["data"]["fields"] == {"courseId": "c-1", "score": 8}
    assert (event["eventType"], event["resourceId"], event["ownerExternalId"]) == (
        "monitor.event", "course.completed", track_id)

    # The system learns more about the user, then the next action carries it.
    answer = monitor.patch(track_id, {"firstName": "Ann", "email": "ann@example.com",
                                      "customAttributes": {"company": "Acme"}}, prefix=SPEC_PREFIX)
    assert answer.status_code == 204 and answer.content == b""
    event, _ = published(reader, monitor.event(track_id))
    assert event["data"]["lum_user"] == {"trackId": track_id, "firstName": "Ann", "email": "ann@example.com",
                                         "customAttributes": {"company": "Acme"}}
    assert users.get(track_id)["firstName"] == "Ann"


def test_scenario_external_system_with_friendly_id(monitor, settings_store, reader, users):
    known = fid()
    # A user the system already knows (authenticated): POST with the friendlyId.
    answer = monitor.call("POST", "/v1/users", {"friendlyId": known, "firstName": "John", "lastName": "Smith"})
    assert answer.json()["created"] is True
    identified_id = answer.json()["lum_user"]["trackId"]
    # The same friendlyId later: the same user, updated.
    answer = monitor.call("POST", "/v1/users", {"friendlyId": known, "email": "jds@example.com"})
    assert answer.json() == {"created": False, "lum_user": {"trackId": identified_id}}

    # The same person arrives anonymously on another device, acts, then logs in.
    anonymous_id = monitor.create({"middleName": "Doe", "customAttributes": {"classes": 5}})
    published(reader, monitor.event(anonymous_id))
    answer = monitor.identify(anonymous_id, known)
    assert answer.status_code == 200 and answer.json() == {"lum_user": {"trackId": identified_id}}

    merged = users.get(identified_id)
    assert (merged["friendlyId"], merged["firstName"], merged["middleName"], merged["email"]) == (
        known, "John", "Doe", "jds@example.com")
    assert merged["customAttributes"] == {"classes": 5}
    # The old trackId still resolves to the merged user: for reads, updates and events.
    assert users.get(anonymous_id)["trackId"] == identified_id
    assert monitor.patch(anonymous_id, {"customAttributes": {"company": "Acme"}}).status_code == 204
    event, _ = published(reader, monitor.event(anonymous_id))
    assert event["ownerExternalId"] == identified_id
    assert event["data"]["lum_user"] == {"trackId": identified_id, "friendlyId": known, "firstName": "John",
                                         "lastName": "Smith", "email": "jds@example.com",
                                         "customAttributes": {"company": "Acme"}}
    assert monitor.identify(anonymous_id, known).json() == {"lum_user": {"trackId": identified_id}}


# -- identify rules -------------------------------------------------------------------------------

def test_identify_sets_the_friendly_id_of_an_anonymous_user(monitor, settings_store, users):
    track_id, friendly_id = monitor.create(), fid()
    assert monitor.identify(track_id, friendly_id).json() == {"lum_user": {"trackId": track_id}}
    assert users.get(track_id)["friendlyId"] == friendly_id
    # Now known by it: POST /v1/users with that friendlyId finds the same user.
    assert monitor.call("POST", "/v1/users", {"friendlyId": friendly_id}).json() == {
        "created": False, "lum_user": {"trackId": track_id}}


def test_identify_with_the_friendly_id_the_user_has_changes_nothing(monitor, settings_store, users):
    friendly_id = fid()
    track_id = monitor.create({"friendlyId": friendly_id})
    before = users.get(track_id)
    assert monitor.identify(track_id, friendly_id).json() == {"lum_user": {"trackId": track_id}}
    assert users.get(track_id) == before


def test_identify_a_user_with_another_friendly_id_gives_a_new_or_the_existing_user(monitor, settings_store, users):
    first, second = fid(), fid()
    track_id = monitor.create({"friendlyId": first})
    new_id = monitor.identify(track_id, second).json()["lum_user"]["trackId"]
    assert new_id != track_id
    assert users.get(new_id)["friendlyId"] == second
    assert users.get(track_id)["friendlyId"] == first  # left as it was
    assert monitor.identify(track_id, second).json() == {"lum_user": {"trackId": new_id}}


def test_identify_a_user_with_a_login_but_no_friendly_id(monitor, settings_store, users):
    login = fid()
    # The calling system states its authenticated user: the record gets that login.
    track_id = monitor.create(headers={"X-Authenticated-User": login})
    assert users.get(track_id)["login"] == login and "friendlyId" not in users.get(track_id)
    new_id = monitor.identify(track_id, login, headers={"X-Authenticated-User": login}).json()["lum_user"]["trackId"]
    assert new_id != track_id and users.get(new_id)["friendlyId"] == login
    other = fid()
    existing_id = monitor.create({"friendlyId": other})
    assert monitor.identify(track_id, other).json() == {"lum_user": {"trackId": existing_id}}


def test_identify_for_another_authenticated_user_is_409_and_changes_nothing(monitor, settings_store, users):
    track_id = monitor.create()
    answer = monitor.identify(track_id, fid(), headers={"X-Authenticated-User": "someone-else"})
    assert answer.status_code == 409
    assert answer.json()["code"] == "AUTHENTICATED_USER_MISMATCH"
    assert "friendlyId" not in users.get(track_id)
    answer = monitor.call("POST", "/v1/users", {"friendlyId": fid()}, headers={"X-Authenticated-User": "someone"})
    assert answer.status_code == 409 and answer.json()["code"] == "AUTHENTICATED_USER_MISMATCH"


def test_identify_409_also_when_the_tracked_user_is_another_than_the_authenticated_one(monitor, settings_store,
                                                                                        users):
    alice, bob = fid(), fid()
    alice_id = monitor.create({"friendlyId": alice})
    bob_id = monitor.create({"friendlyId": bob})
    # The body names the authenticated user, but the trackId is Alice's: the spec's 409.
    answer = monitor.identify(alice_id, bob, headers={"X-Authenticated-User": bob})
    assert (answer.status_code, answer.json()["code"]) == (409, "AUTHENTICATED_USER_MISMATCH")
    logged_in_as_carol = monitor.create(headers={"X-Authenticated-User": "carol-" + bob})
    answer = monitor.identify(logged_in_as_carol, bob, headers={"X-Authenticated-User": bob})
    assert (answer.status_code, answer.json()["code"]) == (409, "AUTHENTICATED_USER_MISMATCH")
    # An anonymous visitor who logs in as Bob, and Bob himself, are fine.
    visitor = monitor.create()
    as_bob = {"X-Authenticated-User": bob}
    assert monitor.identify(visitor, bob, headers=as_bob).json() == {"lum_user": {"trackId": bob_id}}
    assert monitor.identify(bob_id, bob, headers=as_bob).json() == {"lum_user": {"trackId": bob_id}}
    assert users.get(alice_id)["friendlyId"] == alice and "login" not in users.get(alice_id)


def test_identify_problems(monitor, settings_store):
    assert monitor.identify("NoSuchUser0000000000000000000000", fid()).json()["code"] == "USER_NOT_FOUND"
    assert monitor.identify("bad%20id", fid()).status_code == 404
    track_id = monitor.create()
    answer = monitor.call("POST", f"/v1/users/{track_id}/identify", {})
    assert (answer.status_code, answer.json()["parameters"]) == (400, {"fields": ["friendlyId"]})
    assert monitor.identify(track_id, "x" * 256).json()["code"] == "INVALID_FIELDS"


PARALLEL = 20


def in_parallel(call: Any, arguments: list[Any]) -> list[Any]:
    """``call(argument)`` for every argument at once (threads released together)."""
    barrier = threading.Barrier(len(arguments))

    def run(argument: Any) -> Any:
        barrier.wait()
        return call(argument)

    with ThreadPoolExecutor(len(arguments)) as pool:
        return list(pool.map(run, arguments))


def test_concurrent_creates_with_one_friendly_id_make_one_user(monitor, settings_store, stack):
    # Half to each of two instances, as a scaled-out function would receive them.
    friendly_id, other_instance = fid(), Monitor(stack["functions"]["monitor"], monitor.key)
    answers = in_parallel(lambda instance: instance.call("POST", "/v1/users", {"friendlyId": friendly_id}),
                          [monitor, other_instance] * (PARALLEL // 2))
    assert [a.status_code for a in answers] == [200] * PARALLEL, [a.text for a in answers if a.status_code != 200]
    assert sorted(a.json()["created"] for a in answers) == [False] * (PARALLEL - 1) + [True]
    assert len({a.json()["lum_user"]["trackId"] for a in answers}) == 1
    stored = firestore.Client(project=stack["project_id"]).collection(USERS).where(
        filter=firestore.FieldFilter("friendlyId", "==", friendly_id)).get()
    assert len(stored) == 1


def test_concurrent_identifies_with_one_friendly_id_end_in_one_user(monitor, settings_store, users):
    friendly_id = fid()
    anonymous = [monitor.create() for _ in range(PARALLEL)]
    answers = in_parallel(lambda track_id: monitor.identify(track_id, friendly_id), anonymous)
    assert [a.status_code for a in answers] == [200] * PARALLEL, [a.text for a in answers if a.status_code != 200]
    results = {a.json()["lum_user"]["trackId"] for a in answers}
    assert len(results) == 1 and results <= set(anonymous)
    assert {users.get(t)["trackId"] for t in anonymous} == results


def test_one_visitor_identified_twenty_times_at_once_is_one_user(monitor, settings_store, users):
    # A page that fires identify from every open tab when the visitor logs in.
    friendly_id, visitor = fid(), monitor.create()
    answers = in_parallel(lambda _: monitor.identify(visitor, friendly_id), [None] * PARALLEL)
    assert [a.status_code for a in answers] == [200] * PARALLEL, [a.text for a in answers if a.status_code != 200]
    assert {a.json()["lum_user"]["trackId"] for a in answers} == {visitor}
    assert users.get(visitor)["friendlyId"] == friendly_id


def test_a_user_that_keeps_changing_is_a_409_to_send_again_never_a_500(stack, users):
    # Someone else changes the user between every read and write, longer than the store tries.
    created = new_track_id()
    track_id = UserStore(firestore.Client(project=stack["project_id"])).transact(
        lambda reads: (Writes(create_users=[{"trackId": created}]), created))
    patient = UserStore(firestore.Client(project=stack["project_id"]), contention_seconds=0.5)
    reference = firestore.Client(project=stack["project_id"]).collection(USERS).document(track_id)

    def plan_while_someone_writes(reads):
        reference.update({"firstName": uuid.uuid4().hex})
        return Writes(set_users=[{**reads.tracked, "lastName": "mine"}]), None

    with pytest.raises(MonitorError) as refused:
        patient.transact(plan_while_someone_writes, track_id=track_id)
    assert (refused.value.status, refused.value.code, refused.value.parameters) == (
        409, "CONCURRENT_UPDATE", {"retryable": True})
    assert "lastName" not in users.get(track_id)


# -- users: merge-patch, limits, types --------------------------------------------------------------

def test_patch_is_a_json_merge_patch(monitor, settings_store, users):
    track_id = monitor.create({"firstName": "Ann", "email": "a@example.com",
                               "customAttributes": {"company": "Acme", "classes": 5, "phone": ["1", "2"]}})
    answer = monitor.patch(track_id, {"email": "my_new_email@example.com", "firstName": None,
                                      "customAttributes": {"company": None, "phone": "3", "active": True}})
    assert answer.status_code == 204
    user = users.get(track_id)
    assert user["email"] == "my_new_email@example.com" and "firstName" not in user
    assert user["customAttributes"] == {"classes": 5, "phone": ["3"], "active": True}
    assert monitor.patch(track_id, {"customAttributes": None}).status_code == 204
    assert "customAttributes" not in users.get(track_id)


def test_patch_refuses_friendly_id_other_media_types_and_unknown_users(monitor, settings_store):
    track_id = monitor.create()
    answer = monitor.patch(track_id, {"friendlyId": fid()})
    assert answer.status_code == 400
    assert answer.json()["parameters"]["fields"] == [
        {"field": "friendlyId", "problem": "cannot be changed here: use POST /v1/users/{trackId}/identify"}]
    answer = monitor.call("PATCH", f"/v1/users/{track_id}", {"email": "a@b.c"}, content_type="application/json")
    assert (answer.status_code, answer.json()["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
    answer = monitor.patch("NoSuchUser0000000000000000000000", {"email": "a@b.c"})
    assert (answer.status_code, answer.json()["code"]) == (404, "USER_NOT_FOUND")


def test_length_limits_and_attribute_types(monitor, settings_store):
    answer = monitor.call("POST", "/v1/users", {"firstName": "x" * 101, "email": "e" * 256, "friendlyId": "f" * 256,
                                                "customAttributes": {"active": "yes", "memberSince": "yesterday",
                                                                     "nickname": "Al"}})
    assert answer.status_code == 400
    assert answer.json()["parameters"]["fields"] == [
        {"field": "firstName", "problem": "must be at most 100 characters"},
        {"field": "email", "problem": "must be at most 255 characters"},
        {"field": "friendlyId", "problem": "must be at most 255 characters"},
        {"field": "customAttributes.active", "problem": "must be a boolean"},
        {"field": "customAttributes.memberSince", "problem": "must be an RFC 3339 date-time with a time zone"},
        {"field": "customAttributes.nickname", "problem": "is not a registered attribute"},
    ]
    ok = monitor.call("POST", "/v1/users", {"firstName": "x" * 100, "friendlyId": fid(),
                                            "customAttributes": {"memberSince": "1980-12-02T05:23:26-03:00"}})
    assert ok.status_code == 200


# -- privacy ----------------------------------------------------------------------------------------

def test_privacy_requires_a_consent_before_personal_data(monitor, privacy_on, users):
    answer = monitor.call("POST", "/v1/users", {"friendlyId": fid(), "firstName": "Ann"})
    assert answer.status_code == 409
    body = answer.json()
    assert body["code"] == "CONSENT_REQUIRED" and body["parameters"] == {"fields": ["friendlyId", "firstName"],
                                                                         "terms": [TERM]}
    track_id = monitor.create({"customAttributes": {"classes": 5}})  # nothing personal: allowed
    for patch in ({"email": "a@example.com"}, {"customAttributes": {"phone": ["1"]}}):
        answer = monitor.patch(track_id, patch)
        assert (answer.status_code, answer.json()["code"]) == (409, "CONSENT_REQUIRED")
    assert monitor.identify(track_id, fid()).status_code == 409
    assert "email" not in users.get(track_id)

    answer = monitor.consent(track_id)
    assert answer.status_code == 201 and answer.json()["termId"] == TERM and answer.json()["acceptedAt"].endswith("Z")
    assert monitor.consent(track_id).status_code == 200  # already recorded
    assert monitor.patch(track_id, {"email": "a@example.com", "customAttributes": {"phone": ["1"]}}).status_code == 204
    friendly_id = fid()
    assert monitor.identify(track_id, friendly_id).json() == {"lum_user": {"trackId": track_id}}
    assert users.get(track_id)["consents"][TERM]["acceptedAt"] is not None
    # Removing personal data never needs a consent; a user with a login has consented elsewhere.
    other = monitor.create()
    assert monitor.patch(other, {"email": None}).status_code == 204
    login = fid()
    assert monitor.call("POST", "/v1/users", {"friendlyId": login, "email": "l@example.com"},
                        headers={"X-Authenticated-User": login}).status_code == 200


def test_consent_to_an_unknown_term(monitor, privacy_on):
    answer = monitor.consent(monitor.create(), term="some-other-term")
    assert answer.status_code == 400 and answer.json()["parameters"]["fields"][0]["field"] == "termId"


# -- monitoring rules -----------------------------------------------------------------------------

def test_requests_the_rules_exclude_are_403(monitor, settings_store, stack):
    apply_file("rules", EXAMPLES / "rules.yaml", firestore.Client(project=stack["project_id"]), out=lambda _: None)
    answer = monitor.call("POST", "/v1/users", {}, headers={"User-Agent": "Googlebot/2.1"})
    assert answer.status_code == 403
    assert answer.json()["code"] == "NOT_MONITORED" and "crawlers" in answer.json()["parameters"]["reason"]
    assert monitor.call("POST", "/v1/users", {"friendlyId": "qa-1"}).status_code == 403
    track_id = monitor.create()
    assert monitor.identify(track_id, "qa-2").status_code == 403
    assert monitor.event(track_id).status_code == 200  # neither a crawler nor a test account
    settings_store.put_rules(monitor_config.parse_rules({"include": [{"app": "another-app"}]}))
    assert monitor.event(track_id).status_code == 403
    assert monitor.patch(track_id, {"firstName": "A"}).status_code == 403


def test_every_request_about_an_excluded_user_is_403(monitor, settings_store, stack, users):
    # Users known before the rules: one with a test account's friendlyId, one merged into it,
    # one whose login is a test account's.
    tester = f"qa-{uuid.uuid4().hex[:8]}"
    tester_id = monitor.create({"friendlyId": tester})
    merged_id = monitor.create()
    assert monitor.identify(merged_id, tester).json() == {"lum_user": {"trackId": tester_id}}
    logged_in_id = monitor.create(headers={"X-Authenticated-User": f"qa-{uuid.uuid4().hex[:8]}"})
    settings_store.put_privacy(monitor_config.Privacy(terms=(TERM,)))  # a consent is a valid request
    apply_file("rules", EXAMPLES / "rules.yaml", firestore.Client(project=stack["project_id"]), out=lambda _: None)
    before = users.get(tester_id)
    for track_id in (tester_id, merged_id, logged_in_id):
        for answer in (monitor.patch(track_id, {"firstName": "Q"}), monitor.event(track_id),
                       monitor.consent(track_id), monitor.identify(track_id, fid())):
            assert (answer.status_code, answer.json()["code"]) == (403, "NOT_MONITORED"), answer.request.url
            assert "test accounts" in answer.json()["parameters"]["reason"]
    assert users.get(tester_id) == before
    # Others are monitored as before.
    someone = monitor.create({"friendlyId": fid()})
    assert monitor.patch(someone, {"firstName": "A"}).status_code == 204
    assert monitor.event(someone).status_code == 200


def test_an_inclusion_rule_on_friendly_id_includes_requests_about_that_user(monitor, settings_store):
    vip_id, anonymous_id = monitor.create({"friendlyId": f"vip-{uuid.uuid4().hex[:8]}"}), monitor.create()
    settings_store.put_rules(monitor_config.parse_rules({"include": [{"friendlyId": "^vip-"}]}))
    assert monitor.patch(vip_id, {"firstName": "V"}).status_code == 204  # the request carries no friendlyId
    assert monitor.event(vip_id).status_code == 200
    assert monitor.patch(anonymous_id, {"firstName": "A"}).status_code == 403


# -- event data -----------------------------------------------------------------------------------

def test_event_data_problems(monitor, settings_store):
    track_id = monitor.create()
    answer = monitor.call("POST", "/v1/events/no.such.type/data", {"lum_user": {"trackId": track_id}})
    assert (answer.status_code, answer.json()["code"]) == (404, "UNKNOWN_EVENT_TYPE")
    answer = monitor.call("POST", "/v1/events/course.completed/data", {"courseId": "c"})
    assert (answer.status_code, answer.json()["parameters"]) == (400, {"fields": ["lum_user.trackId"]})
    answer = monitor.event(track_id, score="ten")
    assert answer.json()["parameters"]["fields"] == [{"field": "score", "problem": "must be a number"}]
    answer = monitor.event("NoSuchUser0000000000000000000000")
    assert (answer.status_code, answer.json()["code"]) == (404, "USER_NOT_FOUND")


# -- the error object -------------------------------------------------------------------------------

@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
def test_nan_and_infinity_are_not_json_and_are_refused(monitor, settings_store, users, number):
    track_id = monitor.create()
    headers = {"Authorization": f"Bearer {monitor.key}", "Content-Type": "application/json"}
    bodies = [("POST", "/v1/users", '{"customAttributes": {"classes": %s}}' % number),
              ("PATCH", f"/v1/users/{track_id}", '{"customAttributes": {"classes": %s}}' % number),
              ("POST", "/v1/events/course.completed/data",
               '{"lum_user": {"trackId": "%s"}, "courseId": "c", "score": %s}' % (track_id, number))]
    for method, path, body in bodies:
        content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
        answer = requests.request(method, monitor.url + path, data=body.encode(), timeout=30,
                                  headers={**headers, "Content-Type": content_type})
        assert answer.status_code == 400, (path, answer.text)
        error = answer.json()
        assert (error["status"], error["code"]) == (400, "INVALID_JSON")
        assert set(error) == {"status", "code", "message", "parameters", "flowId"}
    assert users.get(track_id)["customAttributes"] == {}


def test_an_integer_beyond_64_bits_is_read_as_javascript_reads_it(monitor, settings_store, users, reader):
    # JSON.parse gives a double: so does the monitor, instead of failing to store it.
    track_id = monitor.create()
    headers = {"Authorization": f"Bearer {monitor.key}", "Content-Type": "application/merge-patch+json"}
    answer = requests.patch(f"{monitor.url}/v1/users/{track_id}", timeout=30, headers=headers,
                            data=b'{"customAttributes": {"classes": 123456789012345678901234567890}}')
    assert answer.status_code == 204, answer.text
    assert users.get(track_id)["customAttributes"] == {"classes": 1.2345678901234568e29}
    event, _ = published(reader, monitor.event(track_id, score=2 ** 70))
    assert event["data"]["fields"]["score"] == float(2 ** 70)


def test_every_error_is_the_one_error_object(monitor, settings_store):
    flow_id = str(uuid.uuid4())
    missing = requests.post(monitor.url + "/v1/users", json={}, headers={"X-Flow-Id": flow_id}, timeout=10)
    assert missing.status_code == 401
    assert missing.json() == {"status": 401, "code": "MISSING_TOKENS",
                              "message": "an API key is required: Authorization: Bearer <key>",
                              "parameters": {}, "flowId": flow_id}
    assert missing.headers["X-Flow-Id"] == flow_id
    wrong = requests.post(monitor.url + "/v1/users", json={}, headers={"Authorization": "Bearer fpk_x_y"}, timeout=10)
    assert (wrong.status_code, wrong.json()["code"]) == (401, "INVALID_TOKEN")
    answers = [
        (monitor.call("POST", "/v1/users", None, content_type="application/json", headers={}), None),
        (requests.post(monitor.url + "/v1/users", data=b"{not json", timeout=10,
                       headers={"Authorization": f"Bearer {monitor.key}"}), (400, "INVALID_JSON")),
        (monitor.call("GET", "/v1/users"), (405, "METHOD_NOT_ALLOWED")),
        (monitor.call("POST", "/v2/users", {}), (404, "UNKNOWN_ROUTE")),
        (monitor.call("POST", "/v1/users", {"firstName": "x" * 300_000}), (413, "PAYLOAD_TOO_LARGE")),
    ]
    for answer, expected in answers:
        if expected is None:
            assert answer.status_code == 200  # an empty body creates an anonymous user
            continue
        body = answer.json()
        assert (answer.status_code, body["code"]) == expected
        assert set(body) == {"status", "code", "message", "parameters", "flowId"} and body["status"] == expected[0]
        assert "Traceback" not in answer.text


def test_an_occurrence_pubsub_did_not_confirm_is_424_not_success(monitor, local_stack, settings_store):
    track_id = monitor.create()
    # A second instance whose Pub/Sub is a closed loopback port; Firestore is the real one.
    url = local_stack.launch_function("monitor", instance="-pubsub-down", extra_env={
        "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{free_port()}", "PUBLISH_TIMEOUT_SECONDS": "1"})
    answer = Monitor(url, monitor.key).event(track_id)
    assert answer.status_code == 424
    assert answer.json()["code"] == "PUBSUB_UNAVAILABLE" and answer.json()["parameters"] == {"retryable": True}
