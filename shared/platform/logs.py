"""Structured JSON logs on stdout, in the shape Cloud Logging parses.

Cloud Logging reads ``severity``, ``message`` and ``logging.googleapis.com/trace`` from a JSON
line, so a flowId set as the trace groups every line of one flow across functions.
Only the fields passed explicitly are logged: callers never hand a token or secret to ``log``.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from typing import Any

TRACE_FIELD = "logging.googleapis.com/trace"


def log(severity: str, message: str, *, flow_id: str | None = None, **fields: Any) -> None:
    entry: dict[str, Any] = {
        "severity": severity,
        "message": message,
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
    }
    if flow_id:
        entry["flowId"] = flow_id
        project = os.environ.get("GOOGLE_CLOUD_PROJECT", "local")
        entry[TRACE_FIELD] = f"projects/{project}/traces/{flow_id}"
    entry.update(fields)
    # One write per line so lines of concurrent threads never interleave.
    sys.stdout.write(json.dumps(entry, default=str, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def info(message: str, **kwargs: Any) -> None:
    log("INFO", message, **kwargs)


def warning(message: str, **kwargs: Any) -> None:
    log("WARNING", message, **kwargs)


def error(message: str, **kwargs: Any) -> None:
    log("ERROR", message, **kwargs)
