"""The contract's fast path (jsonschema-rs) gives jsonschema's verdict: it may only ever be stricter,
and then jsonschema decides, so the answers stay jsonschema's (shared/events/contract.py)."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from shared.events import contract as event_contract
from tests.conftest import spec_example, value_paths

MONITOR_EVENT = {
    "eventId": "0b6f1f8e-3c1e-4a53-9f0e-1f2d3c4b5a69", "eventDate": "2026-01-02T03:04:05.678Z",
    "eventType": "monitor.event", "resourceId": "course.completed", "resourceType": "monitor.eventType",
    "ownerExternalId": "owner",
    "data": {"whitelabel": "company-xpto", "timestamp": "2026-01-02T03:04:05.678Z", "fields": {"score": 9.5},
             "lum_user": {"trackId": "owner", "friendlyId": "F", "customAttributes": {"company": "Acme"}}},
}
# Replacement values that exercise every keyword of the two schemas: types, formats, patterns,
# minLength, minimum, enum, const. No newline: see test_a_stricter_verdict_leaves_jsonschema_to_decide.
VALUES: list[Any] = [
    None, True, 0, -1, 2.5, -0.5, 10**30, "", "x", "view", "leave", "open", "monitor.eventType",
    "user.interaction", "monitor.event", "ca542dca-3649-4ca4-8142-8f1761fa822f", "ca542dca-3649-1ca4-8142-8f1761fa822f",
    "2022-08-29T19:13:13.783Z", "2022-08-29T19:13:13+03:00", "2022-08-29 19:13", "2022-02-30T10:00:00Z",
    "2022-08-29T23:59:60Z", "202--08-29T19:13:13.783Z", "2022-08-29t19:13:13z", "0000-01-01T00:00:00Z", [], ["a", 3],
    {}, {"trackId": ""}, "é😀",
]


def _mutated(document: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The document with one to three fields replaced by a value of VALUES or removed."""
    mutant = copy.deepcopy(document)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(list(value_paths(mutant)) or [()])
        if not path:
            break
        parent = mutant
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict) and rng.random() < 0.3:
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(VALUES))
    return mutant


def _corpus() -> list[dict[str, Any]]:
    rng = random.Random(20260110)
    originals = [spec_example(kind) for kind in ("view", "leave", "open")] + [MONITOR_EVENT]
    return originals + [_mutated(rng.choice(originals), rng) for _ in range(3000)]


def _compiled(event: dict[str, Any]) -> event_contract.CompiledSchema:
    return event_contract._validators()[event["eventType"]][1]


def test_the_verdict_is_jsonschemas_on_valid_and_invalid_events():
    corpus = [e for e in _corpus() if e.get("eventType") in event_contract.known_event_types()]
    verdicts = [(_compiled(e).accepts(e), _compiled(e).errors.is_valid(e)) for e in corpus]
    assert {fast for fast, _ in verdicts} == {True, False} and {full for _, full in verdicts} == {True, False}
    disagreements = [json.dumps(e) for e, (fast, full) in zip(corpus, verdicts) if fast != full]
    assert disagreements == []


def test_an_event_the_fast_validator_accepts_has_no_violation():
    for event in _corpus():
        if event.get("eventType") in event_contract.known_event_types() and _compiled(event).accepts(event):
            assert list(_compiled(event).errors.iter_errors(event)) == []


@pytest.mark.parametrize("mutate", [
    # Python's `$` also matches before a final newline: jsonschema accepts this eventId, jsonschema-rs does not.
    lambda e: e.__setitem__("eventId", e["eventId"] + "\n"),
    # NaN and Infinity (Python's json reads them) are numbers to jsonschema, not to jsonschema-rs.
    lambda e: e["data"].__setitem__("mediaStart", float("nan")),
    lambda e: e["data"].__setitem__("mediaStart", float("inf")),
    # A key jsonschema-rs cannot read (a lone surrogate, which json.loads makes of "\\ud800").
    lambda e: e["data"].__setitem__("\ud800", 1),
], ids=["newline-after-pattern", "nan", "infinity", "lone-surrogate-key"])
def test_a_stricter_verdict_leaves_jsonschema_to_decide(mutate):
    event = spec_example("view")
    mutate(event)
    assert not _compiled(event).accepts(event)
    assert _compiled(event).errors.is_valid(event)
    assert not event_contract.validate(event)


def test_formats_are_checked_with_jsonschemas_own_functions():
    # jsonschema-rs's built-in date-time check accepts this; the contract must not.
    event = spec_example("open")
    event["eventDate"] = "202--08-29T19:13:13.783Z"
    assert not _compiled(event).accepts(event)
    assert event_contract.validate(event).invalid == [
        {"field": "eventDate", "problem": "must be an ISO 8601 date-time with a time zone"}]
