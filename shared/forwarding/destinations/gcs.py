"""Cloud Storage destinations: one JSON object per event.

The object is ``{prefix}/{eventType}/{YYYY}/{MM}/{DD}/{eventId}.json`` (the date of eventDate in
UTC), ``application/json``, holding the event bytes unchanged. It is written with
``if_generation_match=0`` (create only): a precondition failure means an earlier attempt wrote it,
which is success. The partner grants the forwarder's service account object creation on the
bucket.
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


def object_name(prefix: str, event: ForwardedEvent) -> str:
    if event.event_date is None:
        raise ValueError("the event has no valid eventDate")
    date = event.event_date.strftime("%Y/%m/%d")
    name = f"{event.event_type}/{date}/{event.event_id}.json"
    return f"{prefix.strip('/')}/{name}" if prefix.strip("/") else name


class GcsDelivery:
    kind = "gcs"

    def __init__(self, client_factory: Callable[[], storage.Client], timeout_seconds: float):
        self._client_factory = client_factory
        self._client: storage.Client | None = None
        self._lock = threading.Lock()
        self._timeout = timeout_seconds
        # The library retries transient errors of a create-only write (safe: it cannot overwrite);
        # the deadline keeps the whole attempt within the invocation.
        self._retry = DEFAULT_RETRY.with_timeout(timeout_seconds)

    def client(self) -> storage.Client:
        with self._lock:
            if self._client is None:
                self._client = self._client_factory()
            return self._client

    def deliver(self, event: ForwardedEvent, destination: GcsDestination) -> Attempt:
        try:
            name = object_name(destination.prefix, event)
        except ValueError as exc:
            return Attempt(False, str(exc))
        blob = self.client().bucket(destination.bucket).blob(name)
        try:
            blob.upload_from_string(event.raw, content_type="application/json", if_generation_match=0,
                                    timeout=self._timeout, retry=self._retry)
        except api_exceptions.PreconditionFailed:
            return Attempt(True, "already stored", 412)
        except api_exceptions.GoogleAPICallError as exc:
            return Attempt(False, f"Cloud Storage error {exc.code} ({type(exc).__name__})", exc.code)
        except (api_exceptions.RetryError, requests_exceptions.RequestException, OSError) as exc:
            return Attempt(False, f"Cloud Storage unreachable ({type(exc).__name__})")
        return Attempt(True, "stored", 200)
