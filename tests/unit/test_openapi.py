"""openapi.yaml is a valid OpenAPI document and documents what the functions answer."""

from __future__ import annotations

from pathlib import Path

import yaml
from openapi_spec_validator import validate

from shared.events.protocol import FAILED_DEPENDENCY_STATUS, MIRRORED_STATUS

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi.yaml").read_text())


def test_openapi_document_is_valid():
    validate(SPEC)


def test_ingest_routes_and_statuses_are_documented():
    for path in ("/v1/events", "/v1/events/batch"):
        responses = SPEC["paths"][path]["post"]["responses"]
        assert {"200", "400", "401", "424", "500"} <= set(responses)
    single = SPEC["paths"]["/v1/events"]["post"]["responses"]
    assert {str(status) for status in [*MIRRORED_STATUS.values(), FAILED_DEPENDENCY_STATUS]} == set(single)
    kinds = SPEC["components"]["schemas"]["BatchAnswer"]["allOf"][1]["properties"]["payload"]["properties"]
    assert set(kinds["results"]["items"]["properties"]["outcome"]["enum"]) == {
        "response", "badRequest", "error", "bad_request", "failed_dependency"}
