"""Hostile request bodies (hypothesis strategies) and each API's documented answer shapes, for the
bad-input tests of tests/reliability (test_bad_input_*.py, test_openapi_fuzz.py).

Bodies are bytes, built as text so that they can hold what no Python value serialises to: nesting
thousands deep, numbers beyond a double (1e400, integers of hundreds or thousands of digits),
NaN and Infinity, unpaired surrogate escapes, invalid UTF-8.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Bounded and repeatable: every run sends the same bodies (derandomize), within make test's time.
BOUNDED = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                   suppress_health_check=list(HealthCheck))

HOSTILE_NUMBERS = ["1e400", "-1e999", "1e-400", "NaN", "Infinity", "-Infinity", "9" * 25, "9" * 400,
                   "1" + "0" * 4999, "-0", "1E+2", "0.1e1"]
HOSTILE_STRINGS = ['"\\udc00"', '"\\ud800x"', '"a\\udfff\\ud800"', '"\\ud83d\\ude00"', '"\\u0000"', '""',
                   '"__x__"', '"x\\u001cy"', '"2023-01-01\\u008509:20:00Z"', '"' + "a" * 300 + '"']


def _json_text(value: Any) -> str:
    return json.dumps(value)


# Any JSON value, small: the values a client might put anywhere.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
# A JSON text that Python's json cannot write: a hostile number or string, or a deep nest.
hostile_leaf = st.sampled_from(HOSTILE_NUMBERS + HOSTILE_STRINGS)
deep_nest = st.builds(lambda depth, opener, leaf: (opener + ("" if opener == "[" else '"k":')) * depth + leaf
                      + ("]" if opener == "[" else "}") * depth,
                      st.sampled_from([65, 999, 1001, 3000]), st.sampled_from(["[", "{"]), st.sampled_from(["1", '""', "[]"]))
hostile_texts = hostile_leaf | deep_nest | json_values.map(_json_text)


def with_values(template: dict[str, Any], texts: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """``template`` (a valid body) with some of its fields, and maybe a new one, given hostile JSON texts."""
    fields = sorted(template)

    def build(chosen: list[str], values: list[str], extra: str | None) -> bytes:
        replacements = dict(zip(chosen, values))
        parts = [f"{json.dumps(name)}: {replacements.get(name, json.dumps(template[name]))}" for name in fields]
        if extra is not None:
            parts.append(f'"extra": {extra}')
        return ("{" + ", ".join(parts) + "}").encode("utf-8")

    return st.builds(build, st.lists(st.sampled_from(fields), min_size=1, max_size=3, unique=True),
                     st.lists(texts, min_size=3, max_size=3), st.none() | texts)


# Whole bodies: hostile texts, bytes that are not UTF-8, or nothing.
raw_bodies = (hostile_texts.map(lambda text: text.encode("utf-8"))
              | st.binary(max_size=64)
              | st.sampled_from([b"", b"\xff\xfe{}", b"{\"a\": \"\xed\xa0\x80\"}", b"[" * 5000, b"{\"a\":1,}"]))


# -- the documented answer shapes ------------------------------------------------------------------

def json_body(answer: requests.Response) -> Any:
    assert answer.headers.get("Content-Type", "").startswith("application/json"), (answer.status_code, answer.text[:200])
    return answer.json()


def assert_no_server_error(answer: requests.Response) -> None:
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])


def assert_ingest_shape(answer: requests.Response) -> None:
    """Every ingest answer is a protocol event; a refusal's payload is {code, message, parameters}."""
    assert_no_server_error(answer)
    body = json_body(answer)
    assert set(body) == {"name", "version", "id", "flowId", "payload", "identity", "auth", "metadata"}, body
    kind = body["name"].rpartition(":")[2]
    if kind != "response":
        assert {"code", "message", "parameters"} <= set(body["payload"]), body


def assert_monitor_shape(answer: requests.Response) -> None:
    """A monitor refusal is its one error object, with the HTTP status in ``status``."""
    assert_no_server_error(answer)
    if answer.status_code == 204:
        assert not answer.content and "Content-Type" not in answer.headers
        return
    body = json_body(answer)
    if answer.status_code >= 400:
        assert set(body) == {"status", "code", "message", "parameters", "flowId"}, body
        assert body["status"] == answer.status_code


def assert_messages(body: Any) -> None:
    assert isinstance(body, dict) and set(body) == {"messages"} and isinstance(body["messages"], list), body
    assert all(isinstance(m, str) for m in body["messages"])


def assert_beacon_shape(answer: requests.Response) -> None:
    """beacon: 422 is Ajv's error list; every other answer with a body is {"messages": [...]}."""
    assert_no_server_error(answer)
    if answer.status_code == 204:
        return
    body = json_body(answer)
    if answer.status_code == 422:
        assert isinstance(body, list) and body, body
        for error in body:
            assert set(error) == {"instancePath", "schemaPath", "keyword", "params", "message"}, error
    else:
        assert_messages(body)


def assert_reports_shape(answer: requests.Response) -> None:
    assert_no_server_error(answer)
    body = json_body(answer)
    if answer.status_code == 200:
        assert {"campaign_id", "from", "to", "days", "totals"} <= set(body)
    else:
        assert_messages(body)
