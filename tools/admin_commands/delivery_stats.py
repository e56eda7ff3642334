"""Read-only questions the admin CLI asks the delivery log (``deliveries/``, see
shared/forwarding/delivery_log.py): counts per partner, destination and status, the last error,
one event's entries, and whether a destination has been failing for too long.

Counts are Firestore ``count()`` aggregations, computed by the server: the CLI never streams the
log. Each query filters ``partner``, ``destinationId`` and ``status`` by equality and, where a time
window or an order is needed, one timestamp: the composite indexes this takes are declared in
topology.yaml ``firestore.indexes`` (tests/unit/test_delivery_stats_indexes.py checks every query
built here against them; the emulator does not need indexes, production does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.forwarding.delivery_log import (
    COLLECTION,
    DEAD_LETTERED,
    DELIVERED,
    FAILED,
    RETRYING,
)

# The statuses the summary counts, and the timestamp each status's window is read from: a held
# entry may never have had an attempt (the whole partner held), but always has deadLetteredAt.
WINDOW_FIELD = {DELIVERED: "lastAttemptAt", RETRYING: "lastAttemptAt", FAILED: "lastAttemptAt",
                DEAD_LETTERED: "deadLetteredAt"}
# Where each status's last error is read from (a hold's reason detail, else the attempt's answer).
_ERROR_STATUSES = (RETRYING, FAILED, DEAD_LETTERED)


@dataclass(frozen=True)
class DestinationCounts:
    partner: str
    destination_id: str
    counts: dict[str, int]
    last_error: str | None
    last_error_at: datetime | None


@dataclass(frozen=True)
class DestinationHealthReport:
    partner: str
    destination_id: str
    # When its oldest delivery still retrying was first attempted (None: nothing is retrying).
    failing_since: datetime | None
    last_delivered_at: datetime | None
    last_error: str | None
    retrying: int
    held: int

    def unhealthy(self, now: datetime, after_seconds: float) -> bool:
        """Failing for longer than ``after_seconds``: a delivery has been retrying that long and
        nothing was delivered since it started failing."""
        if self.failing_since is None or (now - self.failing_since).total_seconds() <= after_seconds:
            return False
        return self.last_delivered_at is None or self.last_delivered_at < self.failing_since


def _destination(db: firestore.Client, partner: str, destination_id: str, status: str) -> firestore.Query:
    return (db.collection(COLLECTION)
            .where(filter=FieldFilter("partner", "==", partner))
            .where(filter=FieldFilter("destinationId", "==", destination_id))
            .where(filter=FieldFilter("status", "==", status)))


def count_query(db: firestore.Client, partner: str, destination_id: str, status: str,
                since: datetime | None) -> firestore.Query:
    query = _destination(db, partner, destination_id, status)
    if since is not None:
        query = query.where(filter=FieldFilter(WINDOW_FIELD[status], ">=", since))
    return query


def latest_query(db: firestore.Client, partner: str, destination_id: str, status: str) -> firestore.Query:
    """The entry of this status most recently written (by its window field)."""
    return (_destination(db, partner, destination_id, status)
            .order_by(WINDOW_FIELD[status], direction=firestore.Query.DESCENDING).limit(1))


def oldest_retrying_query(db: firestore.Client, partner: str, destination_id: str) -> firestore.Query:
    return _destination(db, partner, destination_id, RETRYING).order_by("firstAttemptAt").limit(1)


def all_queries(db: firestore.Client, since: datetime) -> list[firestore.Query]:
    """One of each query this module makes (for the index check)."""
    return ([count_query(db, "p", "d", status, since) for status in WINDOW_FIELD]
            + [count_query(db, "p", "d", status, None) for status in WINDOW_FIELD]
            + [latest_query(db, "p", "d", status) for status in WINDOW_FIELD]
            + [oldest_retrying_query(db, "p", "d")])


def _count(query: firestore.Query) -> int:
    return int(query.count().get()[0][0].value)


def _first(query: firestore.Query) -> dict[str, Any] | None:
    for snapshot in query.stream():
        return snapshot.to_dict() or {}
    return None


def error_text(entry: dict[str, Any]) -> str:
    if entry.get("status") == DEAD_LETTERED:
        return f"held ({entry.get('reason', '?')}): {entry.get('detail') or entry.get('lastResult') or ''}".rstrip(": ")
    return str(entry.get("lastResult") or "?")


def last_error(db: firestore.Client, partner: str, destination_id: str) -> tuple[str | None, datetime | None]:
    latest = [entry for status in _ERROR_STATUSES if (entry := _first(latest_query(db, partner, destination_id, status)))]
    if not latest:
        return None, None
    entry = max(latest, key=lambda e: e[WINDOW_FIELD[e["status"]]])
    return error_text(entry), entry[WINDOW_FIELD[entry["status"]]]


def destination_counts(db: firestore.Client, partner: str, destination_id: str,
                       since: datetime | None) -> DestinationCounts:
    counts = {status: _count(count_query(db, partner, destination_id, status, since)) for status in WINDOW_FIELD}
    error, error_at = last_error(db, partner, destination_id)
    if since is not None and error_at is not None and error_at < since:
        error, error_at = None, None
    return DestinationCounts(partner, destination_id, counts, error, error_at)


def destination_health(db: firestore.Client, partner: str, destination_id: str) -> DestinationHealthReport:
    oldest = _first(oldest_retrying_query(db, partner, destination_id))
    delivered = _first(latest_query(db, partner, destination_id, DELIVERED))
    error, _ = last_error(db, partner, destination_id)
    return DestinationHealthReport(
        partner, destination_id,
        failing_since=oldest.get("firstAttemptAt") if oldest else None,
        last_delivered_at=delivered.get("lastAttemptAt") if delivered else None,
        last_error=error,
        retrying=_count(count_query(db, partner, destination_id, RETRYING, None)),
        held=_count(count_query(db, partner, destination_id, DEAD_LETTERED, None)))


def event_entries(db: firestore.Client, event_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Every entry of one event: its content claim (``deliveries/{eventId}``), each destination's
    entry and its hold entries, by document id."""
    query = db.collection(COLLECTION).where(filter=FieldFilter("eventId", "==", event_id))
    return sorted(((s.id, s.to_dict() or {}) for s in query.stream()), key=lambda pair: pair[0])
