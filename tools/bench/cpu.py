"""B6: CPU time per event in this process, no I/O: from the request's bytes to the message a
function would publish, through the same public functions the services call, against
``json.loads`` of the same bytes.

Measured with ``time.thread_time()`` (this thread's CPU, not wall time), so other processes on
the machine change it far less than they change throughput. ``ingest_handler`` is the whole
in-process ingest answer (``IngestService.api.answer`` with Pub/Sub and the key store replaced by
answers from memory, logging to /dev/null), which adds authentication, the log line and the answer.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import yaml

from shared.events import contract
from shared.events.message import encode_event, event_message
from shared.events.protocol import parse_request
from shared.monitor import events as monitor_events
from shared.monitor.config import parse_event_types
from shared.platform import json_body, logs
from shared.platform.api_keys import ApiKeyVerifier, hash_key
from shared.platform.http import Request, to_response
from shared.platform.publisher import OutgoingMessage, PublishOutcome
from shared.retail_media import beacon
from shared.retail_media.conversion import created_at_bound
from tools.bench.scenarios import fresh_event
from tools.stack import REPO_ROOT

BENCH_KEY = "fpk_bench_" + "s" * 43


def ingest_pipeline(body: bytes) -> OutgoingMessage:
    request = parse_request(json_body.decode(body, exact_integers=True))  # as ingest reads a body
    if contract.validate(request.payload, request.version):
        raise ValueError("invalid event")
    return event_message(request.payload, request.flow_id)


def ingest_invalid(body: bytes) -> None:
    request = parse_request(json_body.decode(body, exact_integers=True))
    if not contract.validate(request.payload, request.version):
        raise AssertionError("the invalid event was accepted")


def beacon_conversion_pipeline(body: bytes) -> OutgoingMessage:
    document = beacon.parse_json(body)
    # As the beacon does: created_at at most a clock skew after the time of receipt.
    bound = {beacon.CREATED_AT: {"formatMaximum": created_at_bound(datetime.now(timezone.utc), timedelta(minutes=5))}}
    if beacon.schema("conversion").errors(document, bound):
        raise ValueError("invalid conversion")
    conversion_id = str(uuid.uuid4())
    return OutgoingMessage(
        encode_event({"conversionId": conversion_id, "receivedAt": "2026-01-01T00:00:00Z", "conversion": document}),
        {"conversionId": conversion_id, "publisherId": document["publisher_id"], "flowId": str(uuid.uuid4())})


def monitor_event_pipeline(body: bytes, event_type: Any, user: dict[str, Any]) -> OutgoingMessage:
    _track_id, values = monitor_events.read_occurrence(json_body.decode(body), event_type)  # as monitor reads it
    event = monitor_events.envelope(event_type, values, user, datetime.now(timezone.utc))
    if contract.validate(event):
        raise ValueError("invalid monitor event")
    return event_message(event, str(uuid.uuid4()))


def _ingest_service() -> Any:
    from shared.ingest.service import IngestService
    from shared.ingest.settings import IngestSettings

    record = {"name": "bench", "hash": hash_key(BENCH_KEY), "revokedAt": None}
    return IngestService(IngestSettings.from_env(), lambda messages: [PublishOutcome("1")] * len(messages),
                         ApiKeyVerifier(lambda _key_id: record, 3600))


def cases() -> dict[str, tuple[bytes, Callable[[bytes], Any]]]:
    """name -> (the request's bytes, what the function does with them)."""
    event = json.dumps(fresh_event()).encode("utf-8")
    invalid = fresh_event()
    invalid["eventId"] = "not-a-uuid"
    del invalid["data"]["mediaEnd"]
    conversion = json.dumps({
        "channel": "ecommerce", "publisher_id": "demo-publisher", "user_id": "u-1", "session_id": "s-1",
        "order_id": "o-1", "email_hashed": "0" * 64, "created_at": "2026-01-01T00:00:00.000Z",
        "items": [{"sku": "SKU-004", "seller_id": None, "product_id": None, "quantity": 1, "price": 110.0,
                   "promotional_price": 99.9}]}).encode("utf-8")
    event_type = next(t for t in parse_event_types(
        yaml.safe_load((REPO_ROOT / "examples/monitor/event-types.yaml").read_text())["eventTypes"])
        if t.id == "course.completed")
    user = {"trackId": "T" * 32, "friendlyId": "bench-user", "email": "bench@example.com",
            "customAttributes": {"company": "Acme"}}
    occurrence = json.dumps({"lum_user": {"trackId": "T" * 32}, "courseId": "course-1", "score": 9.5,
                             "tags": ["intro"]}).encode("utf-8")
    service = _ingest_service()
    request = Request("POST", "/v1/events", {"Authorization": f"Bearer {BENCH_KEY}"}, {}, "127.0.0.1", event, False)

    def handler(_body: bytes) -> Any:
        with logs.flow_scope():
            return to_response(service.api.answer(request))

    return {
        "ingest": (event, ingest_pipeline),
        "ingest_invalid": (json.dumps(invalid).encode("utf-8"), ingest_invalid),
        "ingest_handler": (event, handler),
        "beacon_conversion": (conversion, beacon_conversion_pipeline),
        "monitor_event": (occurrence, lambda body: monitor_event_pipeline(body, event_type, user)),
    }


def microseconds_per_call(work: Callable[[], Any], seconds: float) -> float:
    """CPU microseconds per call of ``work``, over about ``seconds`` of this thread's CPU."""
    work()
    calls, started = 0, time.thread_time()
    while (spent := time.thread_time() - started) < seconds:
        for _ in range(50):
            work()
        calls += 50
    return spent / calls * 1e6


def measure(runs: int, seconds: float) -> dict[str, list[dict[str, float]]]:
    """name -> [{cpu_us, json_loads_us} per run] for every case."""
    _quiet_logging()
    results: dict[str, list[dict[str, float]]] = {}
    for name, (body, work) in cases().items():
        results[name] = [{"cpu_us": microseconds_per_call(lambda: work(body), seconds),
                          "json_loads_us": microseconds_per_call(lambda: json.loads(body), seconds)}
                         for _ in range(runs)]
    return results


def _quiet_logging() -> None:
    """Production's log configuration, written to /dev/null: formatting a line is part of the cost."""
    os.environ.setdefault("GOOGLE_CLOUD_PROJECT", "bench")
    logs.configure("INFO")
    logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))
