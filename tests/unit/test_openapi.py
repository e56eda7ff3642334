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


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        keys = [self.construct_object(key_node, deep=deep) for key_node, _ in node.value]
        duplicates = {key for key in keys if keys.count(key) > 1}
        if duplicates:
            raise yaml.constructor.ConstructorError(None, None, f"keys {duplicates} repeated", node.start_mark)
        return super().construct_mapping(node, deep=deep)


def test_no_key_is_written_twice():
    yaml.load((Path(__file__).resolve().parents[2] / "openapi.yaml").read_text(), Loader=_UniqueKeyLoader)
    assert {"ingest", "monitor", "beacon", "reports"} <= {tag["name"] for tag in SPEC["tags"]}


def test_beacon_and_reports_document_405_with_allow():
    for path, method in (("/v1/beacon/{kind}/{adId}", "post"), ("/v1/beacon/conversion", "post"),
                         ("/v1/reports/campaigns/{campaignId}", "get")):
        assert SPEC["paths"][path][method]["responses"]["405"] == {"$ref": "#/components/responses/MethodNotAllowed"}
    assert SPEC["components"]["responses"]["MethodNotAllowed"]["headers"]["Allow"]["required"] is True
