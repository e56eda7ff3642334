"""The HTTP layer every HTTP function serves through, and the structured logging beneath it."""

from __future__ import annotations

import io
import json
import logging
import uuid

import flask
import pytest
from werkzeug.routing import Rule

from shared.platform import logs
from shared.platform.http import Answer, Cors, HttpApi, MethodNotAllowed, NoRoute, Routes, to_response
from tests.support.http import http_request

ROUTES = Routes([Rule("/v1/things/<thingId>", endpoint="thing", methods=["GET", "PUT"]),
                 Rule("/v1/things", endpoint="things", methods=["POST"])])


class Refused(Exception):
    pass


def api(handle) -> HttpApi:
    return HttpApi(name="things", handle=handle, body_limit=lambda _path: 100, error_family=(Refused,),
                   error_answer=lambda error, _request: Answer(418 if isinstance(error, Refused) else 404,
                                                               {"error": type(error).__name__}),
                   internal_answer=lambda _request: Answer(500, {"error": "INTERNAL"}))


def test_routes_match_with_or_without_a_trailing_slash_and_name_what_is_allowed():
    assert ROUTES.match("GET", "/v1/things/a1/").params == {"thingId": "a1"}
    assert ROUTES.match("POST", "/v1/things").endpoint == "things"
    with pytest.raises(NoRoute):
        ROUTES.match("GET", "/v1/things/a/b")
    with pytest.raises(MethodNotAllowed) as error:
        ROUTES.match("DELETE", "/v1/things/a1")
    assert error.value.allowed == ["GET", "HEAD", "PUT"]
    assert ROUTES.describe() == ["GET /v1/things/<thingId>", "PUT /v1/things/<thingId>", "POST /v1/things"]


def test_a_wrong_method_is_answered_in_the_api_shape_with_allow():
    answer = api(lambda request: Answer(200, ROUTES.match(request.method, request.path).params)).answer(
        http_request("DELETE", "/v1/things/a1"))
    assert (answer.status, answer.body, answer.headers["Allow"]) == (404, {"error": "MethodNotAllowed"},
                                                                   "GET, HEAD, PUT")


def test_an_unexpected_failure_is_a_500_in_the_api_shape_logged_with_its_stack(caplog):
    def broken(_request):
        raise RuntimeError("a bug")

    with caplog.at_level(logging.ERROR, logger="shared.platform.http"):
        answer = api(broken).answer(http_request("GET", "/v1/things/a1"))
    assert (answer.status, answer.body) == (500, {"error": "INTERNAL"})
    [record] = caplog.records
    assert record.message == "unexpected failure" and record.exc_info[0] is RuntimeError


def test_an_answer_without_a_body_has_no_content_type():
    with flask.Flask(__name__).app_context():
        empty = to_response(Answer(204, None, {"X-Flow-Id": "f"}))
        full = to_response(Answer(200, {"ok": "é"}))
    assert empty.status_code == 204 and empty.get_data() == b"" and "Content-Type" not in empty.headers
    assert full.mimetype == "application/json" and json.loads(full.get_data()) == {"ok": "é"}


def test_cors_names_the_allowed_origin_and_refuses_others():
    cors = Cors(frozenset({"https://shop.example"}))
    assert cors.headers_for(None) == {}
    assert cors.headers_for("https://evil.example") is None
    assert cors.headers_for("https://shop.example")["Access-Control-Allow-Origin"] == "https://shop.example"


def test_trace_ids_are_32_hex_digits_derived_from_the_flow_id():
    flow_id = str(uuid.uuid4())
    assert logs.trace_id(flow_id) == uuid.UUID(flow_id).hex
    other = logs.trace_id("my-flow")
    assert len(other) == 32 and int(other, 16) >= 0 and other == logs.trace_id("my-flow")
    assert logs.trace_id("\udc00") != logs.trace_id("x")


def format_line(record_logger: str, message: str, level: int = logging.WARNING, **extra) -> dict:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.CloudLoggingFormatter("proj"))
    target = logging.getLogger(record_logger)
    target.addHandler(handler)
    previous_level, target.level = target.level, logging.DEBUG
    try:
        target.log(level, message, extra=extra)
    finally:
        target.removeHandler(handler)
        target.setLevel(previous_level)
    return json.loads(stream.getvalue())


def test_every_library_record_is_a_cloud_logging_line_carrying_the_flow_id():
    flow_id = str(uuid.uuid4())
    with logs.flow_scope(flow_id):
        line = format_line("urllib3.connectionpool", "Retrying after connection broken")
    assert line["severity"] == "WARNING" and line["message"] == "Retrying after connection broken"
    assert line["flowId"] == flow_id
    assert line["logging.googleapis.com/trace"] == f"projects/proj/traces/{uuid.UUID(flow_id).hex}"
    assert line["logging.googleapis.com/sourceLocation"]["function"] == "format_line"
    assert "flowId" not in format_line("pymongo", "outside any flow")


def test_a_flow_scope_restores_the_previous_flow_and_extra_fields_are_kept():
    with logs.flow_scope("outer"):
        with logs.flow_scope("inner"):
            assert logs.current_flow_id() == "inner"
        assert logs.current_flow_id() == "outer"
        line = format_line("shared.x", "delivered", logging.INFO, eventId="e-1", flowId="explicit")
    assert logs.current_flow_id() is None
    assert (line["eventId"], line["flowId"], line["severity"]) == ("e-1", "explicit", "INFO")
