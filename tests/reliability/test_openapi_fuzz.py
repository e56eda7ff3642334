"""schemathesis over openapi.yaml, every operation of every function, against the running functions
of the session's local stack (loopback): no 5xx, and every answer's status, content type,
headers and body are the ones openapi.yaml documents. Bounded: 40 generated cases per operation
(valid and invalid ones), the same every run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.reliability.bad_input_support import BOUNDED

pytestmark = pytest.mark.integration

OPENAPI = Path(__file__).resolve().parents[2] / "openapi.yaml"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


def function_of(path: str) -> str:
    """The function that serves ``path`` (each has its own URL; see openapi.yaml's servers)."""
    for prefix, function in (("/v1/beacon/", "beacon"), ("/v1/reports/", "reports"), ("/v1/users", "monitor"),
                             ("/lumis/", "monitor"), ("/v1/events/batch", "ingest")):
        if path.startswith(prefix):
            return function
    return "monitor" if path.endswith("/data") else "ingest"


# Loaded at import (no server needed to read it); each call names its function's URL.
schema = schemathesis.openapi.from_dict(yaml.safe_load(OPENAPI.read_text(encoding="utf-8")))


@schema.parametrize()
@BOUNDED
def test_every_operation_answers_as_documented(case: Case, stack: dict[str, Any]) -> None:
    case.call_and_validate(base_url=stack["functions"][function_of(case.path)], checks=CHECKS,
                           headers={"Authorization": f"Bearer {stack['dev_api_key']}"})
