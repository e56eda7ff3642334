"""Send events to ingest through the Events Protocol's official Python client, as an app would.

Runs in its own venv (`.venv-compat`, from requirements-compat.txt: the client needs pydantic<2).
Reads ``[{url, name, version, payload, flowId, auth}, ...]`` as JSON on stdin; writes, for each
call, what the app got back: the typed response event, or the exception the client raised.
"""

from __future__ import annotations

import json
import sys

from events_protocol.client.event_client import EventClient
from events_protocol.client.exception.request_exception import BaseRequestException


def send(call: dict) -> dict:
    client = EventClient(call["url"])
    try:
        event = client.send_event(name=call["name"], version=call["version"], payload=call["payload"],
                                  flow_id=call["flowId"], auth=call["auth"], timeout=30)
    except BaseRequestException as exc:  # what every non-2xx answer becomes: the event is lost
        return {"raised": type(exc).__name__, "message": str(exc)}
    return {
        "name": event.name,
        "flowId": event.flow_id,
        "isSuccess": event.is_success,
        "isError": event.is_error,
        "errorType": event.error_type.value if event.is_error else None,
        "payload": event.payload,
    }


def main() -> None:
    # json reads the NaN a test sends on purpose, and the client writes it as Python's json does.
    calls = json.load(sys.stdin)
    json.dump([send(call) for call in calls], sys.stdout)


if __name__ == "__main__":
    main()
