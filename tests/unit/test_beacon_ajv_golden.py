"""The beacon's 422 bodies against real Ajv: tests/golden/<schema>/<case>.json were written by
tools/ajv/golden.mjs (Ajv 8, allErrors, ajv-formats) from tests/golden/inputs/<schema>.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.retail_media.ajv_errors import (
    AjvSchema,
    UnsupportedSchema,
    ajv_date_time,
    date_time_milliseconds,
)
from shared.retail_media.beacon import parse_json, schema

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
SCHEMA_OF = {"conversions": "conversion", "ad_events": "ad_event"}
AJV_FIELDS = ["instancePath", "schemaPath", "keyword", "params", "message"]


def golden_cases() -> list[tuple[str, str]]:
    return [(directory, path.stem) for directory in SCHEMA_OF for path in sorted((GOLDEN / directory).glob("*.json"))]


def golden_case(directory: str, name: str) -> dict:
    """{name, body or text, schemaAdditions?}: schemaAdditions are the keywords the beacon adds for
    one request (created_at's formatMaximum), added by golden.mjs the same way. ``text`` is a
    request body, read here by the beacon's decoder as golden.mjs reads it with JSON.parse."""
    cases = json.loads((GOLDEN / "inputs" / f"{directory}.json").read_text(encoding="utf-8"))
    case = next(c for c in cases if c["name"] == name)
    if "text" in case:
        case["body"] = parse_json(case["text"].encode("utf-8", "surrogatepass"))
    return case


def test_every_input_has_its_golden_output() -> None:
    for directory in SCHEMA_OF:
        inputs = {c["name"] for c in json.loads((GOLDEN / "inputs" / f"{directory}.json").read_text())}
        outputs = {p.stem for p in (GOLDEN / directory).glob("*.json")}
        assert inputs == outputs, f"run tools/ajv/golden.mjs again: {directory} inputs and outputs differ"


@pytest.mark.parametrize("directory,name", golden_cases())
def test_errors_equal_ajv_field_by_field(directory: str, name: str) -> None:
    golden = json.loads((GOLDEN / directory / f"{name}.json").read_text(encoding="utf-8"))
    assert golden["schema"] == f"shared/retail_media/schemas/{SCHEMA_OF[directory]}.json"
    case = golden_case(directory, name)
    got = schema(SCHEMA_OF[directory]).errors(case["body"], case.get("schemaAdditions"))
    assert len(got) == len(golden["errors"]), [e["message"] for e in got]
    for index, (ours, ajv) in enumerate(zip(got, golden["errors"])):
        for field in AJV_FIELDS:
            assert ours[field] == ajv[field], f"error {index}, field {field}"
        assert set(ours) == set(ajv)
    assert (not got) == golden["valid"]


def test_spec_error_example_is_reproduced_exactly() -> None:
    # The spec's 422 example: the five missing fields, in the spec's order.
    body = json.loads((GOLDEN / "conversions" / "spec_error_example.json").read_text())["errors"]
    assert [e["params"]["missingProperty"] for e in body] == ["user_id", "order_id", "publisher_id", "items",
                                                             "created_at"]
    assert body[0] == {"instancePath": "", "keyword": "required", "message": "must have required property 'user_id'",
                       "params": {"missingProperty": "user_id"}, "schemaPath": "#/required"}


def test_golden_set_covers_every_keyword_the_schemas_use() -> None:
    used: set[str] = set()

    def walk(node: dict) -> None:
        used.update(k for k in node if k not in ("$schema", "title", "description", "properties", "items"))
        for sub in node.get("properties", {}).values():
            walk(sub)
        if "items" in node:
            used.add("items")
            walk(node["items"])
    for name in SCHEMA_OF.values():
        walk(schema(name).schema)
    reported = {e["keyword"] for d in SCHEMA_OF for p in (GOLDEN / d).glob("*.json")
                for e in json.loads(p.read_text())["errors"]}
    assert used - {"items"} <= reported, used - reported


def test_a_keyword_without_an_ajv_conversion_is_refused_when_loading() -> None:
    with pytest.raises(UnsupportedSchema, match="oneOf"):
        AjvSchema({"type": "object", "properties": {"a": {"oneOf": [{"type": "string"}]}}})
    with pytest.raises(UnsupportedSchema, match="format"):
        AjvSchema({"type": "string", "format": "email"})


@pytest.mark.parametrize("value,valid", [
    ("2023-01-01T09:20:00Z", True),
    ("2023-01-01 09:20:00z", True),
    ("2024-02-29T00:00:00+05:30", True),
    ("2023-02-29T00:00:00Z", False),
    ("2023-01-01T09:20:00", False),
    ("2016-12-31T23:59:60Z", True),
    ("2016-12-31T22:59:60-01:00", True),
    ("2016-12-31T22:59:60Z", False),
    ("2023-01-01T09:20:00+24:00", False),
])
def test_date_time_is_ajv_formats_full_check(value: str, valid: bool) -> None:
    assert ajv_date_time(value) is valid


@pytest.mark.parametrize("value,milliseconds", [
    ("1970-01-01T00:00:01Z", 1000),
    ("1970-01-01T00:00:00.9999Z", 999),  # JavaScript's Date keeps milliseconds
    ("1970-01-01 01:00:00+0100", 0),
    ("1970-01-01t00:00:00-00:30", 1_800_000),
    ("1970-01-01T00:00:00+01", None),  # NaN in JavaScript: ajv-formats does not compare
    ("1970-01-01T00:00:59.5Z", 59_500),
    ("1970-01-01T00:00:60Z", 59_999),  # NaN in JavaScript; here the minute's last millisecond
])
def test_date_time_milliseconds_as_javascript_dates(value: str, milliseconds: int | None) -> None:
    assert date_time_milliseconds(value) == milliseconds


def test_a_future_leap_second_is_refused_unlike_ajv_formats() -> None:
    # Deliberate: JavaScript cannot parse 23:59:60, so ajv-formats would accept this date.
    bound = AjvSchema({"type": "string", "format": "date-time"})
    errors = bound.errors("2099-12-31T23:59:60Z", {"": {"formatMaximum": "2026-01-01T00:00:00.000Z"}})
    assert [(e["keyword"], e["message"]) for e in errors] == [
        ("formatMaximum", "should be <= 2026-01-01T00:00:00.000Z")]


def test_only_known_keywords_can_be_added_for_one_validation() -> None:
    with pytest.raises(UnsupportedSchema, match="minimum"):
        AjvSchema({"type": "number"}).errors(1, {"": {"minimum": 2}})
    with pytest.raises(UnsupportedSchema, match="formatMaximum needs format date-time"):
        AjvSchema({"type": "string"}).errors("x", {"": {"formatMaximum": "2026-01-01T00:00:00Z"}})
