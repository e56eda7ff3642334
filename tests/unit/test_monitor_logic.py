"""The monitor API's pure logic: typed values, user changes and merge-patch, privacy, the
identify rules, monitoring rules, registrations, routes and the event mapping."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from shared.events import contract as event_contract
from shared.monitor import config as monitor_config
from shared.monitor import events
from shared.monitor.config import CachedConfig, MonitorConfig, Privacy
from shared.monitor.errors import MonitorError
from shared.monitor.operations import (
    Context,
    IdentifyRule,
    Reads,
    decide_identify,
    plan_create,
    plan_identify,
)
from shared.monitor.rules import MonitoringRules, RequestFacts
from shared.monitor.service import ROUTES, relative_path
from shared.monitor.users import (
    apply_changes,
    merge_users,
    new_track_id,
    new_user,
    personal_fields_set,
    require_consent,
    validate_changes,
)
from shared.monitor.values import InvalidValue, ValueSpec
from shared.platform.http import MethodNotAllowed, NoRoute

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "monitor"
NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)


def example(name: str, key: str):
    return yaml.safe_load((EXAMPLES / name).read_text())[key]


ATTRIBUTES = {a.id: a for a in monitor_config.parse_attributes(example("attributes.yaml", "attributes"))}
EVENT_TYPE = monitor_config.parse_event_types(example("event-types.yaml", "eventTypes"))[0]
PRIVACY = Privacy(enabled=True, terms=("terms-v1",))


def problems(error: pytest.ExceptionInfo) -> dict[str, str]:
    return {p["field"]: p["problem"] for p in error.value.parameters["fields"]}


# -- values ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, value", [
    (ValueSpec("boolean"), False), (ValueSpec("number"), 5), (ValueSpec("number"), 2.5),
    (ValueSpec("string"), "Acme"), (ValueSpec("date-time"), "1980-12-02T05:23:26-03:00"),
])
def test_values_of_the_right_type_are_kept(spec, value):
    assert spec.normalize(value) == value


@pytest.mark.parametrize("spec, value, text", [
    (ValueSpec("number"), True, "must be a number"),
    (ValueSpec("boolean"), "true", "must be a boolean"),
    (ValueSpec("string"), 5, "must be a string"),
    (ValueSpec("date-time"), "1980-12-02", "RFC 3339"),
    (ValueSpec("date-time"), "1980-12-02T05:23:26", "RFC 3339"),
    (ValueSpec("string", max_length=3), "abcd", "at most 3 characters"),
    (ValueSpec("string"), ["a"], "single string, not a list"),
    (ValueSpec("string", multiple=True), ["a", 1], "value 1: must be a string"),
    (ValueSpec("string", multiple=True, max_items=2), ["a", "b", "c"], "at most 2 values"),
])
def test_values_of_another_type_are_refused(spec, value, text):
    with pytest.raises(InvalidValue, match=text):
        spec.normalize(value)


def test_a_single_value_of_a_multiple_attribute_is_stored_as_a_list():
    assert ValueSpec("string", multiple=True).normalize("(00)1234-5678") == ["(00)1234-5678"]


# -- user changes ---------------------------------------------------------------------------------

def test_the_spec_example_request_is_valid():
    body = {"friendlyId": "11111111111", "firstName": "John", "middleName": "Doe", "lastName": "Smith",
            "email": "jds@example.com", "customAttributes": {
                "active": False, "classes": 5, "company": "Acme", "memberSince": "1980-12-02T05:23:26-03:00",
                "phone": ["(00)1234-5678", "(11)98765-4321"]}}
    assert validate_changes(body, ATTRIBUTES, friendly_id_allowed=True) == body


@pytest.mark.parametrize("name, limit", [("friendlyId", 255), ("firstName", 100), ("middleName", 100),
                                         ("lastName", 100), ("email", 255)])
def test_length_limits(name, limit):
    assert validate_changes({name: "x" * limit}, ATTRIBUTES, friendly_id_allowed=True) == {name: "x" * limit}
    with pytest.raises(MonitorError) as error:
        validate_changes({name: "x" * (limit + 1)}, ATTRIBUTES, friendly_id_allowed=True)
    assert error.value.status == 400 and error.value.code == "INVALID_FIELDS"
    assert problems(error) == {name: f"must be at most {limit} characters"}


def test_every_problem_is_reported_at_once():
    body = {"friendlyId": "f", "nickname": "x", "email": 3, "projectId": "not-a-guid",
            "customAttributes": {"classes": "five", "unknown": 1, "phone": [1]}}
    with pytest.raises(MonitorError) as error:
        validate_changes(body, ATTRIBUTES, friendly_id_allowed=False)
    assert problems(error) == {
        "friendlyId": "cannot be changed here: use POST /v1/users/{trackId}/identify",
        "nickname": "is not a property of a user",
        "email": "must be a string or null",
        "projectId": "must be a GUID or null",
        "customAttributes.classes": "must be a number",
        "customAttributes.unknown": "is not a registered attribute",
        "customAttributes.phone": "value 0: must be a string",
    }


def test_removing_an_unregistered_attribute_is_allowed():
    assert validate_changes({"customAttributes": {"gone": None}}, ATTRIBUTES, friendly_id_allowed=False) == {
        "customAttributes": {"gone": None}}


def test_merge_patch_removes_nulls_merges_objects_and_replaces_the_rest():
    user = {"trackId": "t", "email": "a@example.com", "firstName": "Ann",
            "customAttributes": {"company": "Acme", "classes": 5, "phone": ["1", "2"]}, "consents": {"x": {}}}
    patch = {"email": "b@example.com", "firstName": None,
             "customAttributes": {"company": None, "phone": ["3"], "active": True}}
    assert apply_changes(user, patch, NOW) == {
        "trackId": "t", "email": "b@example.com", "updatedAt": NOW, "consents": {"x": {}},
        "customAttributes": {"classes": 5, "phone": ["3"], "active": True}}
    assert user["firstName"] == "Ann"  # the record read is not modified
    assert "customAttributes" not in apply_changes(user, {"customAttributes": None}, NOW)


# -- privacy --------------------------------------------------------------------------------------

def test_personal_fields_are_names_email_friendly_id_and_identifying_attributes_being_set():
    changes = {"friendlyId": "f", "firstName": "A", "lastName": None, "projectId": "x",
               "customAttributes": {"phone": ["1"], "company": "Acme"}}
    assert personal_fields_set(changes, ATTRIBUTES) == ["friendlyId", "firstName", "customAttributes.phone"]


def test_consent_is_required_only_with_privacy_on_personal_fields_and_no_consent_or_login():
    anonymous = new_user("t", NOW, "app")
    with pytest.raises(MonitorError) as error:
        require_consent(PRIVACY, anonymous, ["email"])
    assert (error.value.status, error.value.code) == (409, "CONSENT_REQUIRED")
    assert error.value.parameters == {"fields": ["email"], "terms": ["terms-v1"]}
    require_consent(Privacy(enabled=False), anonymous, ["email"])
    require_consent(PRIVACY, anonymous, [])
    require_consent(PRIVACY, {**anonymous, "consents": {"terms-v1": {}}}, ["email"])
    require_consent(PRIVACY, {**anonymous, "login": "ann"}, ["email"])
    with pytest.raises(MonitorError):  # a consent to a term no longer offered does not count
        require_consent(PRIVACY, {**anonymous, "consents": {"terms-v0": {}}}, ["email"])


# -- identify -------------------------------------------------------------------------------------

@pytest.mark.parametrize("tracked, owner, rule", [
    ({"friendlyId": "F"}, {"friendlyId": "F"}, IdentifyRule.UNCHANGED),
    ({}, None, IdentifyRule.ASSIGN),
    ({}, {"friendlyId": "F"}, IdentifyRule.MERGE),
    ({"friendlyId": "G"}, None, IdentifyRule.NEW),
    ({"friendlyId": "G"}, {"friendlyId": "F"}, IdentifyRule.EXISTING),
    ({"login": "someone"}, None, IdentifyRule.NEW),
    ({"login": "someone"}, {"friendlyId": "F"}, IdentifyRule.EXISTING),
])
def test_identify_rules_of_the_spec(tracked, owner, rule):
    assert decide_identify(tracked, owner, "F") is rule


def context(login: str | None = None, privacy: Privacy = Privacy()) -> Context:
    return Context(privacy=privacy, app="app", login=login, now=NOW)


def test_identify_merge_folds_the_anonymous_user_into_the_owner_and_leaves_an_alias():
    anonymous = {**new_user("anon", NOW, "app"), "firstName": "Ann", "email": "ann@old.example",
                 "customAttributes": {"company": "Acme", "classes": 1}, "consents": {"terms-v1": {"acceptedAt": NOW}}}
    owner = {**new_user("owner", NOW, "app"), "friendlyId": "F", "email": "ann@example.com",
             "customAttributes": {"classes": 7}}
    writes, (rule, track_id) = plan_identify("anon", Reads(anonymous, owner), "F", context(privacy=PRIVACY), "new")
    assert (rule, track_id) == (IdentifyRule.MERGE, "owner")
    assert writes.aliases == {"anon": "owner"} and writes.claim is None and not writes.create_users
    [merged] = writes.set_users
    assert merged["friendlyId"] == "F" and merged["email"] == "ann@example.com" and merged["firstName"] == "Ann"
    assert merged["customAttributes"] == {"company": "Acme", "classes": 7}
    assert merged["consents"] == {"terms-v1": {"acceptedAt": NOW}}


def test_identify_records_the_login_of_the_authenticated_user():
    writes, (rule, _) = plan_identify("t", Reads(new_user("t", NOW, "app"), None), "F", context(login="F"), "n")
    assert rule is IdentifyRule.ASSIGN
    assert writes.set_users[0]["login"] == "F" and writes.claim == ("F", "t")


def test_create_with_a_known_friendly_id_updates_its_owner_without_a_new_claim():
    owner = {**new_user("owner", NOW, "app"), "friendlyId": "F", "consents": {"terms-v1": {}}}
    changes = {"friendlyId": "F", "firstName": "Ann"}
    writes, result = plan_create(Reads(owner=owner), changes, ["friendlyId", "firstName"],
                                 context(privacy=PRIVACY), "n")
    assert result == (False, "owner") and writes.claim is None
    assert writes.set_users[0]["firstName"] == "Ann"
    writes, result = plan_create(Reads(), changes, [], context(), "new")
    assert result == (True, "new") and writes.claim == ("F", "new") and writes.create_users[0]["friendlyId"] == "F"


def test_track_ids_are_32_url_safe_random_characters():
    ids = {new_track_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) == 32 and i.isalnum() and i.isascii() for i in ids)


# -- monitoring rules -------------------------------------------------------------------------------

def facts(**overrides) -> RequestFacts:
    return RequestFacts(**{"app": "shop", "user_agent": "Mozilla/5.0", "client_ip": "203.0.113.9", **overrides})


def test_exclusion_rules_of_the_example():
    rules = monitor_config.parse_rules(example("rules.yaml", "rules"))
    assert rules.excluding(facts()) is None
    assert "crawlers" in rules.excluding(facts(user_agent="Googlebot/2.1"))
    assert "test accounts" in rules.excluding(facts(identifiers=("qa-7",)))
    assert rules.excluding(facts(identifiers=("ann",))) is None


def test_a_friendly_id_rule_checks_the_stored_users_friendly_id_and_login_too():
    rules = monitor_config.parse_rules(example("rules.yaml", "rules"))
    # PATCH /v1/users/{trackId} carries no friendlyId: the user it concerns has one.
    assert "test accounts" in rules.excluding(facts().with_users({"trackId": "t", "friendlyId": "qa-7"}))
    assert "test accounts" in rules.excluding(facts().with_users(None, {"trackId": "t", "login": "qa-8"}))
    assert rules.excluding(facts(identifiers=("ann",)).with_users({"trackId": "t", "friendlyId": "bob"})) is None
    vip_only = MonitoringRules.from_dict({"include": [{"friendlyId": "^vip-"}]})
    assert vip_only.excluding(facts()) == "no inclusion rule matches"
    assert vip_only.excluded(facts()) is None  # the inclusion may still match through the user
    assert vip_only.excluding(facts().with_users({"trackId": "t", "friendlyId": "vip-1"})) is None


def test_inclusion_rules_and_conditions_that_must_all_match():
    rules = MonitoringRules.from_dict({"include": [{"app": "shop", "clientIp": "203.0.113.0/24"}]})
    assert rules.excluding(facts()) is None
    assert rules.excluding(facts(client_ip="198.51.100.1")) == "no inclusion rule matches"
    assert rules.excluding(facts(app="other")) == "no inclusion rule matches"
    assert rules.excluding(facts(client_ip="not an address")) == "no inclusion rule matches"


@pytest.mark.parametrize("raw, text", [
    ({"exclude": [{"userAgnt": "x"}]}, "unknown conditions"),
    ({"exclude": [{"description": "only words"}]}, "at least one of"),
    ({"exclude": [{"userAgent": "("}]}, "invalid regular expression"),
    ({"include": {"app": "x"}}, "must be a list"),
])
def test_invalid_rules_are_refused(raw, text):
    with pytest.raises(monitor_config.ConfigError, match=text):
        monitor_config.parse_rules(raw)


# -- registrations ----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, text", [
    ([{"id": "x", "type": "text"}], "type must be one of"),
    ([{"id": "1x", "type": "string"}], "id must match"),
    ([{"id": "x", "type": "string"}, {"id": "x", "type": "number"}], "listed twice"),
    ([{"id": "x", "type": "string", "identifies": True}], "unknown keys"),
])
def test_invalid_attributes_are_refused(raw, text):
    with pytest.raises(monitor_config.ConfigError, match=text):
        monitor_config.parse_attributes(raw)


@pytest.mark.parametrize("raw, text", [
    ({"id": "e", "fields": []}, "whitelabel"),
    ({"id": "e", "whitelabel": "w", "fields": [{"id": "lum_x", "type": "string"}]}, "not start with lum_"),
    ({"id": "e", "whitelabel": "w", "userFields": ["password"]}, "is not one of"),
])
def test_invalid_event_types_are_refused(raw, text):
    with pytest.raises(monitor_config.ConfigError, match=text):
        monitor_config.parse_event_types([raw])


def test_registrations_survive_the_round_trip_through_their_stored_form():
    assert monitor_config.parse_attribute(ATTRIBUTES["phone"].to_dict()) == ATTRIBUTES["phone"]
    assert monitor_config.parse_event_type(EVENT_TYPE.to_dict()) == EVENT_TYPE
    privacy = monitor_config.parse_privacy(example("privacy.yaml", "privacy"))
    assert monitor_config.parse_privacy(privacy.to_dict()) == privacy
    with pytest.raises(monitor_config.ConfigError, match="at least one term"):
        monitor_config.parse_privacy({"enabled": True})


def test_the_config_snapshot_is_reloaded_only_after_its_time():
    loads, now = [], [0.0]

    def load() -> MonitorConfig:
        loads.append(now[0])
        return MonitorConfig()

    cached = CachedConfig(load, seconds=30, clock=lambda: now[0])
    cached.get()
    now[0] = 29.9
    cached.get()
    now[0] = 30.0
    cached.get()
    assert loads == [0.0, 30.0]


# -- routes ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/v1/users/abc/identify", "/lumis/api/rest/lumis/monitor/v1/users/abc/identify",
                                  "/v1/users/abc/identify/"])
def test_routes_are_served_at_v1_and_under_the_spec_prefix(path):
    route = ROUTES.match("POST", relative_path(path))
    assert route.endpoint == "identify" and route.params == {"trackId": "abc"}


def test_unknown_routes_and_methods():
    with pytest.raises(NoRoute):
        ROUTES.match("POST", relative_path("/lumis/api/rest/lumis/monitor/v2/users"))
    with pytest.raises(MethodNotAllowed) as error:
        ROUTES.match("GET", relative_path("/v1/users/abc"))
    assert error.value.allowed == ["PATCH"]


# -- events ---------------------------------------------------------------------------------------

def test_an_occurrence_becomes_a_monitor_event_that_meets_its_contract():
    body = {"lum_user": {"trackId": "owner"}, "courseId": "c-1", "score": 9.5, "tags": "intro"}
    track_id, values = events.read_occurrence(body, EVENT_TYPE)
    assert track_id == "owner" and values == {"courseId": "c-1", "score": 9.5, "tags": ["intro"]}
    user = {**new_user("owner", NOW, "app"), "friendlyId": "F", "email": "a@example.com", "middleName": "M",
            "customAttributes": {"company": "Acme", "classes": 3}}
    event = events.envelope(EVENT_TYPE, values, user, NOW, event_id="0b6f1f8e-3c1e-4a53-9f0e-1f2d3c4b5a69")
    assert event == {
        "eventId": "0b6f1f8e-3c1e-4a53-9f0e-1f2d3c4b5a69", "eventDate": "2026-01-02T03:04:05.678Z",
        "eventType": "monitor.event", "resourceId": "course.completed", "resourceType": "monitor.eventType",
        "ownerExternalId": "owner",
        "data": {"whitelabel": "company-xpto", "timestamp": "2026-01-02T03:04:05.678Z", "fields": values,
                 "lum_user": {"trackId": "owner", "friendlyId": "F", "email": "a@example.com",
                              "customAttributes": {"company": "Acme"}}},
    }
    assert not event_contract.validate(event)
    assert events.read_occurrence({"lum_user.trackId": "t", "courseId": "c"}, EVENT_TYPE) == ("t", {"courseId": "c"})


def test_occurrence_problems():
    with pytest.raises(MonitorError) as error:
        events.read_occurrence({"score": 1}, EVENT_TYPE)
    assert error.value.code == "MISSING_FIELDS"
    assert error.value.parameters == {"fields": ["lum_user.trackId", "courseId"]}
    with pytest.raises(MonitorError) as error:
        events.read_occurrence({"lum_user": {"trackId": "t", "email": "x"}, "courseId": 1, "extra": 1}, EVENT_TYPE)
    assert problems(error) == {"lum_user.email": "is filled from the user record: send only lum_user.trackId",
                               "courseId": "must be a string",
                               "extra": "is not a field of event type course.completed"}


def test_merge_users_keeps_the_owner_values():
    merged = merge_users({"trackId": "o", "email": "o@x"}, {"trackId": "a", "email": "a@x", "lastName": "L"}, NOW)
    assert merged["email"] == "o@x" and merged["lastName"] == "L" and merged["trackId"] == "o"


def test_openapi_describes_every_route_at_both_paths():
    from shared.monitor.service import SPEC_PREFIX

    document = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi.yaml").read_text())
    for route in ROUTES.describe():
        method, _, rule = route.partition(" ")
        path = re.sub(r"<(\w+)>", r"{\1}", rule)
        assert method.lower() in document["paths"][path], path
        pointer = "#/paths/" + path.replace("~", "~0").replace("/", "~1")
        assert document["paths"][SPEC_PREFIX + path] == {"$ref": pointer}


def test_an_invalid_registration_file_is_refused_before_anything_is_written(tmp_path):
    from tools.admin_commands.monitor import apply_file

    path = tmp_path / "attributes.yaml"
    path.write_text("attributes:\n  - id: phone\n    type: telephone\n")
    with pytest.raises(monitor_config.ConfigError, match="type must be one of"):
        apply_file("attributes", path, db=None)  # type: ignore[arg-type]  # never reached
    path.write_text("eventTypes: []\n")
    with pytest.raises(monitor_config.ConfigError, match="expected a top-level `attributes:`"):
        apply_file("attributes", path, db=None)  # type: ignore[arg-type]
