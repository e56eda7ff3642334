"""JSON Schema validation whose errors read exactly like Ajv's (``allErrors: true``).

The beacon's 422 answers follow the retail-media spec, which shows Ajv's error objects:
``{instancePath, schemaPath, keyword, params, message}`` with Ajv's message texts. The checks
themselves are jsonschema's (draft-07); this module turns its errors into Ajv's objects and
puts them in the order Ajv reports them. tests/golden holds real Ajv's output for the same
schemas and inputs (tools/ajv/golden.mjs) and the tests compare the two field by field. A body
is checked by jsonschema only when jsonschema-rs, which gives the verdict in microseconds, does
not accept it ("The verdict" below).

How Ajv orders errors (ajv/lib/compile/validate): within one schema object it runs keywords
group by group: keywords for any type (const, enum), then those for numbers, strings,
arrays, objects, each group in vocabulary order (``required`` before ``properties``);
``properties`` follows the schema's key order and ``items`` the array's. A type error comes
first when the schema has several types or no keyword of its one type's group, otherwise in
that group's place.

Ajv's JavaScript semantics that differ from Python's are reproduced: ``pattern`` uses
JavaScript's ``$`` (end of string only, not before a final newline) and ASCII ``\\d``;
``number`` means a finite number; ``date-time`` is ajv-formats' full check. Only the keywords
in SUPPORTED are handled, checked when a schema is loaded, so a schema cannot silently use one
whose errors would not match Ajv's.

A bound that depends on the request (created_at at most "now" plus a clock skew) cannot be
written in a schema file: ``errors(instance, additions)`` adds keywords at schema pointers for
one validation. ``formatMaximum`` is ajv-formats' keyword, reported exactly as ajv-formats
reports it for a value that is a valid ``date-time`` (ajv-formats compares any string that
JavaScript's ``Date`` parses, for example a date without a time; such a value is already
refused by ``format`` here, and no bound is added to its errors). One deliberate difference: a
future leap second (``23:59:60``, which JavaScript cannot parse, so ajv-formats lets it pass)
is refused like any other future date-time.
"""

from __future__ import annotations

import math
import re
import sys
from collections import deque
from datetime import date
from functools import lru_cache
from typing import Any, Iterable, Mapping

import jsonschema_rs
from jsonschema import Draft7Validator, FormatChecker, ValidationError, validators

# Keyword groups in the order Ajv runs them; within a group, Ajv's vocabulary order.
_GROUPS: list[tuple[str | None, list[str]]] = [
    (None, ["const", "enum"]),
    ("number", ["maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum", "format"]),
    ("string", ["maxLength", "minLength", "pattern", "format", "formatMaximum"]),
    ("array", ["maxItems", "minItems", "items"]),
    ("object", ["required", "properties"]),
]
ANNOTATIONS = {"$schema", "$id", "$comment", "title", "description", "examples", "default"}
SUPPORTED = {"type"} | {k for _, keywords in _GROUPS for k in keywords}
# Keywords a schema pointer may get for one validation (AjvSchema.errors' additions).
ADDABLE = {"formatMaximum"}
_LIMIT_COMPARISON = {"maximum": "<=", "minimum": ">=", "exclusiveMaximum": "<", "exclusiveMinimum": ">"}


class UnsupportedSchema(ValueError):
    pass


# -- JavaScript semantics ------------------------------------------------------------------------

# JavaScript's \s (ECMAScript WhiteSpace and LineTerminator), which Python's \s is not: Python's
# also has U+001C-U+001F and U+0085, and lacks U+FEFF.
JS_WHITESPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"


def _is_finite_number(checker: Any, instance: Any) -> bool:
    # Ajv's strictNumbers (on by default): Infinity (JSON 1e400) is not a number, nor is an
    # integer beyond the double range (JavaScript reads it as Infinity).
    if not isinstance(instance, (int, float)) or isinstance(instance, bool):
        return False
    try:
        return math.isfinite(instance)
    except OverflowError:
        return False


@lru_cache(maxsize=64)
def _js_regex(pattern: str) -> re.Pattern[str]:
    """A JavaScript ``u`` regex as Python: ``$`` only at the very end, ``\\d`` ASCII only, ``\\s``
    JavaScript's whitespace."""
    translated, in_class, escaped = [], False, False
    for char in pattern:
        if escaped:
            if char == "s":
                translated[-1] = JS_WHITESPACE if in_class else f"[{JS_WHITESPACE}]"
            elif char == "S" and not in_class:
                translated[-1] = f"[^{JS_WHITESPACE}]"
            elif char == "S":
                raise UnsupportedSchema(f"pattern {pattern!r}: \\S within a class has no translation")
            else:
                translated.append(char)
            escaped = False
        elif char == "\\":
            translated.append(char)
            escaped = True
        elif char == "[":
            in_class = True
            translated.append(char)
        elif char == "]":
            in_class = False
            translated.append(char)
        elif char == "$" and not in_class:
            translated.append(r"\Z")
        else:
            translated.append(char)
    return re.compile("".join(translated), re.ASCII)


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict) -> Iterable[ValidationError]:
    if isinstance(instance, str) and not _js_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _finite_only(keyword_function: Any) -> Any:
    def check(validator: Any, value: Any, instance: Any, schema: dict) -> Iterable[ValidationError]:
        if _is_finite_number(None, instance):
            yield from keyword_function(validator, value, instance, schema)
    return check


# ajv-formats splits a date-time at its one separator (/t|\s/i) into a date and a time, each
# checked by its own regular expression: the one expression here matches the same strings, since
# neither part can hold a separator.
_AJV_DATE_TIME = re.compile(f"(\\d\\d\\d\\d)-(\\d\\d)-(\\d\\d)[tT{JS_WHITESPACE}]"
                            r"(\d\d):(\d\d):(\d\d(?:\.\d+)?)(z|([+-])(\d\d)(?::?(\d\d))?)?",
                            re.ASCII | re.IGNORECASE)
_DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def ajv_date_time(value: str) -> bool:
    """ajv-formats' full ``date-time`` (formats.ts: getDateTime(strictTimeZone=true))."""
    match = _AJV_DATE_TIME.fullmatch(value)
    if not match:
        return False
    year, month, day, hour, minute = (int(g) for g in match.group(1, 2, 3, 4, 5))
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if not (1 <= month <= 12 and 1 <= day <= (29 if month == 2 and leap else _DAYS[month])):
        return False
    second = float(match.group(6))
    sign = -1 if match.group(8) == "-" else 1
    tz_hour, tz_minute = int(match.group(9) or 0), int(match.group(10) or 0)
    if tz_hour > 23 or tz_minute > 59 or not match.group(7):
        return False
    if hour <= 23 and minute <= 59 and second < 60:
        return True
    utc_minute = minute - tz_minute * sign
    utc_hour = hour - tz_hour * sign - (1 if utc_minute < 0 else 0)
    return utc_hour in (23, -1) and utc_minute in (59, -1) and second < 61


_JS_DATE_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:[zZ]|([+-])(\d\d):?(\d\d))",
                           re.ASCII)
_EPOCH_DAY = date(1970, 1, 1).toordinal()


def date_time_milliseconds(value: str) -> int | None:
    """A valid date-time as ajv-formats' ``compare`` sees it through JavaScript's ``Date``:
    milliseconds since the epoch (fractions truncated), or None where ``Date`` gives NaN (an
    hour-only offset such as ``+01``; then ajv-formats does not compare) and for separators
    other than T, t or a space (not verified against JavaScript). One deliberate difference: a
    leap second (``:60``), NaN in JavaScript, is the last millisecond of its minute here, so
    that a date in the future cannot pass the bound as a leap second. Counted in integers, not
    with ``datetime``: a leap second may be written with an hour of 24 or a minute of 60
    (``24:59:60+01:00`` is 23:59:60 UTC), which ``datetime`` refuses."""
    match = _JS_DATE_TIME.fullmatch(value)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.group(1, 2, 3, 4, 5, 6))
    if year == 0:  # before date's range; never later than a bound
        return None
    fraction, sign, zone_hours, zone_minutes = match.group(7, 8, 9, 10)
    milliseconds = int((fraction or "0").ljust(3, "0")[:3])
    if second == 60:
        second, milliseconds = 59, 999
    seconds = (date(year, month, day).toordinal() - _EPOCH_DAY) * 86400 + hour * 3600 + minute * 60 + second
    if sign:
        offset = int(zone_hours) * 3600 + int(zone_minutes) * 60
        seconds -= offset if sign == "+" else -offset
    return seconds * 1000 + milliseconds


def _later_than(date_time: str, limit: str) -> bool:
    """Whether formatMaximum refuses a valid date-time: later than ``limit`` where ajv-formats
    compares the two."""
    value, bound = date_time_milliseconds(date_time), date_time_milliseconds(limit)
    return value is not None and bound is not None and value > bound


def _format_maximum(validator: Any, limit: str, instance: Any, schema: dict) -> Iterable[ValidationError]:
    if isinstance(instance, str) and ajv_date_time(instance) and _later_than(instance, limit):
        yield ValidationError(f"{instance!r} is after {limit!r}")


_FORMATS = FormatChecker(formats=())
_FORMATS.checks("date-time")(lambda value: not isinstance(value, str) or ajv_date_time(value))

_AjvLikeValidator = validators.extend(
    Draft7Validator,
    validators={
        "pattern": _pattern,
        "formatMaximum": _format_maximum,
        **{k: _finite_only(Draft7Validator.VALIDATORS[k]) for k in _LIMIT_COMPARISON},
    },
    type_checker=Draft7Validator.TYPE_CHECKER.redefine("number", _is_finite_number),
)


# -- the validator ---------------------------------------------------------------------------

class AjvSchema:
    """One compiled schema; ``errors(instance)`` is Ajv's ``validate.errors`` (``[]`` if valid).

    It is compiled twice: ``jsonschema-rs`` gives the verdict and ``jsonschema`` the errors of an
    instance that verdict does not accept (see "The verdict" below)."""

    def __init__(self, schema: dict[str, Any]):
        Draft7Validator.check_schema(schema)
        _check_supported(schema, "#")
        self.schema = schema
        self._validator = _AjvLikeValidator(schema, format_checker=_FORMATS)
        self._verdict = jsonschema_rs.Draft7Validator(_verdict_schema(schema), formats={"date-time": ajv_date_time},
                                                      validate_formats=True, offline=True)
        self._format_maxima = _format_maxima(schema, ())

    def errors(self, instance: Any, additions: Mapping[str, Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
        """``additions``: keywords (ADDABLE) to add at schema pointers such as
        ``/properties/created_at``, for this validation only."""
        if self.accepts(instance, additions):
            return []
        return self.collected_errors(instance, additions)

    def accepts(self, instance: Any, additions: Mapping[str, Mapping[str, Any]] | None = None) -> bool:
        """True only when ``instance`` certainly has no error; False leaves it to the full check."""
        bounds = _with_added_bounds(self.schema, self._format_maxima, additions) if additions else self._format_maxima
        if bounds is None:
            return False
        try:
            if not self._verdict.is_valid(instance):
                return False
        except Exception:  # a value it cannot read (see "The verdict"): the full check decides
            return False
        # formatMaximum goes with format date-time (_check_supported), which the verdict checked.
        return not any(isinstance(value, str) and _later_than(value, limit)
                       for tokens, limit in bounds.items() for value in _values_at(instance, tokens))

    def collected_errors(self, instance: Any,
                         additions: Mapping[str, Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Ajv's errors, found by walking the whole schema: what ``errors`` answers for an
        instance that the verdict does not accept."""
        schema, validator = self.schema, self._validator
        if additions:
            schema = _with_additions(schema, additions)
            # A new validator, not evolve(): evolve picks the class of the schema's "$schema"
            # (plain Draft7Validator), which would drop the JavaScript semantics above.
            validator = _AjvLikeValidator(schema, format_checker=_FORMATS)
        found: list[tuple[tuple, dict[str, Any]]] = []
        seen_required: set[tuple] = set()
        for error in validator.iter_errors(instance):
            if error.validator == "required":
                # jsonschema yields one error per missing name; Ajv's order is the list's.
                where = (tuple(error.absolute_path), tuple(error.absolute_schema_path))
                if where in seen_required:
                    continue
                seen_required.add(where)
                missing = [n for n in error.validator_value if n not in error.instance]
                for name in missing:
                    found.append((_order(schema, error, instance, (error.validator_value.index(name),)),
                                  _ajv_error(error, {"missingProperty": name},
                                             f"must have required property '{name}'")))
            else:
                found.append((_order(schema, error, instance, ()), _convert(error)))
        found.sort(key=lambda pair: pair[0])
        return [error for _, error in found]


# -- the verdict ---------------------------------------------------------------------------------
#
# jsonschema walks the whole schema for every instance, valid or not (about 130 us for a
# conversion); jsonschema-rs (compiled Rust) says whether an instance is valid in a few. Only an
# instance it does not accept goes through the full check, so the error answers stay the full
# check's, and the verdict may only ever be stricter than it, never more lenient. Where the two
# differ (tests/unit/test_beacon_validation_fast_path.py shows each case):
#
# - patterns: jsonschema-rs already reads them as ECMAScript does (``$`` at the very end only,
#   ``\d`` and ``\w`` ASCII, ``\s`` JavaScript's whitespace), as ``_js_regex`` does here;
# - numbers: Infinity and NaN are not numbers to it, but an integer of any size is: every number
#   is bounded to a double's range for it (_verdict_schema);
# - date-time: its own check is not ajv-formats', so it is given ``ajv_date_time``;
# - formatMaximum, the schema's own and those added for one request, is not a keyword it knows:
#   checked here after its verdict, on the values at the keyword's schema pointer;
# - a lone surrogate (which JSON.parse keeps) in a key, or in a string a pattern or enum reads,
#   makes it raise: the full check decides.

# A double's range, given to jsonschema-rs as bounds on every number (see above).
_WITHIN_A_DOUBLE = {"minimum": -sys.float_info.max, "maximum": sys.float_info.max}

FormatMaxima = dict[tuple[str, ...], str]  # schema pointer, as its tokens -> formatMaximum's limit


def _verdict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` for jsonschema-rs: a number within a double's range. The bounds go in an
    ``allOf``, a keyword no supported schema has, so that the schema's own bounds stay as they are."""
    node = dict(schema)
    types = node.get("type")
    if "number" in ([types] if isinstance(types, str) else types or []):
        node["allOf"] = [_WITHIN_A_DOUBLE]
    if "properties" in node:
        node["properties"] = {name: _verdict_schema(sub) for name, sub in node["properties"].items()}
    if "items" in node:
        node["items"] = _verdict_schema(node["items"])
    return node


def _format_maxima(schema: dict[str, Any], tokens: tuple[str, ...]) -> FormatMaxima:
    """The formatMaximum keywords of ``schema`` (a supported one: subschemas only in
    ``properties`` and ``items``)."""
    found = {tokens: schema["formatMaximum"]} if "formatMaximum" in schema else {}
    for name, sub in schema.get("properties", {}).items():
        found.update(_format_maxima(sub, (*tokens, "properties", name)))
    if "items" in schema:
        found.update(_format_maxima(schema["items"], (*tokens, "items")))
    return found


def _with_added_bounds(schema: dict[str, Any], own: FormatMaxima,
                       additions: Mapping[str, Mapping[str, Any]]) -> FormatMaxima | None:
    """``own`` with the formatMaximum of each addition (replacing one at the same pointer, as
    _with_additions does); None unless each addition is a formatMaximum that the full check
    accepts (a date-time limit on a date-time), which leaves any other to the full check (it
    raises UnsupportedSchema, or KeyError for a pointer not in the schema)."""
    bounds = dict(own)
    for pointer, keywords in additions.items():
        tokens = tuple(pointer.split("/")[1:])
        node: Any = schema
        for token in tokens:
            node = node.get(token) if isinstance(node, dict) else None
        limit = keywords.get("formatMaximum")
        if not (set(keywords) == {"formatMaximum"} and isinstance(limit, str)
                and isinstance(node, dict) and node.get("format") == "date-time"):
            return None
        bounds[tokens] = limit
    return bounds


def _values_at(instance: Any, tokens: tuple[str, ...]) -> list[Any]:
    """The values of ``instance`` that the subschema at a schema pointer checks."""
    values, steps = [instance], iter(tokens)
    for token in steps:
        if token == "properties":
            name = next(steps)
            values = [value[name] for value in values if isinstance(value, dict) and name in value]
        else:  # "items", the only other keyword with a subschema here
            values = [item for value in values if isinstance(value, list) for item in value]
    return values


def _order(schema: dict[str, Any], error: ValidationError, root: Any, tail: tuple) -> tuple:
    """Where Ajv reports ``error``: a key that sorts like Ajv's traversal."""
    schema_path = deque(error.absolute_schema_path)
    instance_path = deque(error.absolute_path)
    node, data, key = schema, root, []
    while schema_path:
        keyword = schema_path.popleft()
        key.append(_keyword_rank(node, keyword, data))
        if keyword == "properties":
            name = schema_path.popleft()
            instance_path.popleft()
            key.append(list(node["properties"]).index(name))
            node, data = node["properties"][name], data[name]
        elif keyword == "items":
            index = instance_path.popleft()
            key.append(index)
            node, data = node["items"], data[index]
    return (*key, *tail)


def _with_additions(schema: dict[str, Any], additions: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A copy of ``schema`` with keywords added at pointers: the nodes on the way are copied, the
    rest is shared (a compiled schema is never modified)."""
    result = dict(schema)
    for pointer, keywords in additions.items():
        if set(keywords) - ADDABLE:
            raise UnsupportedSchema(f"only {sorted(ADDABLE)} can be added, not {sorted(set(keywords) - ADDABLE)}")
        node = result
        for token in pointer.split("/")[1:]:
            node[token] = dict(node[token])
            node = node[token]
        node.update(keywords)
        _check_supported(node, "#" + pointer)
    return result


def _keyword_rank(schema: dict[str, Any], keyword: str, data: Any) -> tuple[int, int]:
    types = schema.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    if keyword == "type":
        group = _group_index(types[0]) if len(types) == 1 else None
        if group is None or not _uses_group(schema, group):
            return (0, 0)
        return (group + 1, len(_GROUPS[group][1]))
    for index, (group_type, keywords) in enumerate(_GROUPS):
        if keyword in keywords and (keyword != "format" or group_type == _json_type(data)):
            return (index + 1, keywords.index(keyword))
    raise UnsupportedSchema(f"keyword {keyword!r} is not supported")


def _group_index(json_type: str) -> int | None:
    return next((i for i, (t, _) in enumerate(_GROUPS) if t == json_type), None)


def _uses_group(schema: dict[str, Any], group: int) -> bool:
    return any(k in schema for k in _GROUPS[group][1])


def _json_type(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value))


def _check_supported(schema: Any, where: str) -> None:
    if not isinstance(schema, dict):
        raise UnsupportedSchema(f"{where}: only object schemas are supported")
    unknown = set(schema) - SUPPORTED - ANNOTATIONS
    if unknown:
        raise UnsupportedSchema(f"{where}: keywords {sorted(unknown)} have no Ajv-format conversion")
    if schema.get("format", "date-time") != "date-time":
        raise UnsupportedSchema(f"{where}: only format date-time is supported")
    if "formatMaximum" in schema and not (schema.get("format") == "date-time"
                                          and isinstance(schema["formatMaximum"], str)):
        raise UnsupportedSchema(f"{where}: formatMaximum needs format date-time and a date-time string")
    for name, sub in schema.get("properties", {}).items():
        _check_supported(sub, f"{where}/properties/{name}")
    if "items" in schema:
        _check_supported(schema["items"], f"{where}/items")


# -- Ajv's error objects -------------------------------------------------------------------------

def _convert(error: ValidationError) -> dict[str, Any]:
    keyword, value = error.validator, error.validator_value
    if keyword == "type":
        text = value if isinstance(value, str) else ",".join(value)
        return _ajv_error(error, {"type": value}, f"must be {text}")
    if keyword == "enum":
        return _ajv_error(error, {"allowedValues": value}, "must be equal to one of the allowed values")
    if keyword == "const":
        return _ajv_error(error, {"allowedValue": value}, "must be equal to constant")
    if keyword in _LIMIT_COMPARISON:
        comparison = _LIMIT_COMPARISON[keyword]
        return _ajv_error(error, {"comparison": comparison, "limit": value}, f"must be {comparison} {_js(value)}")
    if keyword in ("minLength", "maxLength", "minItems", "maxItems"):
        bound = "fewer" if keyword.startswith("min") else "more"
        unit = "characters" if keyword.endswith("Length") else "items"
        return _ajv_error(error, {"limit": value}, f"must NOT have {bound} than {_js(value)} {unit}")
    if keyword == "pattern":
        return _ajv_error(error, {"pattern": value}, f'must match pattern "{value}"')
    if keyword == "format":
        return _ajv_error(error, {"format": value}, f'must match format "{value}"')
    if keyword == "formatMaximum":  # ajv-formats' own wording: "should", the limit unquoted
        return _ajv_error(error, {"comparison": "<=", "limit": value}, f"should be <= {value}")
    raise UnsupportedSchema(f"keyword {keyword!r} is not supported")


def _ajv_error(error: ValidationError, params: dict[str, Any], message: str) -> dict[str, Any]:
    return {
        "instancePath": "".join(f"/{_pointer_token(p)}" for p in error.absolute_path),
        "schemaPath": "#" + "".join(f"/{_pointer_token(p)}" for p in error.absolute_schema_path),
        "keyword": error.validator,
        "params": params,
        "message": message,
    }


def _pointer_token(part: Any) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def _js(number: Any) -> str:
    """A number as JavaScript prints it in a template string (1.0 -> "1")."""
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return str(number)
