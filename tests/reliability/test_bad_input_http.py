"""Property-based: hostile bodies and paths sent to every JSON-body endpoint of the running
functions (the session's local stack, over loopback) get no 5xx, and every answer has its API's
documented shape. Bodies: shared/platform/json_body's cases (deep nesting, numbers beyond a double,
NaN, unpaired surrogates, invalid UTF-8) in place of valid fields, and random JSON."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import fresh_event
from tests.reliability.bad_input_support import (
    BOUNDED,
    assert_beacon_shape,
    assert_ingest_shape,
    assert_monitor_shape,
    assert_reports_shape,
    hostile_texts,
    json_values,
    raw_bodies,
    with_values,
)

pytestmark = pytest.mark.integration

VALID_EVENT = fresh_event()
PROTOCOL_EVENT = {"name": "user.interaction", "version": 1, "flowId": "flow-hostile", "payload": VALID_EVENT}
CONVERSION = {"channel": "app", "publisher_id": "demo-publisher", "user_id": "u-1", "session_id": "s-1",
              "order_id": "o-1", "email_hashed": "0" * 64, "created_at": "2026-01-01T00:00:00Z",
              "items": [{"sku": "SKU-1", "quantity": 1, "price": 10, "promotional_price": 9}]}


def post(url: str, body: bytes, key: str | None = None, content_type: str = "application/json",
         method: str = "POST") -> requests.Response:
    headers = {"Content-Type": content_type}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return requests.request(method, url, data=body, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def track_id(stack: dict[str, Any]) -> str:
    answer = post(stack["functions"]["monitor"] + "/v1/users", b"{}", stack["dev_api_key"])
    return answer.json()["lum_user"]["trackId"]


@pytest.fixture(scope="module")
def ad_id(stack: dict[str, Any]) -> str:
    return stack["demo_campaigns"][0]["ad_ids"][0]


# -- ingest -----------------------------------------------------------------------------------------

@BOUNDED
@given(body=raw_bodies | with_values(VALID_EVENT, hostile_texts) | with_values(PROTOCOL_EVENT, hostile_texts))
def test_ingest_single_event(stack: dict[str, Any], body: bytes) -> None:
    assert_ingest_shape(post(stack["functions"]["ingest"] + "/v1/events", body, stack["dev_api_key"]))


@BOUNDED
@given(body=raw_bodies | st.lists(hostile_texts | st.just(json.dumps(VALID_EVENT)), max_size=4).map(
    lambda items: ("[" + ", ".join(items) + "]").encode()))
def test_ingest_batch(stack: dict[str, Any], body: bytes) -> None:
    assert_ingest_shape(post(stack["functions"]["ingest"] + "/v1/events/batch", body, stack["dev_api_key"]))


# -- monitor ----------------------------------------------------------------------------------------

MONITOR_ROUTES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "create": ("POST", "/v1/users", {"friendlyId": "f-1", "firstName": "Ana", "customAttributes": {"company": "A"}}),
    "update": ("PATCH", "/v1/users/{trackId}", {"lastName": "Silva", "customAttributes": {"company": "B"}}),
    "identify": ("POST", "/v1/users/{trackId}/identify", {"friendlyId": "f-2"}),
    "consent": ("POST", "/v1/users/{trackId}/consents", {"termId": "privacy-policy-2024"}),
    "event": ("POST", "/v1/events/course.completed/data", {"lum_user": {"trackId": "{trackId}"}, "courseId": "c-1"}),
}


@pytest.mark.parametrize("route", sorted(MONITOR_ROUTES))
def test_monitor_routes(stack: dict[str, Any], track_id: str, route: str) -> None:
    method, path, template = MONITOR_ROUTES[route]
    template = json.loads(json.dumps(template).replace("{trackId}", track_id))
    content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
    url = stack["functions"]["monitor"] + path.replace("{trackId}", track_id)

    @BOUNDED
    @given(body=raw_bodies | with_values(template, hostile_texts))
    def hostile(body: bytes) -> None:
        assert_monitor_shape(post(url, body, stack["dev_api_key"], content_type, method))

    hostile()


# -- beacon -----------------------------------------------------------------------------------------

@BOUNDED
@given(body=raw_bodies | with_values({"session_id": "s-1", "user_id": "u-1"}, hostile_texts),
       kind=st.sampled_from(["impression", "view", "click"]))
def test_beacon_ad_events(stack: dict[str, Any], ad_id: str, body: bytes, kind: str) -> None:
    assert_beacon_shape(post(f"{stack['functions']['beacon']}/v1/beacon/{kind}/{ad_id}", body, content_type="text/plain"))


def _item_with(text: str) -> str:
    """A conversion's items array whose one item has a hostile quantity (or is hostile itself)."""
    return f'[{{"sku": "SKU-1", "quantity": {text}, "price": 10, "promotional_price": 9}}, {text}]'


@BOUNDED
@given(body=raw_bodies | with_values(CONVERSION, hostile_texts | hostile_texts.map(_item_with)))
def test_beacon_conversion(stack: dict[str, Any], body: bytes) -> None:
    # A unique order and a present created_at, so that a body valid but for its hostile values reaches the publish.
    text = body.replace(b'"o-1"', json.dumps(f"o-{uuid.uuid4()}").encode()).replace(
        b'"2026-01-01T00:00:00Z"', datetime.now(timezone.utc).strftime('"%Y-%m-%dT%H:%M:%SZ"').encode())
    assert_beacon_shape(post(stack["functions"]["beacon"] + "/v1/beacon/conversion", text))


# -- reports ----------------------------------------------------------------------------------------

query_texts = st.text(max_size=12) | st.sampled_from(["0001-01-01", "9999-12-31", "2026-02-30", "0000-01-01", "1-1-1"])


@BOUNDED
@given(campaign=st.text(min_size=1, max_size=40).filter(lambda t: "/" not in t) | st.sampled_from(
    ["__x__", "__name__", ".", "..", "a" * 2000, "demo-product"]), first=st.none() | query_texts,
    last=st.none() | query_texts)
def test_reports_query(stack: dict[str, Any], campaign: str, first: str | None, last: str | None) -> None:
    params = {name: value for name, value in (("from", first), ("to", last)) if value is not None}
    answer = requests.get(f"{stack['functions']['reports']}/v1/reports/campaigns/{requests.utils.quote(campaign, safe='')}",
                          params=params, headers={"Authorization": f"Bearer {stack['dev_api_key']}"}, timeout=30)
    assert_reports_shape(answer)


# -- any path, any method ---------------------------------------------------------------------------

SHAPES: dict[str, Callable[[requests.Response], None]] = {
    "ingest": assert_ingest_shape, "monitor": assert_monitor_shape, "beacon": assert_beacon_shape,
    "reports": assert_reports_shape}


@pytest.mark.parametrize("function", sorted(SHAPES))
def test_every_path_answers_in_the_apis_shape(stack: dict[str, Any], function: str) -> None:
    @BOUNDED
    @given(path=st.sampled_from(["/robots.txt", "/favicon.ico", "/", "//", "/%ff", "/v1/%2e%2e", "/v1/users/a%00b"])
           | st.text(st.characters(codec="utf-8", exclude_characters="?#"), max_size=30).map(
               lambda text: "/" + requests.utils.quote(text, safe="/")),
           method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]), body=st.none() | json_values)
    def any_path(path: str, method: str, body: Any) -> None:
        answer = requests.request(method, stack["functions"][function] + path, timeout=30,
                                  data=None if body is None else json.dumps(body),
                                  headers={"Authorization": f"Bearer {stack['dev_api_key']}"})
        SHAPES[function](answer)

    any_path()


@pytest.mark.parametrize("function", sorted(SHAPES))
@pytest.mark.parametrize("path", ["/robots.txt", "/favicon.ico"])
def test_the_frameworks_own_paths_are_404_in_the_apis_shape(stack: dict[str, Any], function: str, path: str) -> None:
    # functions-framework answers these two itself, in HTML, unless the function takes its 404s.
    answer = requests.get(stack["functions"][function] + path, timeout=30,
                          headers={"Authorization": f"Bearer {stack['dev_api_key']}"})
    assert answer.status_code == 404
    SHAPES[function](answer)
