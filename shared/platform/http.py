"""The HTTP layer under every HTTP function (ingest, monitor, beacon, reports).

A function declares an ``HttpApi``: its routes (werkzeug's ``Map``/``Rule``), how large a body
each route takes, its handler, and the one place that turns its error family into its API's
error shape (a protocol event for ingest, Ajv arrays and ``{"messages": [...]}`` for beacon and
reports, the monitor's error object). ``HttpApi.serve`` does the rest the same way everywhere:

- reads the body without trusting the client about its size (``read_bounded``);
- runs the handler inside a logging flow scope (``logs.flow_scope``);
- answers a routing failure (``NoRoute``, ``MethodNotAllowed``) in the API's shape, a 405 always
  with ``Allow``; answers any other failure 500 in the API's shape and logs it with its stack,
  never showing it to the caller;
- encodes the ``Answer``: JSON for a body, and for no body (204) no content type at all.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

import flask
import functions_framework
from werkzeug.exceptions import MethodNotAllowed as _WerkzeugMethodNotAllowed
from werkzeug.exceptions import NotFound
from werkzeug.routing import Map, RequestRedirect, Rule

from shared.platform import logs

JSON_MEDIA_TYPE = "application/json"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """What a handler answers: a status, a JSON-serialisable body (None: no body) and headers."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def with_headers(self, headers: Mapping[str, str]) -> "Answer":
        return replace(self, headers={**self.headers, **headers})


@dataclass(frozen=True)
class Request:
    """One request as handlers see it; ``headers`` are case-insensitive."""

    method: str
    path: str
    headers: Mapping[str, str]
    args: Mapping[str, str]
    remote_addr: str
    body: bytes
    too_large: bool


class NoRoute(Exception):
    def __init__(self, method: str, path: str):
        super().__init__(f"no route for {method} {path}")
        self.method = method
        self.path = path


class MethodNotAllowed(Exception):
    def __init__(self, method: str, path: str, allowed: Sequence[str]):
        super().__init__(f"{method} is not allowed here")
        self.method = method
        self.path = path
        self.allowed = list(allowed)


@dataclass(frozen=True)
class RouteMatch:
    endpoint: str
    params: dict[str, str]


class Routes:
    """Routes declared as werkzeug rules, matched on the path without trailing slashes (so
    ``/v1/events/`` is ``/v1/events``, never a redirect)."""

    def __init__(self, rules: Sequence[Rule]):
        self._map = Map(list(rules), strict_slashes=False, merge_slashes=False)
        self._adapter = self._map.bind("function.local")

    def match(self, method: str, path: str) -> RouteMatch:
        try:
            endpoint, params = self._adapter.match(path.rstrip("/") or "/", method=method)
        except _WerkzeugMethodNotAllowed as exc:
            raise MethodNotAllowed(method, path, sorted(exc.valid_methods or [])) from None
        except (NotFound, RequestRedirect):
            raise NoRoute(method, path) from None
        return RouteMatch(str(endpoint), dict(params))

    def describe(self) -> list[str]:
        """``METHOD /path`` of every route, for error answers that list them."""
        return [f"{method} {rule.rule}" for rule in self._map.iter_rules()
                for method in sorted(rule.methods or ()) if method not in ("HEAD", "OPTIONS")]


def read_bounded(request: flask.Request, limit: int) -> tuple[bytes, bool]:
    """The body, read at most one byte past ``limit``: enough to know it is too large without
    buffering it. Returns (body, too_large)."""
    body = request.stream.read(limit + 1)
    return body, len(body) > limit or (request.content_length or 0) > limit


def to_response(answer: Answer) -> flask.Response:
    if answer.body is None:
        response = flask.Response(status=answer.status, headers=dict(answer.headers))
        # Flask gives every response a text/html type; an answer without a body has none.
        del response.headers["Content-Type"]
        return response
    try:
        text = json.dumps(answer.body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        # An unpaired surrogate echoed from a request (a field name, say) is not UTF-8: escaped
        # as \udc00, as JavaScript's JSON.stringify writes it.
        text = json.dumps(answer.body).encode("ascii")
    return flask.Response(text, status=answer.status, mimetype=JSON_MEDIA_TYPE, headers=dict(answer.headers))


@dataclass(frozen=True)
class HttpApi:
    """One HTTP function: ``handle`` answers a request or raises an error of ``error_family``
    (routing errors included), which ``error_answer`` turns into the API's error shape;
    ``internal_answer`` is its 500. ``finish`` adds headers every answer carries (CORS, X-Flow-Id)."""

    name: str
    handle: Callable[[Request], Answer]
    body_limit: Callable[[str], int]
    error_family: tuple[type[Exception], ...]
    error_answer: Callable[[Exception, Request], Answer]
    internal_answer: Callable[[Request], Answer]
    finish: Callable[[Request, Answer], Answer] = lambda _request, answer: answer

    def serve(self, flask_request: flask.Request) -> flask.Response:
        with logs.flow_scope():
            body, too_large = read_bounded(flask_request, self.body_limit(flask_request.path))
            request = Request(method=flask_request.method, path=flask_request.path, headers=flask_request.headers,
                              args=flask_request.args, remote_addr=flask_request.remote_addr or "",
                              body=body, too_large=too_large)
            return to_response(self.answer(request))

    def answer(self, request: Request) -> Answer:
        try:
            answer = self.handle(request)
        except (NoRoute, MethodNotAllowed, *self.error_family) as error:
            answer = self.error_answer(error, request)
            if isinstance(error, MethodNotAllowed):
                answer = answer.with_headers({"Allow": ", ".join(error.allowed)})
        except Exception:
            logger.error("unexpected failure", exc_info=True,
                         extra={"function": self.name, "method": request.method, "path": request.path})
            answer = self.internal_answer(request)
        return self.finish(request, answer)


def answer_framework_paths(handle: Callable[[flask.Request], flask.Response]) -> None:
    """functions-framework answers ``/robots.txt`` and ``/favicon.ico`` itself, 404 in HTML, before
    the function sees them: its 404s are answered by ``handle`` instead, in the API's shape. Call
    it while functions-framework loads the function (elsewhere its ``errorhandler`` does nothing)."""
    functions_framework.errorhandler(NotFound)(lambda _error: handle(flask.request))


@dataclass(frozen=True)
class Cors:
    """CORS for browsers posting from allowed origins (the beacon). Requests without ``Origin``
    (servers, apps, curl) are not browsers' and need no headers."""

    allowed_origins: frozenset[str]
    methods: str = "POST, OPTIONS"
    allowed_headers: str = "Content-Type"
    max_age_seconds: int = 86400

    def headers_for(self, origin: str | None) -> dict[str, str] | None:
        """CORS headers for an allowed origin, {} without an Origin (not a browser), None when refused."""
        if not origin:
            return {}
        if origin.rstrip("/") not in self.allowed_origins:
            return None
        # sendBeacon sends credentials: the origin must be named, never "*".
        return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}

    def preflight_headers(self) -> dict[str, str]:
        return {"Access-Control-Allow-Methods": self.methods, "Access-Control-Allow-Headers": self.allowed_headers,
                "Access-Control-Max-Age": str(self.max_age_seconds)}
