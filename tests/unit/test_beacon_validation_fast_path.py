"""The beacon's verdict (jsonschema-rs) may only ever be stricter than its Ajv-shaped error check,
never more lenient: an instance it accepts has no error (shared/retail_media/ajv_errors.py, "The
verdict"). The error answers themselves are test_beacon_ajv_golden.py's."""

from __future__ import annotations

import copy
import json
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.retail_media.ajv_errors import (
    AjvSchema,
    UnsupportedSchema,
    ajv_date_time,
    date_time_milliseconds,
)
from shared.retail_media.beacon import CREATED_AT, schema
from shared.retail_media.conversion import created_at_bound
from tests.conftest import value_paths
from tests.unit.test_beacon_ajv_golden import GOLDEN, SCHEMA_OF, golden_case, golden_cases

# Repeatable (every run draws the same documents) and without a deadline: the machine is shared.
REPEATABLE = settings(max_examples=1500, deadline=None, derandomize=True, database=None,
                      suppress_health_check=[HealthCheck.too_slow])

CONVERSION = {
    "channel": "ecommerce", "publisher_id": "demo-publisher", "user_id": "u-1", "session_id": "s-1",
    "order_id": "o-1", "email_hashed": "0" * 64, "created_at": "2026-01-01T00:00:00.000Z",
    "brand": "Loja", "gender": "f", "uf": "SP", "city": "São Paulo", "is_company": False,
    "phone_hashed": "p", "social_id_hashed": None, "first_name_hashed": "f", "last_name_hashed": "l",
    "items": [{"sku": "SKU-004", "seller_id": None, "product_id": "P", "quantity": 1, "price": 110.0,
               "promotional_price": 99.9}],
}
AD_EVENT = {"session_id": "s-1", "user_id": None}
BOUND = "2026-06-01T00:00:00.000Z"

# created_at as clients get it right and wrong: JavaScript's and Python's semantics differ on
# most of these (ASCII digits, "$" before a newline, leap seconds, separators, the bound).
DATE_TIMES = [
    "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123456789Z", "2026-01-01T00:00:00+00:00", BOUND,
    "2026-06-01T00:00:00.001Z", "2026-06-01T00:00:00.0009Z", "2099-01-01T00:00:00Z",
    "2016-12-31T23:59:60Z", "2016-12-31T22:59:60Z", "2099-12-31T23:59:60Z", "2026-05-31T23:59:60Z",
    "2026-01-01T00:00:00Z\n", "2026-01-01T00:00:00Z ", "٢٠٢٦-01-01T00:00:00Z", "２０２６-01-01T00:00:00Z",
    "2026-01-01T0٠:00:00Z", "2026-01-01 00:00:00Z", "2026-01-01t00:00:00z", "2026-01-01T00:00:00.Z",
    "2026-02-29T00:00:00Z", "2024-02-29T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00+01:00",
    "2026-01-01T00:00:00", "202--08-29T19:13:13.783Z", "2026-01-01T00:00:00.1234567890Z", "",
]
NUMBERS = [0, -0.0, 1, -1, 0.5, 5e-324, -5e-324, 2**63, 2**64 + 1, 10**30, 10**308, -(10**308),
           int(sys.float_info.max), 2**1024, 10**400, -(10**400), sys.float_info.max,
           float("inf"), float("-inf"), float("nan")]
STRINGS = ["", "x", "F", "m", "o", "X", "a" * 256, "a" * 257, "😀" * 256, "😀" * 257, "\ud800", "a\udfff",
           "\ud83d\ude00", "\x00", "0" * 64]

dates = st.sampled_from(DATE_TIMES) | st.builds(
    lambda moment, digits, zone: moment.strftime("%Y-%m-%dT%H:%M:%S") + digits + zone,
    st.datetimes(), st.sampled_from(["", ".5", ".123", ".1234567890"]), st.sampled_from(["Z", "+00:00", "z", "-00:00"]))
leaves = (st.none() | st.booleans() | st.sampled_from(NUMBERS) | st.integers() | st.floats()
          | st.sampled_from(STRINGS) | st.text(max_size=8) | dates)
# The bounds the beacon adds: the time of receipt plus the clock skew, in milliseconds.
bounds = st.builds(created_at_bound, st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1),
                                                  timezones=st.just(timezone.utc)),
                   st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=1)))
values = st.recursive(leaves, lambda children: st.lists(children, max_size=3)
                      | st.dictionaries(st.text(max_size=4) | st.sampled_from(["sku", "\ud800"]), children, max_size=3),
                      max_leaves=6)


def _mutated(document: Any, data: st.DataObject) -> Any:
    """``document`` with none to three of its values replaced, removed or added."""
    mutant = copy.deepcopy(document)
    for _ in range(data.draw(st.integers(0, 3))):
        paths = list(value_paths(mutant))
        if not paths:
            return data.draw(values)
        path = data.draw(st.sampled_from(paths))
        parent = mutant
        for part in path[:-1]:
            parent = parent[part]
        action = data.draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "remove" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[data.draw(st.text(max_size=4) | st.sampled_from(["\ud800", "brand"]))] = data.draw(values)
        else:
            parent[path[-1]] = data.draw(values)
    return mutant


def _assert_no_error_where_accepted(ajv_schema: AjvSchema, document: Any, additions: Any = None) -> None:
    if ajv_schema.accepts(document, additions):
        assert ajv_schema.collected_errors(document, additions) == [], repr(document)


@REPEATABLE
@given(st.data())
def test_a_conversion_the_verdict_accepts_has_no_error(data: st.DataObject) -> None:
    document = _mutated(CONVERSION, data)
    bound = data.draw(st.none() | st.just(BOUND) | bounds)
    _assert_no_error_where_accepted(schema("conversion"), document,
                                    None if bound is None else {CREATED_AT: {"formatMaximum": bound}})


@REPEATABLE
@given(st.data())
def test_an_ad_event_the_verdict_accepts_has_no_error(data: st.DataObject) -> None:
    _assert_no_error_where_accepted(schema("ad_event"), _mutated(AD_EVENT, data))


# Each keyword AjvSchema supports, without the beacon schemas' patterns around their date-times
# and numbers, which hide some of the differences (jsonschema-rs's date-time, integers).
KEYWORDS = AjvSchema({"type": "object", "required": ["at"], "properties": {
    "at": {"type": ["string", "null"], "format": "date-time"},
    "count": {"type": "number", "minimum": 0},
    "digits": {"type": "string", "pattern": "^\\d+\\s?$", "maxLength": 3},
    "list": {"type": "array", "minItems": 1, "items": {"type": ["number", "null"], "exclusiveMaximum": 10}},
    "kind": {"enum": ["a", None], "const": "a"},
}})
KEYWORDS_VALID = {"at": "2026-01-01T00:00:00Z", "count": 1, "digits": "12", "list": [1, None], "kind": "a"}
numbers = st.sampled_from(NUMBERS) | st.integers() | st.floats() | st.none()
near_keywords = {"at": dates, "count": numbers, "list": st.lists(numbers, max_size=3),
                 "digits": st.text(alphabet="09٣３\n \t\x1c\x85\xa0\ufeff\u2028", max_size=4),
                 "kind": st.sampled_from(["a", "b", None])}


@REPEATABLE
@given(st.data())
def test_an_instance_the_verdict_accepts_has_no_error_for_each_keyword(data: st.DataObject) -> None:
    document: dict[str, Any] = dict(KEYWORDS_VALID)
    for name in data.draw(st.lists(st.sampled_from(sorted(near_keywords)), max_size=2, unique=True)):
        document[name] = data.draw(near_keywords[name] | leaves)
    bound = data.draw(st.none() | st.just(BOUND) | bounds)
    additions = None if bound is None else {"/properties/at": {"formatMaximum": bound}}
    _assert_no_error_where_accepted(KEYWORDS, document, additions)


@pytest.mark.parametrize("directory,name", golden_cases())
def test_the_verdict_is_ajvs_on_every_golden_case(directory: str, name: str) -> None:
    valid = json.loads((GOLDEN / directory / f"{name}.json").read_text(encoding="utf-8"))["valid"]
    case = golden_case(directory, name)
    assert schema(SCHEMA_OF[directory]).accepts(case["body"], case.get("schemaAdditions")) is valid


def test_a_valid_conversion_is_answered_by_the_verdict_alone() -> None:
    # What the beacon asks for every conversion: the schema and the bound of its receipt.
    assert schema("conversion").accepts(CONVERSION, {CREATED_AT: {"formatMaximum": BOUND}})
    assert schema("ad_event").accepts(AD_EVENT)


# -- each difference between jsonschema-rs and the Ajv semantics the full check reproduces --------

@pytest.mark.parametrize("pattern,value,valid", [
    (r"^\d+$", "٣", False),  # \d is ASCII in JavaScript (Python's and Rust's default: any digit)
    (r"^\d+$", "３", False),
    (r"^a$", "a\n", False),  # JavaScript's $ is the very end (Python's: also before a final newline)
    (r"^\s$", "\u0085", False),  # JavaScript's \s lacks U+0085 and U+001C (Python's has them)...
    (r"^\s$", "\x1c", False),
    (r"^\s$", "\ufeff", True),  # ...and has U+FEFF (Python's and Rust's do not)
    (r"^\S$", "\ufeff", False),
    (r"^\w$", "é", False),
])
def test_patterns_are_javascripts_in_both(pattern: str, value: str, valid: bool) -> None:
    ajv_schema = AjvSchema({"type": "string", "pattern": pattern})
    assert ajv_schema.accepts(value) is valid
    assert (ajv_schema.collected_errors(value) == []) is valid


@pytest.mark.parametrize("number", [float("inf"), float("-inf"), float("nan"), 10**400, -(10**400), 2**1024])
def test_a_number_beyond_a_double_is_refused_by_both(number: Any) -> None:
    # Ajv's numbers are finite doubles; jsonschema-rs alone takes an integer of any size.
    assert jsonschema_rs.Draft7Validator({"type": "number"}).is_valid(10**400)
    ajv_schema = AjvSchema({"type": "number", "minimum": 0})
    assert not ajv_schema.accepts(number)
    assert [e["keyword"] for e in ajv_schema.collected_errors(number)] == ["type"]


def test_a_large_integer_within_a_double_is_a_number_to_both() -> None:
    ajv_schema = AjvSchema({"type": ["number", "null"], "minimum": 0})
    assert ajv_schema.accepts(10**308)
    assert ajv_schema.collected_errors(10**308) == []


def test_date_time_is_ajv_formats_in_both() -> None:
    # jsonschema-rs's own date-time check accepts this; ajv-formats does not.
    assert jsonschema_rs.Draft7Validator({"format": "date-time"}, validate_formats=True).is_valid(
        "202--08-29T19:13:13.783Z")
    ajv_schema = AjvSchema({"type": "string", "format": "date-time"})
    assert not ajv_schema.accepts("202--08-29T19:13:13.783Z")
    # ...and this one (a space for the T, an hour-only offset) ajv-formats accepts, jsonschema-rs not.
    assert ajv_schema.accepts("2023-01-01 09:20:00+01")


@pytest.mark.parametrize("created_at,accepted", [
    (BOUND, True),
    ("2026-06-01T00:00:00.0009Z", True),  # JavaScript's Date keeps milliseconds
    ("2026-06-01T00:00:00.001Z", False),
    ("2026-05-31T23:59:60Z", True),  # a leap second is its minute's last millisecond here...
    ("2099-12-31T23:59:60Z", False),  # ...so a future one is refused (ajv-formats cannot compare it)
    ("2099-01-01T00:00:00+00:00", False),
])
def test_the_bound_added_for_one_request_is_checked_by_the_verdict(created_at: str, accepted: bool) -> None:
    # formatMaximum is not a jsonschema-rs keyword: it ignores it.
    assert jsonschema_rs.Draft7Validator({"formatMaximum": BOUND}).is_valid("2099-01-01T00:00:00Z")
    conversion = {**CONVERSION, "created_at": created_at}
    additions = {CREATED_AT: {"formatMaximum": BOUND}}
    assert schema("conversion").accepts(conversion, additions) is accepted
    assert (schema("conversion").collected_errors(conversion, additions) == []) is accepted


@pytest.mark.parametrize("value,milliseconds", [
    ("2016-12-31T24:59:60+01:00", 1483228799999),  # 23:59:60 UTC, the last millisecond of 2016
    ("2016-12-31T23:60:60+00:01", 1483228799999),
    ("2016-12-31T24:59:00+01:00", 1483228740000),  # ajv-formats lets any second below 61 through here
])
def test_a_leap_second_written_past_23_59_is_compared(value: str, milliseconds: int) -> None:
    # ajv-formats' date-time accepts these; datetime refuses an hour of 24 or a minute of 60.
    assert ajv_date_time(value) and date_time_milliseconds(value) == milliseconds
    date_time, moment = AjvSchema({"type": "string", "format": "date-time"}), _utc(milliseconds)
    assert date_time.errors(value, {"": {"formatMaximum": created_at_bound(moment, timedelta(0))}}) == []
    too_late = date_time.errors(value, {"": {"formatMaximum": created_at_bound(moment, timedelta(milliseconds=-1))}})
    assert [e["keyword"] for e in too_late] == ["formatMaximum"]


def _utc(milliseconds: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=milliseconds)


def test_a_bound_in_the_schema_itself_is_checked_by_the_verdict() -> None:
    items = AjvSchema({"type": "array", "items": {"type": "object", "properties": {
        "at": {"type": "string", "format": "date-time", "formatMaximum": BOUND}}}})
    late = [{"at": "2026-01-01T00:00:00Z"}, {"at": "2099-01-01T00:00:00Z"}]
    assert not items.accepts(late)
    assert [e["instancePath"] for e in items.collected_errors(late)] == ["/1/at"]
    # An addition at the same place replaces it, as in the full check.
    assert items.accepts(late, {"/items/properties/at": {"formatMaximum": "2100-01-01T00:00:00Z"}})
    assert items.collected_errors(late, {"/items/properties/at": {"formatMaximum": "2100-01-01T00:00:00Z"}}) == []


def test_a_value_jsonschema_rs_cannot_read_leaves_the_full_check_to_decide() -> None:
    # A lone surrogate (JSON.parse makes one of "\\ud800"): jsonschema-rs reads the type and
    # length of such a string, but raises where it must read its text: a pattern, or a key (the
    # conversion schema's properties are many: it looks each key of the instance up).
    pattern = AjvSchema({"type": "object", "properties": {"a": {"type": "string", "pattern": "^a"}}})
    for ajv_schema, instance in [(pattern, {"a": "a\ud800"}), (schema("conversion"), {**CONVERSION, "\ud800": 1})]:
        with pytest.raises(UnicodeEncodeError):
            ajv_schema._verdict.is_valid(instance)
        assert not ajv_schema.accepts(instance)
        assert ajv_schema.errors(instance) == []
    assert schema("conversion").accepts({**CONVERSION, "session_id": "\ud800"})
    assert schema("conversion").collected_errors({**CONVERSION, "session_id": "\ud800"}) == []


@pytest.mark.parametrize("additions,refusal", [
    ({"": {"minimum": 2}}, UnsupportedSchema),
    ({"/properties/session_id": {"formatMaximum": BOUND}}, UnsupportedSchema),
    ({"/properties/nowhere": {"formatMaximum": BOUND}}, KeyError),
])
def test_an_addition_the_full_check_refuses_is_refused_for_a_valid_instance_too(additions: Any, refusal: type) -> None:
    assert not schema("conversion").accepts(CONVERSION, additions)
    with pytest.raises(refusal):
        schema("conversion").errors(CONVERSION, additions)
