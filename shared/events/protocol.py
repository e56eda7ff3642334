"""The Events Protocol envelope (../shared/specs/events-protocol.md).

A request is an event ``{name, version, id, flowId, payload, identity, auth, metadata}``; every
answer is an event too, named ``<name>:<kind>``, with a fresh ``id``, the request's ``flowId``
and ``metadata.origin``/``timestamp`` set. The HTTP status mirrors the kind (see ANSWER_STATUS).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

# Answer kind -> HTTP status. Documented in README and openapi.yaml.
ANSWER_STATUS = {
    "response": 200,
    "bad_request": 400,
    "unauthorized": 401,
    "not_found": 404,
    "failed_dependency": 424,
    "error": 500,
}

FALLBACK_NAME = "event"
ENVELOPE_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "id": str,
    "flowId": str,
    "identity": dict,
    "auth": dict,
    "metadata": dict,
}


class ProtocolError(Exception):
    """An error answer, raised anywhere while handling a request and encoded in one place."""

    def __init__(self, kind: str, code: str, message: str, **parameters: Any):
        super().__init__(message)
        self.request: ProtocolRequest | None = None
        self.kind = kind
        self.code = code
        self.message = message
        self.parameters = parameters

    def about(self, request: "ProtocolRequest | None") -> "ProtocolError":
        """Attach the request as far as it could be read, so the answer keeps its name and flowId."""
        self.request = request
        return self

    def payload(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "parameters": self.parameters}


def bad_request(code: str, message: str, **parameters: Any) -> ProtocolError:
    return ProtocolError("bad_request", code, message, **parameters)


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


def parse_request(body: Any) -> ProtocolRequest:
    """Read a protocol event, or a bare event (anything without ``payload``) as its own payload."""
    if not isinstance(body, dict):
        raise bad_request("INVALID_FIELDS", "the request must be a JSON object",
                          fields=[{"field": "", "problem": "must be a JSON object"}])
    if "payload" not in body:
        event_type = body.get("eventType")
        return ProtocolRequest(
            name=event_type if isinstance(event_type, str) else None,
            version=1,
            flow_id=new_flow_id(),
            payload=body,
            auth_token=None,
            wrapped=False,
        )
    invalid = [
        {"field": name, "problem": f"must be {'a string' if kind is str else 'an object'}"}
        for name, kind in ENVELOPE_FIELD_TYPES.items()
        if name in body and not isinstance(body[name], kind)
    ]
    flow_id = body.get("flowId") if isinstance(body.get("flowId"), str) and body["flowId"] else new_flow_id()
    name = body.get("name") if isinstance(body.get("name"), str) else None
    request = ProtocolRequest(
        name=name,
        version=body.get("version", 1),
        flow_id=flow_id,
        payload=body["payload"],
        auth_token=_token(body.get("auth")),
        wrapped=True,
    )
    if invalid:
        raise bad_request("INVALID_FIELDS", "invalid protocol fields", fields=invalid).about(request)
    if "name" not in body:
        raise bad_request("MISSING_FIELDS", "missing protocol fields", fields=["name"]).about(request)
    if isinstance(request.version, bool) or not isinstance(request.version, int):
        raise bad_request("INVALID_FIELDS", "invalid protocol fields",
                          fields=[{"field": "version", "problem": "must be an integer"}]).about(request)
    return request


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
        "metadata": {"origin": origin, "timestamp": int(time.time())},
    }
