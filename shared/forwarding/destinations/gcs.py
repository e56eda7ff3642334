"""Cloud Storage destinations: one JSON object per event.

The object is ``{prefix}/{eventType}/{YYYY}/{MM}/{DD}/{eventId}.json`` (the date of eventDate in
UTC), ``application/json``, holding the event bytes unchanged. It is written with
``if_generation_match=0`` (create only): a precondition failure means an earlier attempt wrote it,
which is success. The partner grants the forwarder's service account object creation on the
bucket. An event that cannot be named (no valid eventDate, a name over Cloud Storage's 1024
bytes) or that Cloud Storage refuses as a bad request is held at once (``undeliverable_value``).
"""

from __future__ import annotations

import threading
from typing import Callable

from google.api_core import exceptions as api_exceptions
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY
from requests import exceptions as requests_exceptions

from shared.forwarding.delivery_log import Attempt
from shared.forwarding.message import ForwardedEvent
from shared.forwarding.partners import GcsDestination


MAX_OBJECT_NAME_BYTES = 1024


def object_name(prefix: str, event: ForwardedEvent) -> str:
    if event.event_date is None:
        raise ValueError("the event has no valid eventDate (the object's date)")
    date = event.event_date.strftime("%Y/%m/%d")
    name = f"{event.event_type}/{date}/{event.event_id}.json"
    name = f"{prefix.strip('/')}/{name}" if prefix.strip("/") else name
    if len(name.encode("utf-8", "surrogatepass")) > MAX_OBJECT_NAME_BYTES:
        raise ValueError(f"the object name would exceed Cloud Storage's {MAX_OBJECT_NAME_BYTES} bytes")
    return name


class GcsDelivery:
    kind = "gcs"

    def __init__(self, client_factory: Callable[[], storage.Client], timeout_seconds: float):
        self._client_factory = client_factory
        self._client: storage.Client | None = None
        self._lock = threading.Lock()
        self._timeout = timeout_seconds

    def client(self) -> storage.Client:
        with self._lock:
            if self._client is None:
                self._client = self._client_factory()
            return self._client

    def full_timeout(self, _destination: GcsDestination) -> float:
        return self._timeout

    def deliver(self, event: ForwardedEvent, destination: GcsDestination,
                timeout_seconds: float | None = None) -> Attempt:
        try:
            name = object_name(destination.prefix, event)
        except ValueError as exc:
            return Attempt(False, str(exc), permanent=True)
        timeout = timeout_seconds or self._timeout
        blob = self.client().bucket(destination.bucket).blob(name)
        try:
            # The library retries transient errors of a create-only write (safe: it cannot
            # overwrite); the deadline keeps the whole attempt within the timeout.
            blob.upload_from_string(event.raw, content_type="application/json", if_generation_match=0,
                                    timeout=timeout, retry=DEFAULT_RETRY.with_timeout(timeout))
        except api_exceptions.PreconditionFailed:
            return Attempt(True, "already stored", 412)
        except api_exceptions.GoogleAPICallError as exc:
            return Attempt(False, f"Cloud Storage error {exc.code} ({type(exc).__name__})", exc.code,
                           permanent=isinstance(exc, api_exceptions.BadRequest))
        except (api_exceptions.RetryError, requests_exceptions.RequestException, OSError) as exc:
            return Attempt(False, f"Cloud Storage unreachable ({type(exc).__name__})")
        return Attempt(True, "stored", 200)
