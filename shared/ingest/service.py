"""The ingest service: validate platform events and publish them to topic ``events``.

``POST /v1/events`` takes one event, ``POST /v1/events/batch`` up to 500 (5 MB); either may be
an Events Protocol envelope or a bare event. Every answer is a protocol event (shared.events.protocol).
"""

from __future__ import annotations

import contextvars
import json
import logging
from dataclasses import dataclass
from typing import Any, Callable

from werkzeug.routing import Rule

from shared.events import contract as event_contract
from shared.events.message import event_message, partner_of
from shared.events.protocol import (
    ANSWER_STATUS,
    ProtocolError,
    ProtocolRequest,
    answer,
    bad_request,
    new_flow_id,
    parse_request,
)
from shared.ingest.settings import IngestSettings
from shared.platform import logs
from shared.platform.api_keys import ApiKeyVerifier
from shared.platform.http import Answer, HttpApi, Request, Routes
from shared.platform.publisher import OutgoingMessage, PublishOutcome

ORIGIN = "ingest"
BATCH_NAME = "events.batch"
SINGLE_PATH = "/v1/events"
BATCH_PATH = "/v1/events/batch"

ROUTES = Routes([Rule(SINGLE_PATH, endpoint="single", methods=["POST"]),
                 Rule(BATCH_PATH, endpoint="batch", methods=["POST"])])

Publish = Callable[[list[OutgoingMessage]], list[PublishOutcome]]

logger = logging.getLogger(__name__)
# The protocol name of the request being answered, as far as it was read (answers are "<name>:<kind>").
_answer_name: contextvars.ContextVar[str | None] = contextvars.ContextVar("ingest_answer_name", default=None)


@dataclass
class _ValidEvent:
    request: ProtocolRequest
    event: dict[str, Any]

    def message(self) -> OutgoingMessage:
        return event_message(self.event, self.request.flow_id)


class IngestService:
    def __init__(self, settings: IngestSettings, publish: Publish, keys: ApiKeyVerifier):
        self._settings = settings
        self._publish = publish
        self._keys = keys
        self.api = HttpApi(name=ORIGIN, handle=self.handle, body_limit=self.body_limit,
                           error_family=(ProtocolError,), error_answer=self._error_answer,
                           internal_answer=self._internal_answer)

    def body_limit(self, path: str) -> int:
        return self._settings.max_batch_bytes if path.rstrip("/") == BATCH_PATH else self._settings.max_event_bytes

    def handle(self, request: Request) -> Answer:
        """Checks in the documented order: route, body size, JSON, API key, envelope, contract."""
        logs.set_flow_id(new_flow_id())
        _answer_name.set(self._default_name(request))
        route = ROUTES.match(request.method, request.path)
        if request.too_large:
            raise bad_request("PAYLOAD_TOO_LARGE", "the request body is too large",
                              maxBytes=self.body_limit(request.path))
        document = _parse_json(request.body)
        authorization = request.headers.get("Authorization")
        if route.endpoint == "batch":
            return self._batch(document, authorization)
        try:
            protocol_request = parse_request(document)
        except ProtocolError as envelope_error:
            # Authenticate before saying what is wrong with the envelope.
            self._authenticate(authorization, envelope_error.request)
            raise
        logs.set_flow_id(protocol_request.flow_id)
        _answer_name.set(protocol_request.name)
        self._authenticate(authorization, protocol_request)
        valid = self._validate(protocol_request)
        outcome = self._publish([valid.message()])[0]
        return self._published_answer(valid, outcome)

    def _error_answer(self, error: Exception, request: Request) -> Answer:
        """Every refusal as a protocol event: its name and flowId as far as the request was read."""
        if not isinstance(error, ProtocolError):  # a routing error: ingest has no 405
            error = ProtocolError("not_found", "UNKNOWN_ROUTE", f"no route for {request.method} {request.path}",
                                  routes=ROUTES.describe())
        name = _answer_name.get() or self._default_name(request)
        if error.request is not None:
            name = error.request.name or name
            logs.set_flow_id(error.request.flow_id)
        logger.warning("request refused", extra={"code": error.code, "kind": error.kind})
        return self._answer(name, error.kind, error.payload())

    def _internal_answer(self, request: Request) -> Answer:
        return self._answer(_answer_name.get() or self._default_name(request), "error",
                            {"code": "INTERNAL", "message": "unexpected server error", "parameters": {}})

    @staticmethod
    def _default_name(request: Request) -> str | None:
        return BATCH_NAME if request.path.rstrip("/") == BATCH_PATH else None

    def _authenticate(self, authorization: str | None, request: ProtocolRequest | None) -> None:
        """The Authorization header wins; else the protocol event's auth.token."""
        try:
            token = _bearer(authorization) if authorization else (request.auth_token if request else None)
        except ProtocolError as error:
            raise error.about(request)
        if not token:
            raise ProtocolError("unauthorized", "MISSING_TOKENS",
                                "an API key is required: Authorization: Bearer <key> or auth.token").about(request)
        if self._keys.app_name(token) is None:
            raise ProtocolError("unauthorized", "INVALID_TOKEN", "the API key is unknown or revoked").about(request)

    def _validate(self, request: ProtocolRequest) -> _ValidEvent:
        event = request.payload
        if not isinstance(event, dict):
            raise bad_request("INVALID_FIELDS", "the event is invalid",
                              fields=[{"field": "payload", "problem": "must be a JSON object"}]).about(request)
        try:
            violation = event_contract.validate(event, request.version)
        except event_contract.UnknownEventType as exc:
            raise bad_request("UNKNOWN_EVENT_TYPE", str(exc), eventType=exc.event_type, known=exc.known).about(request)
        except event_contract.UnsupportedVersion as exc:
            raise bad_request("UNSUPPORTED_VERSION", str(exc), version=exc.version,
                              supported=exc.supported).about(request)
        if violation.missing:
            raise bad_request("MISSING_FIELDS", "required fields are missing", fields=violation.missing).about(request)
        if violation.invalid:
            raise bad_request("INVALID_FIELDS", "the event is invalid", fields=violation.invalid).about(request)
        if request.wrapped and request.name != event["eventType"]:
            raise bad_request("INVALID_FIELDS", "the event is invalid",
                              fields=[{"field": "name", "problem": "must equal payload.eventType"}]).about(request)
        return _ValidEvent(request, event)

    def _published_answer(self, valid: _ValidEvent, outcome: PublishOutcome) -> Answer:
        flow_id = valid.request.flow_id
        if not outcome.published:
            logger.error("publish failed", extra={"flowId": flow_id, "eventId": valid.event["eventId"],
                                                  "reason": outcome.error})
            return self._answer(valid.request.name, "failed_dependency",
                                _unavailable(outcome, valid.event["eventId"]), flow_id)
        logger.info("event published", extra={"flowId": flow_id, "eventId": valid.event["eventId"],
                                               "eventType": valid.event["eventType"],
                                               "whitelabel": partner_of(valid.event),
                                               "messageId": outcome.message_id})
        return self._answer(valid.request.name, "response",
                            {"eventId": valid.event["eventId"], "messageId": outcome.message_id}, flow_id)

    def _batch(self, document: Any, authorization: str | None) -> Answer:
        try:
            items, batch_request = _batch_items(document)
        except ProtocolError as envelope_error:
            self._authenticate(authorization, envelope_error.request)
            raise
        self._authenticate(authorization, batch_request)
        flow_id = batch_request.flow_id if batch_request else logs.current_flow_id() or new_flow_id()
        logs.set_flow_id(flow_id)
        name = (batch_request.name if batch_request else None) or BATCH_NAME
        if not items:
            raise bad_request("INVALID_FIELDS", "the batch is empty",
                              fields=[{"field": "events", "problem": "must hold at least one event"}])
        if len(items) > self._settings.max_batch_events:
            raise bad_request("PAYLOAD_TOO_LARGE", "too many events in one batch",
                              maxEvents=self._settings.max_batch_events, events=len(items))
        results: list[dict[str, Any]] = []
        valid: list[tuple[int, _ValidEvent]] = []
        for index, item in enumerate(items):
            try:
                request = parse_request(item)
                if batch_request is None or not request.wrapped:
                    request.flow_id = flow_id
                valid.append((index, self._validate(request)))
                results.append({})
            except ProtocolError as error:
                results.append({"index": index, "outcome": error.kind, "payload": error.payload()})
        outcomes = self._publish([v.message() for _, v in valid]) if valid else []
        for (index, event), outcome in zip(valid, outcomes):
            answer_ = self._published_answer(event, outcome)
            results[index] = {"index": index, "outcome": answer_.body["name"].rsplit(":", 1)[1],
                              "payload": answer_.body["payload"]}
        counts = {kind: sum(1 for r in results if r["outcome"] == kind)
                  for kind in ("response", "bad_request", "failed_dependency")}
        payload = {"published": counts["response"], "rejected": counts["bad_request"],
                   "failed": counts["failed_dependency"], "results": results}
        kind = "failed_dependency" if counts["failed_dependency"] else "response"
        return self._answer(name, kind, payload, flow_id)

    def _answer(self, name: str | None, kind: str, payload: dict[str, Any], flow_id: str | None = None) -> Answer:
        flow_id = flow_id or logs.current_flow_id() or new_flow_id()
        return Answer(ANSWER_STATUS[kind], answer(name, kind, payload, flow_id, ORIGIN))


def _unavailable(outcome: PublishOutcome, event_id: str) -> dict[str, Any]:
    return {"code": "PUBSUB_UNAVAILABLE", "message": outcome.error or "Pub/Sub did not confirm the publish",
            "parameters": {"eventId": event_id, "retryable": True}}


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProtocolError("unauthorized", "INVALID_TOKEN", "the Authorization header must be 'Bearer <key>'")
    return token.strip()


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad_request("INVALID_JSON", "the body is not valid UTF-8 JSON", error=str(exc)[:200])


def _batch_items(document: Any) -> tuple[list[Any], ProtocolRequest | None]:
    """A batch is a JSON array of events, ``{"events": [...]}``, or a protocol event whose payload
    is one of those."""
    request = None
    body = document
    if isinstance(document, dict) and "payload" in document:
        request = parse_request(document)
        body = request.payload
    if isinstance(body, dict) and "events" in body:
        body = body["events"]
    if not isinstance(body, list):
        raise bad_request("INVALID_FIELDS", "a batch is a list of events",
                          fields=[{"field": "events", "problem": "must be an array of events"}]).about(request)
    return body, request
