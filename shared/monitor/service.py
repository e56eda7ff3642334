"""The monitor API: routes, authentication, rules, and one handler per operation.

Paths are served both relative to the function URL (``/v1/...``) and under the spec's prefix
(``/lumis/api/rest/lumis/monitor/v1/...``), so clients of the original API point at it unchanged.
Every request carries an app API key (``Authorization: Bearer <key>``). ``X-Authenticated-User``
states the login of the user authenticated in the calling system's session (see README, "Monitor").
Every error answers the one error object of ``errors``; an unexpected failure is logged with its
stack and answered 500 INTERNAL without it.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, TypeVar

from werkzeug.routing import Rule

from shared.events import contract as event_contract
from shared.events.message import event_message
from shared.monitor import events
from shared.monitor.config import MonitorConfig
from shared.monitor.errors import (
    MonitorError,
    invalid_fields,
    missing_fields,
    not_monitored,
    problem,
    user_not_found,
)
from shared.monitor.idempotency import HEADER, IdempotencyStore, fingerprint, read_key
from shared.monitor.operations import (
    Context,
    Reads,
    Writes,
    plan_consent,
    plan_create,
    plan_identify,
    plan_update,
    require_authenticated_user,
)
from shared.monitor.rules import RequestFacts
from shared.monitor.store import Plan, UserStore
from shared.monitor.users import (
    new_track_id,
    personal_fields_set,
    validate_changes,
    validate_friendly_id,
)
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

SPEC_PREFIX = "/lumis/api/rest/lumis/monitor"
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
AUTHENTICATED_USER_HEADER = "x-authenticated-user"
FLOW_ID_HEADER = "x-flow-id"
# trackIds are generated as 32 letters and digits; anything else names no user.
TRACK_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")

Publish = Callable[[list[OutgoingMessage]], list[PublishOutcome]]
T = TypeVar("T")


ROUTES = Routes([
    Rule("/v1/users", endpoint="create_user", methods=["POST"]),
    Rule("/v1/users/<trackId>", endpoint="update_user", methods=["PATCH"]),
    Rule("/v1/users/<trackId>/identify", endpoint="identify", methods=["POST"]),
    Rule("/v1/users/<trackId>/consents", endpoint="record_consent", methods=["POST"]),
    Rule("/v1/events/<eventTypeId>/data", endpoint="record_event", methods=["POST"]),
])
# The media type each route's body must have (JSON unless named here).
MEDIA_TYPES = {"update_user": MERGE_PATCH}

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Call:
    """One request as the handlers see it."""

    params: dict[str, str]
    body: Any
    config: MonitorConfig
    ctx: Context
    flow_id: str
    facts: RequestFacts
    # The Idempotency-Key of an event occurrence (record_event only), None without one.
    idempotency_key: str | None = None

    def require_monitored(self, *users: dict[str, Any] | None) -> None:
        """403 unless the rules monitor this request about these stored users (None: absent)."""
        reason = self.config.rules.excluding(self.facts.with_users(*users))
        if reason:
            raise not_monitored(reason)

    def guarded(self, plan: Plan[T]) -> Plan[T]:
        """``plan`` preceded by the rules on the users it read: an excluded user is refused
        before anything is decided or written."""
        def run(reads: Reads) -> tuple[Writes, T]:
            self.require_monitored(reads.tracked, reads.owner)
            return plan(reads)
        return run


class MonitorService:
    def __init__(self, keys: ApiKeyVerifier, config: Callable[[], MonitorConfig], users: UserStore,
                 publish: Publish, max_body_bytes: int, idempotency: IdempotencyStore):
        self._keys = keys
        self._config = config
        self._users = users
        self._publish = publish
        self._idempotency = idempotency
        self.api = HttpApi(name="monitor", handle=self.handle, body_limit=lambda _path: max_body_bytes,
                           error_family=(MonitorError,), error_answer=self._error_answer,
                           internal_answer=self._internal_answer, finish=self._finish)

    def handle(self, request: Request) -> Answer:
        flow_id = _flow_id(request.headers.get(FLOW_ID_HEADER))
        logs.set_flow_id(flow_id)
        route = ROUTES.match(request.method, relative_path(request.path))
        if request.too_large:
            raise MonitorError(413, "PAYLOAD_TOO_LARGE", "the request body is too large")
        app = self._authenticate(request.headers.get("authorization"))
        _check_media_type(MEDIA_TYPES.get(route.endpoint, JSON), request.headers.get("content-type"))
        idempotency_key = read_key(request.headers.get(HEADER)) if route.endpoint == "record_event" else None
        body = _parse_json(request.body)
        config = self._config()
        login = _authenticated_user(request.headers.get(AUTHENTICATED_USER_HEADER))
        friendly_id = body.get("friendlyId") if isinstance(body, dict) else None
        identifiers = tuple(i for i in (friendly_id, login) if isinstance(i, str))
        facts = RequestFacts(app=app, user_agent=request.headers.get("user-agent", ""),
                             client_ip=_client_ip(request), identifiers=identifiers)
        # Exclusions first, on the request alone; every rule again once the users are read.
        excluded = config.rules.excluded(facts)
        if excluded:
            raise not_monitored(excluded)
        call = _Call(route.params, body, config, Context(config.privacy, app, login, datetime.now(timezone.utc)),
                     flow_id, facts, idempotency_key)
        return getattr(self, route.endpoint)(call)

    @staticmethod
    def _error_answer(error: Exception, request: Request) -> Answer:
        """Every refusal as the monitor's one error object."""
        if isinstance(error, MethodNotAllowed):
            error = MonitorError(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed here",
                                 allowed=error.allowed)
        elif isinstance(error, NoRoute):
            error = MonitorError(404, "UNKNOWN_ROUTE", f"no route for {request.method} {request.path}",
                                 routes=ROUTES.describe())
        assert isinstance(error, MonitorError)
        logger.warning("request refused", extra={"status": error.status, "code": error.code,
                                                 "method": request.method, "path": request.path})
        return Answer(error.status, error.body(_current_flow_id()))

    @staticmethod
    def _internal_answer(_request: Request) -> Answer:
        return Answer(500, MonitorError(500, "INTERNAL", "unexpected server error").body(_current_flow_id()))

    @staticmethod
    def _finish(_request: Request, answer: Answer) -> Answer:
        return answer.with_headers({"X-Flow-Id": _current_flow_id()})

    # -- handlers -------------------------------------------------------------------------------

    def create_user(self, call: _Call) -> Answer:
        attributes = call.config.attributes
        changes = validate_changes(call.body, attributes, friendly_id_allowed=True)
        friendly_id = changes.get("friendlyId")
        if friendly_id is not None:
            require_authenticated_user(call.ctx.login, friendly_id)
        personal = personal_fields_set(changes, attributes)
        new_id = new_track_id()
        created, track_id = self._users.transact(
            call.guarded(lambda reads: plan_create(reads, changes, personal, call.ctx, new_id)),
            friendly_id=friendly_id)
        logger.info("user created" if created else "user updated", extra={"flowId": call.flow_id, "trackId": track_id})
        return Answer(200, {"created": created, "lum_user": {"trackId": track_id}})

    def update_user(self, call: _Call) -> Answer:
        track_id = _track_id(call.params["trackId"])
        attributes = call.config.attributes
        changes = validate_changes(call.body, attributes, friendly_id_allowed=False)
        personal = personal_fields_set(changes, attributes)
        updated = self._users.transact(
            call.guarded(lambda reads: plan_update(track_id, reads, changes, personal, call.ctx)), track_id=track_id)
        logger.info("user updated", extra={"flowId": call.flow_id, "trackId": updated})
        return Answer(204, None)

    def identify(self, call: _Call) -> Answer:
        track_id = _track_id(call.params["trackId"])
        body = _object_with(call.body, required=("friendlyId",))
        friendly_id = validate_friendly_id(body["friendlyId"])
        new_id = new_track_id()
        rule, result_id = self._users.transact(
            call.guarded(lambda reads: plan_identify(track_id, reads, friendly_id, call.ctx, new_id)),
            track_id=track_id, friendly_id=friendly_id)
        logger.info("user identified",
                    extra={"flowId": call.flow_id, "trackId": track_id, "rule": rule.value,
                           "resultTrackId": result_id})
        return Answer(200, {"lum_user": {"trackId": result_id}})

    def record_consent(self, call: _Call) -> Answer:
        track_id = _track_id(call.params["trackId"])
        body = _object_with(call.body, required=("termId",))
        term_id = body["termId"]
        terms = call.config.privacy.terms
        if term_id not in terms:
            raise invalid_fields([problem("termId", f"is not a privacy term of this environment: {list(terms)}")])
        recorded, consent, user_id = self._users.transact(
            call.guarded(lambda reads: plan_consent(track_id, reads, term_id, call.ctx)), track_id=track_id)
        logger.info("consent recorded" if recorded else "consent already recorded",
                    extra={"flowId": call.flow_id, "trackId": track_id, "termId": term_id})
        return Answer(201 if recorded else 200, {"lum_user": {"trackId": user_id}, "termId": term_id,
                                                 "acceptedAt": events.iso_utc(consent["acceptedAt"])})

    def record_event(self, call: _Call) -> Answer:
        event_type = call.config.event_types.get(call.params["eventTypeId"])
        if event_type is None:
            raise MonitorError(404, "UNKNOWN_EVENT_TYPE", "no event type is registered with this id",
                               eventTypeId=call.params["eventTypeId"], known=sorted(call.config.event_types))
        track_id, values = events.read_occurrence(call.body, event_type)
        user = self._users.get(_track_id(track_id))
        call.require_monitored(user)
        if user is None:
            raise user_not_found(track_id)
        event = events.envelope(event_type, values, user, call.ctx.now)
        violation = event_contract.validate(event)
        if violation:
            raise RuntimeError(f"monitor built an event that breaks its contract: {violation}")
        key = call.idempotency_key
        if key is not None:
            reservation = self._idempotency.reserve(call.ctx.app, key, fingerprint(event_type.id, call.body), event)
            event = reservation.event
            if reservation.message_id is not None:
                logger.info("event resent: answered again", extra={"flowId": call.flow_id, "eventId": event["eventId"]})
                return _occurrence_answer(event, reservation.message_id)
        outcome = self._publish([event_message(event, call.flow_id)])[0]
        if not outcome.published:
            logger.error("publish failed",
                         extra={"flowId": call.flow_id, "eventId": event["eventId"], "reason": outcome.error})
            raise MonitorError(424, "PUBSUB_UNAVAILABLE", outcome.error or "Pub/Sub did not confirm the publish",
                               retryable=True)
        logger.info("event published",
                    extra={"flowId": call.flow_id, "eventId": event["eventId"], "eventType": events.EVENT_TYPE,
                           "monitorEventType": event_type.id, "whitelabel": event_type.whitelabel,
                           "messageId": outcome.message_id, "count": 1})
        if key is not None:
            self._record_published(call.ctx.app, key, event, outcome.message_id)
        return _occurrence_answer(event, outcome.message_id)

    def _record_published(self, app: str, key: str, event: dict[str, Any], message_id: str | None) -> None:
        """Best effort: the event is published whatever happens here; unrecorded, a resend
        publishes it again with its eventId, which destinations deduplicate."""
        try:
            self._idempotency.published(app, key, message_id or "")
        except Exception:
            logger.warning("idempotency key not marked published", exc_info=True,
                           extra={"eventId": event["eventId"]})

    # -- helpers --------------------------------------------------------------------------------

    def _authenticate(self, authorization: str | None) -> str:
        if not authorization:
            raise MonitorError(401, "MISSING_TOKENS", "an API key is required: Authorization: Bearer <key>")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise MonitorError(401, "INVALID_TOKEN", "the Authorization header must be 'Bearer <key>'")
        app = self._keys.app_name(token.strip())
        if app is None:
            raise MonitorError(401, "INVALID_TOKEN", "the API key is unknown or revoked")
        return app


def _occurrence_answer(event: dict[str, Any], message_id: str | None) -> Answer:
    return Answer(200, {"eventId": event["eventId"], "messageId": message_id,
                        "lum_user": {"trackId": event["ownerExternalId"]}})


def relative_path(path: str) -> str:
    """The path relative to the API root: served at ``/v1/...`` and under the spec's prefix."""
    return path.removeprefix(SPEC_PREFIX) if path.startswith(SPEC_PREFIX + "/") else path


def _current_flow_id() -> str:
    return logs.current_flow_id() or str(uuid.uuid4())


def _check_media_type(expected: str, content_type: str | None) -> None:
    """A body of another media type is refused; a request without Content-Type is read as the
    route's type."""
    if content_type is None:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != expected:
        raise MonitorError(415, "UNSUPPORTED_MEDIA_TYPE", f"the body must be {expected}",
                           expected=expected, received=media_type)


def _parse_json(body: bytes) -> Any:
    """The body as I-JSON (shared.platform.json_body): no NaN or Infinity, numbers that are finite
    doubles (an integer beyond 64 bits read as JavaScript reads it), Unicode strings, at most
    MAX_DEPTH levels. An empty body is an empty object."""
    if not body.strip():
        return {}
    try:
        return json_body.decode(body)
    except json_body.JsonRefused as refused:
        raise MonitorError(400, "INVALID_JSON", "the body is not valid UTF-8 JSON", error=str(refused)) from None


def _object_with(body: Any, required: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid_fields([problem("", "must be a JSON object")])
    missing = [name for name in required if body.get(name) is None]
    if missing:
        raise missing_fields(missing)
    unknown = [problem(name, "is not accepted here") for name in body if name not in required]
    if unknown:
        raise invalid_fields(unknown)
    return body


def _track_id(value: str) -> str:
    if not TRACK_ID.match(value):
        raise user_not_found(value)
    return value


def _authenticated_user(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return validate_friendly_id(value.strip(), field="X-Authenticated-User")
    except MonitorError as exc:
        raise MonitorError(400, "INVALID_HEADER", "invalid X-Authenticated-User header",
                           fields=exc.parameters["fields"]) from None


def _client_ip(request: Request) -> str:
    forwarded = request.headers.get("x-forwarded-for", "")
    return forwarded.split(",", 1)[0].strip() or request.remote_addr


def _flow_id(header: str | None) -> str:
    if header and len(header) <= 128 and header.isprintable():
        return header
    return str(uuid.uuid4())

