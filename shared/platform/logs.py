"""Logging: Python's ``logging`` everywhere, written as JSON lines in Cloud Logging's shape.

Code logs with ``logging.getLogger(__name__)`` and puts its fields in ``extra``. ``configure()``
(once per process, from each function's wiring) sends every record, the Google clients',
pymongo's and urllib3's included, to stdout as one JSON line with:

- ``severity`` and ``message``, which Cloud Logging reads as the entry's level and text;
- ``logging.googleapis.com/sourceLocation`` (file, line, function);
- ``flowId`` and ``logging.googleapis.com/trace``: the flowId of the request being served, held
  in a context variable (``flow_scope``), so every line of one flow groups together across
  functions without passing the flowId around. A trace id must be 32 hex digits: a UUID flowId
  gives its own hex, any other flowId the first 32 hex digits of its SHA-256;
- the record's ``extra`` fields, and ``stack`` for an exception.

Formatter: python-json-logger, a small maintained JSON formatter; google-cloud-logging's
StructuredLogHandler writes the same lines but would load its whole API client into every
function's cold start. Only the fields passed explicitly are logged: callers never hand a token
or secret to a log call.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import json
import logging
import os
import sys
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Iterator

from pythonjsonlogger.json import JsonFormatter

TRACE_FIELD = "logging.googleapis.com/trace"
SOURCE_LOCATION_FIELD = "logging.googleapis.com/sourceLocation"
FLOW_ID_FIELD = "flowId"

_flow_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("flow_id", default=None)
_configured = False
_configure_lock = threading.Lock()


def trace_id(flow_id: str) -> str:
    """A valid Cloud Trace id (32 lower-case hex digits) for a flowId, the same in every function."""
    try:
        return uuid.UUID(flow_id).hex
    except ValueError:
        return hashlib.sha256(flow_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def current_flow_id() -> str | None:
    return _flow_id.get()


def set_flow_id(flow_id: str | None) -> None:
    """The flowId of the rest of the current scope (ingest learns it only after reading the body)."""
    _flow_id.set(flow_id)


@contextlib.contextmanager
def flow_scope(flow_id: str | None = None) -> Iterator[None]:
    """One request or message: its lines carry ``flow_id``. Worker threads serve one request after
    another, so the scope restores the previous value instead of leaving its flowId behind."""
    token = _flow_id.set(flow_id)
    try:
        yield
    finally:
        _flow_id.reset(token)


class CloudLoggingFormatter(JsonFormatter):
    """A LogRecord as the JSON object Cloud Logging parses from a line on stdout."""

    def __init__(self, project_id: str) -> None:
        super().__init__(json_ensure_ascii=False, json_default=str,
                         json_serializer=functools.partial(json.dumps, separators=(",", ":")),
                         rename_fields={"exc_info": "stack", "stack_info": "stack"})
        self._project_id = project_id

    def add_fields(self, log_record: dict[str, Any], record: logging.LogRecord,
                   message_dict: dict[str, Any]) -> None:
        log_record["severity"] = record.levelname
        log_record["message"] = record.getMessage()
        log_record["time"] = datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
        log_record["logger"] = record.name
        log_record[SOURCE_LOCATION_FIELD] = {"file": record.pathname, "line": str(record.lineno),
                                             "function": record.funcName}
        # An explicit extra={"flowId": ...} wins: a batch logs each event with its own flow.
        flow_id = getattr(record, FLOW_ID_FIELD, None) or _flow_id.get()
        if flow_id:
            log_record[FLOW_ID_FIELD] = flow_id
            log_record[TRACE_FIELD] = f"projects/{self._project_id}/traces/{trace_id(flow_id)}"
        super().add_fields(log_record, record, message_dict)


def configure(level: str | None = None) -> None:
    """Send every record of this process to stdout as Cloud Logging JSON lines (idempotent).

    ``LOG_LEVEL`` (INFO by default) sets the level of the platform's own loggers; other libraries
    log WARNING and above, so their chatter stays out while their problems are seen."""
    global _configured
    with _configure_lock:
        if _configured:
            return
        handler = logging.StreamHandler(sys.stdout)
        project = os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("GCP_PROJECT") or "local"
        handler.setFormatter(CloudLoggingFormatter(project))
        root = logging.getLogger()
        for existing in list(root.handlers):
            root.removeHandler(existing)
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
        logging.getLogger("shared").setLevel((level or os.environ.get("LOG_LEVEL") or "INFO").upper())
        logging.captureWarnings(True)
        _configured = True
