"""The one error object of the monitor API.

Every error answers ``{"status", "code", "message", "parameters", "flowId"}`` with the HTTP
status in ``status``: the same ``code``/``message``/``parameters`` triple as the platform's
Events Protocol error payloads, so one client parses both. Never a stack trace.
"""

from __future__ import annotations

from typing import Any


class MonitorError(Exception):
    def __init__(self, status: int, code: str, message: str, **parameters: Any):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.parameters = parameters

    def body(self, flow_id: str) -> dict[str, Any]:
        return {"status": self.status, "code": self.code, "message": self.message,
                "parameters": self.parameters, "flowId": flow_id}


def invalid_fields(problems: list[dict[str, str]]) -> MonitorError:
    return MonitorError(400, "INVALID_FIELDS", "the request has invalid fields", fields=problems)


def missing_fields(fields: list[str]) -> MonitorError:
    return MonitorError(400, "MISSING_FIELDS", "required fields are missing", fields=fields)


def not_monitored(reason: str) -> MonitorError:
    return MonitorError(403, "NOT_MONITORED", "this request is not monitored", reason=reason)


def user_not_found(track_id: str) -> MonitorError:
    return MonitorError(404, "USER_NOT_FOUND", "no user has this trackId", trackId=track_id)


def problem(field: str, text: str) -> dict[str, str]:
    return {"field": field, "problem": text}
