"""Property-based: shared/platform/json_body, the one JSON decoding policy, against Python's own
json as the reference where that can read the text, and against the policy's rules where it
cannot (deep nesting, huge numbers, unpaired surrogates). No server needed."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shared.events.message import encode_event
from shared.platform import json_body
from shared.platform.http import Answer, to_response
from shared.platform.json_body import MAX_DEPTH, JsonRefused, decode, decode_as_javascript, well_formed
from tests.reliability.bad_input_support import BOUNDED

MANY = settings(BOUNDED, max_examples=300)

# JSON values whose strings may hold any code point, often surrogates (alone, in pairs, or around
# escaped backslashes), brackets and quotes.
code_points = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff", "\U0001f600", "\\", '"', "[", "}", "a", "\x00"]) \
    | st.characters(exclude_categories=())
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 63), 2 ** 63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(code_points, max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=20,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


def has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, list):
        return any(map(has_surrogate, value))
    if isinstance(value, dict):
        return any(map(has_surrogate, value)) or any(map(has_surrogate, value.values()))
    return False


def truncated(value: Any, levels: int) -> Any:
    """``value`` with every array or object below ``levels`` nested ones emptied."""
    if isinstance(value, list):
        return [] if levels == 0 else [truncated(v, levels - 1) for v in value]
    if isinstance(value, dict):
        return {} if levels == 0 else {k: truncated(v, levels - 1) for k, v in value.items()}
    return value


def nest(value: Any, levels: int, keys: st.DataObject) -> Any:
    for _ in range(levels):
        value = [value] if keys.draw(st.booleans()) else {keys.draw(st.sampled_from(["a", "]", "{\"", ""])): value}
    return value


@MANY
@given(value=values, ensure_ascii=st.booleans())
@example(value="\ud800a\udc00", ensure_ascii=True)  # a high and a low surrogate, apart
@example(value="\ud800\\\udc00", ensure_ascii=True)  # apart by an escaped backslash only
@example(value=["\udc00\ud800", "\\ud800"], ensure_ascii=True)  # in the wrong order; a backslash then "ud800"
@example(value={"\udfff": "\U0001f600"}, ensure_ascii=True)  # in a key
def test_shallow_json_reads_as_pythons_json_unless_it_holds_a_lone_surrogate(value: Any, ensure_ascii: bool) -> None:
    try:
        body = json.dumps(value, ensure_ascii=ensure_ascii).encode("utf-8")
    except UnicodeEncodeError:
        body = json.dumps(value).encode("utf-8")  # a lone surrogate can only be sent escaped
    assert decode_as_javascript(body) == json.loads(body)
    if has_surrogate(value):
        with pytest.raises(JsonRefused, match="unpaired UTF-16 surrogate") as refused:
            decode(body)
        assert refused.value.document == well_formed(json.loads(body))
        assert not has_surrogate(refused.value.document)
    else:
        assert decode(body) == json.loads(body)


@MANY
@given(data=st.data(), value=values, levels=st.integers(0, 3 * MAX_DEPTH))
def test_any_depth_is_refused_or_read_in_bands_never_a_recursion_error(data: st.DataObject, value: Any,
                                                                       levels: int) -> None:
    document = nest(value, levels, data)
    body = json.dumps(document).encode()
    assert json_body.too_deep(body) is (depth(document) > MAX_DEPTH)
    if depth(document) > MAX_DEPTH:
        with pytest.raises(JsonRefused, match="nested deeper than 64"):
            decode(body)
    # JSON.parse reads any depth: so does the beacon, deeper than MAX_DEPTH as empty containers.
    assert decode_as_javascript(body) == truncated(json.loads(body), MAX_DEPTH)


@BOUNDED
@given(data=st.data(), value=values, levels=st.integers(MAX_DEPTH + 1, 400), cut=st.integers(0, 10 ** 6),
       insert=st.sampled_from(["", "]", "}", ",", "\"", "[", "x", "NaN", "\\"]))
def test_a_deep_text_is_refused_exactly_when_it_is_not_json(data: st.DataObject, value: Any, levels: int, cut: int,
                                                            insert: str) -> None:
    text = json.dumps(nest(value, levels, data))
    position = cut % (len(text) + 1)
    text = text[:position] + insert + text[position + (1 if insert else 0):]
    try:
        expected: Any = truncated(json.loads(text, parse_constant=_refuse), MAX_DEPTH)
    except ValueError:
        expected = JsonRefused
    try:
        got: Any = decode_as_javascript(text.encode())
    except JsonRefused:
        got = JsonRefused
    assert got == expected


def _refuse(constant: str) -> Any:
    raise ValueError(constant)


@pytest.mark.parametrize("before", ['"\\u0085", ', '"\\n]", ', '"\\\\", ', '"[\\"", ', ""])
def test_depth_is_counted_after_strings_with_escapes_and_brackets(before: str) -> None:
    nested = '{"k": [' * 750 + "]}" * 750  # keys: quotes after the escape
    body = f"[{before}{nested}]".encode()
    assert json_body.too_deep(body)
    with pytest.raises(JsonRefused, match="nested deeper than 64"):
        decode(body)
    assert depth(decode_as_javascript(body)) == MAX_DEPTH + 1


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 1000, 100_000])
def test_nesting_far_beyond_pythons_recursion_limit(levels: int) -> None:
    body = b"[" * levels + b"]" * levels
    with pytest.raises(JsonRefused):
        decode(body)
    inner = decode_as_javascript(b'{"items": [' + body + b"]}")["items"][0]
    assert depth(inner) == MAX_DEPTH - 1  # 62 levels within it, then an empty array


@MANY
@given(digits=st.integers(1, 6000), sign=st.sampled_from(["", "-"]), lead=st.integers(1, 9))
def test_integers_of_any_length_are_read_as_javascript_reads_them(digits: int, sign: str, lead: int) -> None:
    text = sign + str(lead) + "0" * (digits - 1)
    number = decode_as_javascript(text.encode())
    if digits <= 19 and abs(int(text)) < 2 ** 63:
        assert number == int(text) and isinstance(number, int)
    else:
        assert number == float(text)  # inf beyond the double range, as JSON.parse reads it
    if math.isfinite(float(text)):
        assert decode(text.encode()) == number
    else:
        with pytest.raises(JsonRefused, match="beyond the range of a double"):
            decode(text.encode())


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "[1, NaN]", '{"a": Infinity}'])
def test_nan_and_infinity_are_not_json_for_anyone(text: str) -> None:
    with pytest.raises(JsonRefused, match="is not a JSON value") as refused:
        decode(text.encode())
    assert refused.value.document in (None, [1, None], {"a": None})
    with pytest.raises(JsonRefused):
        decode_as_javascript(text.encode())


@pytest.mark.parametrize("body", [b"\xff", b'"\xed\xa0\x80"', b"\xef\xbb\xbf{}", b'"\\x"', b"", b"{} {}"])
def test_what_is_not_utf8_json_is_refused(body: bytes) -> None:
    for reader in (decode, decode_as_javascript):
        with pytest.raises(JsonRefused):
            reader(body)


def test_what_leaves_is_rfc_8259_json() -> None:
    # An event is never encoded with NaN or an infinity, which partners' parsers refuse.
    for number in (float("nan"), float("inf")):
        with pytest.raises(ValueError):
            encode_event({"eventId": "e", "data": {"x": number}})
    # An answer echoing a string that is not Unicode is still JSON, escaped as JSON.stringify does.
    response = to_response(Answer(400, {"field": "a\udc00", "name": "é"}))
    assert response.get_data() == b'{"field": "a\\udc00", "name": "\\u00e9"}'
    assert to_response(Answer(400, {"name": "é"})).get_data() == '{"name": "é"}'.encode()
