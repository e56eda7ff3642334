"""The Events Protocol envelope (../shared/specs/events-protocol.md), as its official client
libraries read it.

A request is an event ``{name, version, id, flowId, payload, identity, auth, metadata}``; every
answer is an event too, named ``<name>:<kind>``, with a fresh ``id``, the request's ``flowId``,
``metadata.origin``/``timestamp`` and empty ``identity``/``auth`` objects (the Kotlin client's
strict validator refuses an answer without them).

Kinds are spelt as GuiaBolso's libraries write and parse them (Kotlin ``EventErrorType``, Python
``events_protocol``, JS ``responseEventBuilder``): ``badRequest`` and ``notFound``, where the spec's
prose writes ``bad_request`` and ``not_found``. The Python client counts only its own spellings as
errors (``is_error``), so those are the ones that reach an app as typed errors. No client knows a
failed-dependency kind (the Python client would see neither a success nor an error), so a
dependency failure is an ``error`` whose ``code`` says which, as the Python reference server
answers its ``FAILED_DEPENDENCY``.

Those clients read an answer only from a 2xx status; any other status is a transport failure to
them and the event is lost. So a protocol event is answered 200 whatever the kind, as the
reference servers do, and a bare request (not a protocol event) gets the kind's HTTP status
(``answer_status``) and the kind as the spec writes it (``kind_name``: ``bad_request``,
``not_found``, ``failed_dependency``), as this API always answered plain HTTP callers.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

RESPONSE = "response"
BAD_REQUEST = "badRequest"
UNAUTHORIZED = "unauthorized"
NOT_FOUND = "notFound"
ERROR = "error"

# The HTTP status each kind has for a caller that did not send a protocol event.
MIRRORED_STATUS = {RESPONSE: 200, BAD_REQUEST: 400, UNAUTHORIZED: 401, NOT_FOUND: 404, ERROR: 500}
FAILED_DEPENDENCY_STATUS = 424
# The spec's spelling of the kinds whose clients' spelling differs; a bare request's answers use it.
_SPEC_KIND = {BAD_REQUEST: "bad_request", NOT_FOUND: "not_found"}
_SPEC_FAILED_DEPENDENCY = "failed_dependency"

FALLBACK_NAME = "event"
ENVELOPE_FIELD_TYPES: dict[str, type] = {
    "name": str,
    "id": str,
    "flowId": str,
    "identity": dict,
    "auth": dict,
    "metadata": dict,
}
# The JS client sends the version of a ``name:v1`` call as the string "1".
_DIGITS = re.compile(r"[0-9]+")


class ProtocolError(Exception):
    """An error answer, raised anywhere while handling a request and encoded in one place.

    ``mirrored_status`` is its HTTP status for a caller that did not send a protocol event."""

    def __init__(self, kind: str, code: str, message: str, *, mirrored_status: int | None = None,
                 **parameters: Any):
        super().__init__(message)
        self.request: ProtocolRequest | None = None
        self.kind = kind
        self.code = code
        self.message = message
        self.mirrored_status = mirrored_status or MIRRORED_STATUS[kind]
        self.parameters = parameters

    def about(self, request: "ProtocolRequest | None") -> "ProtocolError":
        """Attach the request as far as it could be read, so the answer keeps its name, flowId and shape."""
        self.request = request
        return self

    def payload(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "parameters": self.parameters}


def bad_request(code: str, message: str, **parameters: Any) -> ProtocolError:
    return ProtocolError(BAD_REQUEST, code, message, **parameters)


def failed_dependency(code: str, message: str, **parameters: Any) -> ProtocolError:
    """A dependency did not answer: an ``error`` event (see the module doc), HTTP 424 when mirrored."""
    return ProtocolError(ERROR, code, message, mirrored_status=FAILED_DEPENDENCY_STATUS, **parameters)


def kind_name(kind: str, mirrored_status: int, protocol_request: bool) -> str:
    """The kind as this caller reads it: the client libraries' spelling for a protocol event, the
    spec's for a bare request, whose dependency failures are ``failed_dependency`` (HTTP 424)."""
    if protocol_request:
        return kind
    if mirrored_status == FAILED_DEPENDENCY_STATUS:
        return _SPEC_FAILED_DEPENDENCY
    return _SPEC_KIND.get(kind, kind)


def answer_status(mirrored_status: int, protocol_request: bool) -> int:
    """200 for every answer to a protocol event (its clients read the kind from the name, and
    nothing from a non-2xx answer); the mirrored status for anything else, so a plain HTTP caller
    checking the status is never told "OK" for a refused event."""
    return 200 if protocol_request else mirrored_status


@dataclass
class ProtocolRequest:
    name: str | None
    version: Any
    flow_id: str
    payload: Any
    auth_token: str | None
    wrapped: bool


def new_flow_id() -> str:
    return str(uuid.uuid4())


def is_protocol_event(document: Any) -> bool:
    """A protocol event is a JSON object with a ``payload``; anything else is a bare event."""
    return isinstance(document, dict) and "payload" in document


def read_envelope(document: Any) -> ProtocolRequest | None:
    """The protocol event as far as it can be read without judging it (name, flowId, token), or
    None when ``document`` is not one. Its answers keep that name and flowId even when it is refused."""
    if not is_protocol_event(document):
        return None
    name = document.get("name")
    flow_id = document.get("flowId")
    return ProtocolRequest(
        name=name if isinstance(name, str) else None,
        version=document.get("version", 1),
        flow_id=flow_id if isinstance(flow_id, str) and flow_id else new_flow_id(),
        payload=document["payload"],
        auth_token=_token(document.get("auth")),
        wrapped=True,
    )


def parse_request(document: Any) -> ProtocolRequest:
    """Read a protocol event, or a bare event (an object without ``payload``) as its own payload."""
    if not isinstance(document, dict):
        raise bad_request("INVALID_FIELDS", "the request must be a JSON object",
                          fields=[{"field": "", "problem": "must be a JSON object"}])
    request = read_envelope(document)
    if request is None:
        event_type = document.get("eventType")
        return ProtocolRequest(
            name=event_type if isinstance(event_type, str) else None,
            version=1,
            flow_id=new_flow_id(),
            payload=document,
            auth_token=None,
            wrapped=False,
        )
    invalid = [
        {"field": name, "problem": f"must be {'a string' if kind is str else 'an object'}"}
        for name, kind in ENVELOPE_FIELD_TYPES.items()
        if name in document and not isinstance(document[name], kind)
    ]
    if invalid:
        raise bad_request("INVALID_FIELDS", "invalid protocol fields", fields=invalid).about(request)
    if "name" not in document:
        raise bad_request("MISSING_FIELDS", "missing protocol fields", fields=["name"]).about(request)
    version = _version(request.version)
    if version is None:
        raise bad_request("INVALID_FIELDS", "invalid protocol fields",
                          fields=[{"field": "version", "problem": "must be an integer or a string of digits"}]
                          ).about(request)
    request.version = version
    return request


def _version(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    return None


def _token(auth: Any) -> str | None:
    if isinstance(auth, dict) and isinstance(auth.get("token"), str) and auth["token"]:
        return auth["token"]
    return None


def answer(name: str | None, kind: str, payload: dict[str, Any], flow_id: str, origin: str) -> dict[str, Any]:
    return {
        "name": f"{name or FALLBACK_NAME}:{kind}",
        "version": 1,
        "id": str(uuid.uuid4()),
        "flowId": flow_id,
        "payload": payload,
        "identity": {},
        "auth": {},
        "metadata": {"origin": origin, "timestamp": int(time.time())},
    }
