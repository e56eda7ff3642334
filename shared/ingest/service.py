"""The ingest service: validate platform events and publish them to topic ``events``.

``POST /v1/events`` takes one event, ``POST /v1/events/batch`` up to 500 (5 MB); either may be
an Events Protocol event or a bare event. Every answer is a protocol event (shared.events.protocol):
HTTP 200 for a protocol event whatever its kind, the kind's own status for anything else. Each
answer is logged once with its kind, code and HTTP status, so refusals stay countable when the
status is 200.
"""

from __future__ import annotations

import contextvars
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from werkzeug.routing import Rule

from shared.events import contract as event_contract
from shared.events.message import event_message, partner_of
from shared.events.protocol import (
    BAD_REQUEST,
    ERROR,
    NOT_FOUND,
    RESPONSE,
    UNAUTHORIZED,
    ProtocolError,
    ProtocolRequest,
    answer,
    answer_status,
    bad_request,
    failed_dependency,
    is_protocol_event,
    kind_name,
    new_flow_id,
    parse_request,
    read_envelope,
)
from shared.ingest.settings import IngestSettings
from shared.platform import json_body, logs
from shared.platform.api_keys import ApiKeyVerifier
from shared.platform.http import (
    Answer,
    HttpApi,
    MethodNotAllowed,
    NoRoute,
    Request,
    Routes,
)
from shared.platform.publisher import OutgoingMessage, PublishOutcome

ORIGIN = "ingest"
BATCH_NAME = "events.batch"
SINGLE_PATH = "/v1/events"
BATCH_PATH = "/v1/events/batch"

ROUTES = Routes([Rule(SINGLE_PATH, endpoint="single", methods=["POST"]),
                 Rule(BATCH_PATH, endpoint="batch", methods=["POST"])])

Publish = Callable[[list[OutgoingMessage]], list[PublishOutcome]]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Reply:
    """Whom the answers to the request being handled are for, as far as the request was read:
    the protocol name they carry (``<name>:<kind>``) and whether the caller sent a protocol event."""

    name: str | None = None
    protocol: bool = False


_reply: contextvars.ContextVar[_Reply] = contextvars.ContextVar("ingest_reply", default=_Reply())


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
        _reply.set(_Reply(self._default_name(request)))
        try:
            route = ROUTES.match(request.method, request.path)
        except (NoRoute, MethodNotAllowed):
            # A protocol client on a wrong path (a misconfigured URL) still gets an event it can read.
            _replying_to(_envelope_in(request))
            raise
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
        _replying_to(protocol_request)
        self._authenticate(authorization, protocol_request)
        valid = self._validate(protocol_request)
        return self._answer(RESPONSE, self._published(valid, self._publish([valid.message()])[0]))

    def _error_answer(self, error: Exception, request: Request) -> Answer:
        """Every refusal as a protocol event: its name, flowId and status as far as the request was read."""
        if not isinstance(error, ProtocolError):  # a routing error: ingest has no 405
            error = ProtocolError(NOT_FOUND, "UNKNOWN_ROUTE", f"no route for {request.method} {request.path}",
                                  routes=ROUTES.describe())
        _replying_to(error.request)
        return self._answer(error.kind, error.payload(), error.mirrored_status)

    def _internal_answer(self, request: Request) -> Answer:
        return self._answer(ERROR, {"code": "INTERNAL", "message": "unexpected server error", "parameters": {}}, 500)

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
            raise ProtocolError(UNAUTHORIZED, "MISSING_TOKENS",
                                "an API key is required: Authorization: Bearer <key> or auth.token").about(request)
        if self._keys.app_name(token) is None:
            raise ProtocolError(UNAUTHORIZED, "INVALID_TOKEN", "the API key is unknown or revoked").about(request)

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

    @staticmethod
    def _published(valid: _ValidEvent, outcome: PublishOutcome, level: int = logging.INFO) -> dict[str, Any]:
        """The response payload of a published event; raises PUBSUB_UNAVAILABLE when it was not.
        ``level`` of its "event published" line: a batch's are DEBUG, its summary is INFO."""
        event_id = valid.event["eventId"]
        if not outcome.published:
            logger.error("publish failed", extra={"flowId": valid.request.flow_id, "eventId": event_id,
                                                  "reason": outcome.error})
            raise failed_dependency("PUBSUB_UNAVAILABLE", outcome.error or "Pub/Sub did not confirm the publish",
                                    eventId=event_id, retryable=True).about(valid.request)
        logger.log(level, "event published", extra={"flowId": valid.request.flow_id, "eventId": event_id,
                                                     "eventType": valid.event["eventType"],
                                                     "whitelabel": partner_of(valid.event),
                                                     "messageId": outcome.message_id, "count": 1})
        return {"eventId": event_id, "messageId": outcome.message_id}

    def _batch(self, document: Any, authorization: str | None) -> Answer:
        try:
            items, batch_request = _batch_items(document)
        except ProtocolError as envelope_error:
            self._authenticate(authorization, envelope_error.request)
            raise
        _replying_to(batch_request)
        self._authenticate(authorization, batch_request)
        flow_id = logs.current_flow_id() or new_flow_id()
        if not items:
            raise bad_request("INVALID_FIELDS", "the batch is empty",
                              fields=[{"field": "events", "problem": "must hold at least one event"}])
        if len(items) > self._settings.max_batch_events:
            raise bad_request("PAYLOAD_TOO_LARGE", "too many events in one batch",
                              maxEvents=self._settings.max_batch_events, events=len(items))
        results = [_BatchResult(index, _claimed_event_id(item)) for index, item in enumerate(items)]
        valid: list[tuple[_BatchResult, _ValidEvent]] = []
        for result, item in zip(results, items):
            try:
                request = parse_request(item)
                if batch_request is None or not request.wrapped:
                    request.flow_id = flow_id
                valid.append((result, self._validate(request)))
            except ProtocolError as refused:
                result.refused(refused)
        outcomes = self._publish([event.message() for _, event in valid]) if valid else []
        published_by_type: Counter[str] = Counter()
        for (result, event), outcome in zip(valid, outcomes):
            try:
                result.published(self._published(event, outcome, logging.DEBUG))
                published_by_type[event.event["eventType"]] += 1
            except ProtocolError as unavailable:
                result.refused(unavailable)
        # One line per event type instead of one per event (formatting 500 JSON lines was a third
        # of a batch's time in process); events_published sums their count.
        for event_type, count in published_by_type.items():
            logger.info("events published", extra={"flowId": flow_id, "eventType": event_type, "count": count})
        counts = {"published": sum(r.outcome == RESPONSE for r in results),
                  "rejected": sum(r.outcome == BAD_REQUEST for r in results),
                  "failed": sum(r.outcome == ERROR for r in results)}
        payload = {**counts, "results": [r.encode(_reply.get().protocol) for r in results]}
        if counts["failed"]:
            unavailable = failed_dependency("PUBSUB_UNAVAILABLE",
                                            f"{counts['failed']} of the events could not be published: "
                                            "send those again", retryable=True)
            return self._answer(unavailable.kind, {**unavailable.payload(), **payload},
                                unavailable.mirrored_status, **counts)
        return self._answer(RESPONSE, payload, **counts)

    def _answer(self, kind: str, payload: dict[str, Any], mirrored_status: int = 200, **log_fields: Any) -> Answer:
        """The answer event, its HTTP status for this caller, and its one log line."""
        reply = _reply.get()
        status = answer_status(mirrored_status, reply.protocol)
        name = kind_name(kind, mirrored_status, reply.protocol)
        body = answer(reply.name, name, payload, logs.current_flow_id() or new_flow_id(), ORIGIN)
        level = logging.INFO if kind == RESPONSE else logging.WARNING if mirrored_status < 500 else logging.ERROR
        logger.log(level, "answered", extra={"answer": body["name"], "kind": name, "code": payload.get("code"),
                                             "httpStatus": status, **log_fields})
        return Answer(status, body)


@dataclass
class _BatchResult:
    """One event's outcome in a batch: what /v1/events would have answered for it."""

    index: int
    event_id: str | None
    outcome: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    mirrored_status: int = 200

    def refused(self, error: ProtocolError) -> None:
        self.outcome, self.payload, self.mirrored_status = error.kind, error.payload(), error.mirrored_status

    def published(self, payload: dict[str, Any]) -> None:
        self.outcome, self.payload = RESPONSE, payload

    def encode(self, protocol_request: bool) -> dict[str, Any]:
        encoded: dict[str, Any] = {"index": self.index}
        if self.event_id is not None:
            encoded["eventId"] = self.event_id
        outcome = kind_name(self.outcome or RESPONSE, self.mirrored_status, protocol_request)
        return {**encoded, "outcome": outcome, "payload": self.payload}


def _replying_to(request: ProtocolRequest | None) -> None:
    """Answers from here on carry this request's name and flowId, with the status its shape gets."""
    if request is None:
        return
    logs.set_flow_id(request.flow_id)
    _reply.set(_Reply(request.name or _reply.get().name, request.wrapped))


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProtocolError(UNAUTHORIZED, "INVALID_TOKEN", "the Authorization header must be 'Bearer <key>'")
    return token.strip()


def _parse_json(body: bytes) -> Any:
    """The body as every ingest answer reads it (shared.platform.json_body: I-JSON). A body refused
    only for some values still names its envelope: a protocol client gets its answer as an event."""
    try:
        # Events are forwarded, not stored in Firestore: their integers keep every digit.
        return json_body.decode(body, exact_integers=True)
    except json_body.JsonRefused as refused:
        raise bad_request("INVALID_JSON", "the body is not valid UTF-8 JSON",
                          error=str(refused)).about(read_envelope(refused.document))


def _envelope_in(request: Request) -> ProtocolRequest | None:
    """The protocol event in a request's body, as far as it can be read; None for anything else."""
    if request.too_large:
        return None
    try:
        return read_envelope(_parse_json(request.body))
    except ProtocolError as not_json:
        return not_json.request


def _claimed_event_id(item: Any) -> str | None:
    """The eventId a batch item carries, valid or not, so that its result can be matched by id."""
    event = item.get("payload") if is_protocol_event(item) else item
    event_id = event.get("eventId") if isinstance(event, dict) else None
    return event_id if isinstance(event_id, str) else None


def _batch_items(document: Any) -> tuple[list[Any], ProtocolRequest | None]:
    """A batch is a JSON array of events, ``{"events": [...]}``, or a protocol event whose payload
    is one of those."""
    request = None
    body = document
    if is_protocol_event(document):
        request = parse_request(document)
        body = request.payload
    if isinstance(body, dict) and "events" in body:
        body = body["events"]
    if not isinstance(body, list):
        raise bad_request("INVALID_FIELDS", "a batch is a list of events",
                          fields=[{"field": "events", "problem": "must be an array of events"}]).about(request)
    return body, request
