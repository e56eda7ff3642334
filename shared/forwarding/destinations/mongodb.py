"""MongoDB destinations: insert the event with ``_id`` = eventId.

A duplicate key means an earlier attempt already stored it: success. One MongoClient per
connection string per process (a client is a connection pool; creating one per event would
open connections per event), with a bounded pool and server-selection timeout so an unreachable
partner fails the attempt in seconds instead of holding the invocation.
"""

from __future__ import annotations

import threading

from bson.errors import BSONError
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from shared.forwarding.delivery_log import Attempt
from shared.forwarding.message import ForwardedEvent
from shared.forwarding.partners import MongoDestination
from shared.forwarding.secret_refs import SecretResolver, SecretUnavailable


def document_of(event: ForwardedEvent) -> dict:
    return {"_id": event.event_id, **{k: v for k, v in event.body.items() if k != "_id"}}


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

    def deliver(self, event: ForwardedEvent, destination: MongoDestination) -> Attempt:
        try:
            connection_string = self._secrets.resolve(destination.connection_string)
        except SecretUnavailable as exc:
            return Attempt(False, f"connection string: {exc}")
        try:
            collection = self.client(connection_string)[destination.database][destination.collection]
            collection.insert_one(document_of(event))
        except DuplicateKeyError:
            return Attempt(True, "already stored")
        except OperationFailure as exc:
            return Attempt(False, f"MongoDB refused the insert (code {exc.code})")
        except (PyMongoError, BSONError, ValueError) as exc:
            # Only the type: a driver message may name hosts of the partner's cluster.
            return Attempt(False, f"MongoDB error ({type(exc).__name__})")
        return Attempt(True, "inserted")
