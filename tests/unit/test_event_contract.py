from __future__ import annotations

import json
import shutil

import pytest

from shared.events import contract as event_contract
from tests.conftest import spec_example


@pytest.mark.parametrize("kind", ["view", "leave", "open"])
def test_every_spec_example_is_valid(kind):
    assert not event_contract.validate(spec_example(kind))


@pytest.mark.parametrize("kind,needs", [("view", {"mediaStart", "mediaEnd", "mediaCount"}),
                                        ("leave", {"mediaEnd"})])
def test_each_interaction_type_requires_its_media_fields(kind, needs):
    event = spec_example(kind)
    for name in needs:
        del event["data"][name]
    assert set(event_contract.validate(event).missing) == {f"data.{n}" for n in needs}


def test_open_needs_no_media_fields():
    event = spec_example("open")
    assert "mediaStart" not in event["data"] and not event_contract.validate(event)


def test_either_whitelabel_field_names_the_partner():
    event = spec_example("open")
    del event["data"]["ownerWhitelabel"]
    assert not event_contract.validate(event)
    del event["data"]["whitelabel"]
    assert event_contract.validate(event).missing == ["data.whitelabel"]


def test_unknown_fields_are_allowed_everywhere():
    event = spec_example("view")
    event["somethingNew"] = 1
    event["data"]["alsoNew"] = {"x": [1]}
    event["ownerData"]["more"] = True
    assert not event_contract.validate(event)


def test_event_id_must_be_uuid_v4_and_dates_iso_8601():
    event = spec_example("view")
    event["eventId"] = "ca542dca-3649-1ca4-8142-8f1761fa822f"  # version 1, not 4
    event["eventDate"] = "2022-08-29 19:13"
    event["data"]["timestamp"] = "2022-08-29T19:13:13.783"  # no time zone
    fields = {p["field"] for p in event_contract.validate(event).invalid}
    assert fields == {"eventId", "eventDate", "data.timestamp"}


def test_nested_paths_name_array_items():
    event = spec_example("view")
    event["ownerData"]["tags"] = ["ok", 3]
    assert event_contract.validate(event).invalid == [
        {"field": "ownerData.tags[1]", "problem": "3 is not of type 'string'"}]


def test_unknown_type_and_version_are_distinct_errors():
    event = spec_example("view")
    with pytest.raises(event_contract.UnsupportedVersion) as unsupported:
        event_contract.validate(event, version=2)
    assert unsupported.value.supported == [1]
    event["eventType"] = "user.teleported"
    with pytest.raises(event_contract.UnknownEventType):
        event_contract.validate(event)


def test_adding_an_event_type_is_adding_a_schema_file(tmp_path, monkeypatch):
    shutil.copytree(event_contract.SCHEMA_ROOT, tmp_path / "events")
    (tmp_path / "events" / "course.completed").mkdir()
    (tmp_path / "events" / "course.completed" / "v1.json").write_text(json.dumps({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object", "required": ["eventId", "courseId"],
    }))
    monkeypatch.setattr(event_contract, "SCHEMA_ROOT", tmp_path / "events")
    event_contract._validators.cache_clear()
    try:
        assert "course.completed" in event_contract.known_event_types()
        assert event_contract.validate({"eventType": "course.completed", "eventId": "x"}).missing == ["courseId"]
    finally:
        event_contract._validators.cache_clear()
