"""MongoDB destinations: insert the event with ``_id`` = eventId.

A duplicate key means an earlier attempt already stored it: success (the delivery log's content
hash makes sure it was this same event). One MongoClient per connection string per process (a
client is a connection pool; creating one per event would open connections per event), with a
bounded pool and server-selection timeout so an unreachable partner fails the attempt in seconds
instead of holding the invocation.

The document is the event with BSON's types. JSON integers of any size are valid: one that fits
int64 is stored as an integer, a larger one as Decimal128, exactly (up to 34 digits). The event's
own top-level ``_id``, if it has one, is kept as ``eventOwnId`` (``_id`` is the eventId). What BSON
cannot hold is a permanent failure, held at once as ``undeliverable_value`` rather than retried:
an integer of more than 34 digits, a key with a NUL character, a document over MongoDB's 16 MB, an
event with both ``_id`` and ``eventOwnId``, or a value the server refuses as invalid.
"""

from __future__ import annotations

import contextlib
import decimal
import threading
from typing import Any

from bson.decimal128 import Decimal128
import pymongo
from bson.errors import BSONError, InvalidDocument
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError, WriteError

from shared.forwarding.delivery_log import Attempt
from shared.forwarding.message import ForwardedEvent
from shared.forwarding.partners import MongoDestination
from shared.forwarding.secret_refs import SecretResolver, SecretUnavailable

OWN_ID_FIELD = "eventOwnId"
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
# Server answers that no retry changes: BadValue (2), BSONObjectTooLarge (10334).
PERMANENT_WRITE_CODES = {2, 10334}


class UndeliverableValue(ValueError):
    """The event holds something MongoDB cannot store as it is."""


def document_of(event: ForwardedEvent) -> dict[str, Any]:
    if "_id" in event.body and OWN_ID_FIELD in event.body:
        raise UndeliverableValue(f"the event has both _id and {OWN_ID_FIELD}: its own _id has nowhere to go")
    document: dict[str, Any] = {"_id": event.event_id}
    for key, value in event.body.items():
        document[OWN_ID_FIELD if key == "_id" else key] = bson_value(value, key)
    return document


def bson_value(value: Any, path: str) -> Any:
    """A JSON value as BSON holds it: integers beyond int64 become Decimal128, exactly."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        try:
            return Decimal128(str(value))
        except decimal.Inexact:
            raise UndeliverableValue(f"{path}: an integer of {len(str(abs(value)))} digits (MongoDB holds at most "
                                     "34 exactly, as Decimal128)") from None
    if isinstance(value, dict):
        return {key: bson_value(item, f"{path}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [bson_value(item, f"{path}[{index}]") for index, item in enumerate(value)]
    return value


class MongoDelivery:
    kind = "mongodb"

    def __init__(self, secrets: SecretResolver, max_pool_size: int, server_selection_timeout_ms: int):
        self._secrets = secrets
        self._options = {
            "maxPoolSize": max_pool_size,
            "serverSelectionTimeoutMS": server_selection_timeout_ms,
            "connectTimeoutMS": server_selection_timeout_ms,
            "socketTimeoutMS": 2 * server_selection_timeout_ms,
            "appname": "fpass-forwarder",
        }
        # Keyed by the connection string itself: in memory only, never logged.
        self._clients: dict[str, MongoClient] = {}
        self._lock = threading.Lock()

    def client(self, connection_string: str) -> MongoClient:
        with self._lock:
            client = self._clients.get(connection_string)
            if client is None:
                # Connects lazily, in the background: creating it costs no round trip.
                client = MongoClient(connection_string, **self._options)
                self._clients[connection_string] = client
            return client

    def full_timeout(self, _destination: MongoDestination) -> float:
        return self._options["socketTimeoutMS"] / 1000

    def deliver(self, event: ForwardedEvent, destination: MongoDestination,
                timeout_seconds: float | None = None) -> Attempt:
        """``timeout_seconds``: a shorter wait than the client's own (an attempt inside a push),
        applied to server selection and the insert alike (pymongo's client-side timeout)."""
        try:
            document = document_of(event)
        except UndeliverableValue as exc:
            return Attempt(False, str(exc), permanent=True)
        try:
            connection_string = self._secrets.resolve(destination.connection_string)
        except SecretUnavailable as exc:
            return Attempt(False, f"connection string: {exc}")
        try:
            collection = self.client(connection_string)[destination.database][destination.collection]
            with pymongo.timeout(timeout_seconds) if timeout_seconds else contextlib.nullcontext():
                collection.insert_one(document)
        except DuplicateKeyError:
            return Attempt(True, "already stored")
        except WriteError as exc:
            return Attempt(False, f"MongoDB refused the insert (code {exc.code})",
                           permanent=exc.code in PERMANENT_WRITE_CODES)
        except OperationFailure as exc:
            return Attempt(False, f"MongoDB refused the insert (code {exc.code})")
        except (InvalidDocument, OverflowError) as exc:
            # Encoding failed before anything was sent (DocumentTooLarge is an InvalidDocument).
            return Attempt(False, f"a value BSON cannot hold ({type(exc).__name__})", permanent=True)
        except (PyMongoError, BSONError, ValueError) as exc:
            # Only the type: a driver message may name hosts of the partner's cluster.
            return Attempt(False, f"MongoDB error ({type(exc).__name__})")
        return Attempt(True, "inserted")
