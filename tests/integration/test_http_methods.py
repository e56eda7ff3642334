"""Methods over real HTTP on the local stack, for beacon, reports and monitor: every 405 names
the allowed methods in ``Allow`` (RFC 9110, 15.5.6), in the API's error shape; every 204 has no
body and no content type."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.integration.beacon_support import fresh_campaign
from tools.stack_beacon import DEMO_ORIGIN

OTHER_METHODS = ["GET", "PUT", "DELETE", "PATCH", "HEAD"]


def allowed(answer: requests.Response) -> set[str]:
    return {method.strip() for method in answer.headers["Allow"].split(",")}


def assert_no_content(answer: requests.Response) -> None:
    assert answer.status_code == 204
    assert answer.content == b""
    assert "Content-Type" not in answer.headers
    assert answer.headers.get("Content-Length", "0") == "0"


@pytest.fixture(scope="module")
def ad_id(stack: dict[str, Any]) -> str:
    return fresh_campaign(stack, "display").ad_ids[0]


@pytest.mark.parametrize("method", OTHER_METHODS)
@pytest.mark.parametrize("path", ["/v1/beacon/click/{ad_id}", "/v1/beacon/conversion"])
def test_beacon_405_names_post_and_options(stack: dict[str, Any], ad_id: str, path: str, method: str) -> None:
    answer = requests.request(method, stack["functions"]["beacon"] + path.format(ad_id=ad_id), timeout=10)
    assert answer.status_code == 405
    assert allowed(answer) == {"POST", "OPTIONS"}
    if method != "HEAD":
        assert answer.json() == {"messages": ["use POST"]}


def test_beacon_405_to_a_browser_carries_cors_headers_too(stack: dict[str, Any], ad_id: str) -> None:
    answer = requests.get(f"{stack['functions']['beacon']}/v1/beacon/view/{ad_id}", headers={"Origin": DEMO_ORIGIN},
                          timeout=10)
    assert answer.status_code == 405 and allowed(answer) == {"POST", "OPTIONS"}
    assert answer.headers["Access-Control-Allow-Origin"] == DEMO_ORIGIN


@pytest.mark.parametrize("origin", [DEMO_ORIGIN, None])
@pytest.mark.parametrize("path", ["/v1/beacon/impression/{ad_id}", "/v1/beacon/conversion"])
def test_beacon_preflight_is_a_204_without_content(stack: dict[str, Any], ad_id: str, path: str,
                                                   origin: str | None) -> None:
    headers = {"Origin": origin, "Access-Control-Request-Method": "POST"} if origin else {}
    answer = requests.options(stack["functions"]["beacon"] + path.format(ad_id=ad_id), headers=headers, timeout=10)
    assert_no_content(answer)
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_reports_405_names_get_and_head(stack: dict[str, Any], method: str) -> None:
    answer = requests.request(method, f"{stack['functions']['reports']}/v1/reports/campaigns/any", timeout=10,
                              headers={"Authorization": f"Bearer {stack['dev_api_key']}"})
    assert answer.status_code == 405
    assert allowed(answer) == {"GET", "HEAD"}
    assert answer.json() == {"messages": ["use GET"]}


def test_reports_head_answers_like_get_without_a_body(stack: dict[str, Any]) -> None:
    campaign = fresh_campaign(stack, "video")
    answer = requests.head(f"{stack['functions']['reports']}/v1/reports/campaigns/{campaign.id}", timeout=10,
                           headers={"Authorization": f"Bearer {stack['dev_api_key']}"})
    assert (answer.status_code, answer.content, answer.headers["Content-Type"]) == (200, b"", "application/json")


@pytest.mark.parametrize("method,path,allow", [
    ("GET", "/v1/users", {"POST"}),
    ("DELETE", "/v1/users", {"POST"}),
    ("HEAD", "/v1/users", {"POST"}),
    ("GET", "/v1/users/{track_id}", {"PATCH"}),
    ("PUT", "/v1/users/{track_id}", {"PATCH"}),
    ("GET", "/v1/users/{track_id}/identify", {"POST"}),
    ("GET", "/v1/events/course.completed/data", {"POST"}),
    ("OPTIONS", "/lumis/api/rest/lumis/monitor/v1/users", {"POST"}),
])
def test_monitor_405_names_the_allowed_methods(stack: dict[str, Any], method: str, path: str,
                                               allow: set[str]) -> None:
    answer = requests.request(method, stack["functions"]["monitor"] + path.format(track_id="a" * 32), timeout=10,
                              headers={"Authorization": f"Bearer {stack['dev_api_key']}"})
    assert answer.status_code == 405
    assert allowed(answer) == allow
    if method != "HEAD":
        assert answer.json()["code"] == "METHOD_NOT_ALLOWED"
        assert set(answer.json()["parameters"]["allowed"]) == allow


def test_monitor_patch_is_a_204_without_content(stack: dict[str, Any]) -> None:
    url, auth = stack["functions"]["monitor"], {"Authorization": f"Bearer {stack['dev_api_key']}"}
    track_id = requests.post(f"{url}/v1/users", json={}, headers=auth, timeout=30).json()["lum_user"]["trackId"]
    answer = requests.patch(f"{url}/v1/users/{track_id}", data=b'{"firstName": "Ann"}', timeout=30,
                            headers={**auth, "Content-Type": "application/merge-patch+json"})
    assert_no_content(answer)
    assert answer.headers["X-Flow-Id"]
