"""What each destination kind makes of an event: MongoDB's BSON values, held at once when
impossible. The inserts themselves run against SecantusDB in tests/integration/."""

from __future__ import annotations

import pytest
from bson.decimal128 import Decimal128

from shared.events.message import encode_event
from shared.forwarding.destinations.mongodb import UndeliverableValue, document_of
from shared.forwarding.message import ForwardedEvent, PubSubMessage
from tests.conftest import fresh_event


def forwarded(event: dict) -> ForwardedEvent:
    return ForwardedEvent.from_message(PubSubMessage(encode_event(event), {}))


def test_integers_fit_int64_or_become_decimal128_exactly():
    event = fresh_event("view")
    event["data"]["counters"] = {"small": 2 ** 63 - 1, "negative": -(2 ** 63), "big": 2 ** 64,
                                 "list": [1, -(10 ** 30)], "flag": True}
    counters = document_of(forwarded(event))["data"]["counters"]
    assert counters["small"] == 2 ** 63 - 1 and counters["negative"] == -(2 ** 63) and counters["flag"] is True
    assert counters["big"] == Decimal128(str(2 ** 64)) and counters["list"] == [1, Decimal128(str(-(10 ** 30)))]
    assert int(counters["big"].to_decimal()) == 2 ** 64


def test_an_integer_beyond_34_digits_cannot_be_held_exactly():
    event = fresh_event("view")
    event["data"]["huge"] = [10 ** 40 + 1]  # (10 ** 40 itself is exact: 1E+40)
    with pytest.raises(UndeliverableValue, match=r"data.huge\[0\]: an integer of 41 digits"):
        document_of(forwarded(event))


def test_the_events_own_id_is_kept_as_event_own_id():
    event = {**fresh_event("view"), "_id": {"legacy": 7}}
    document = document_of(forwarded(event))
    assert document["_id"] == event["eventId"] and document["eventOwnId"] == {"legacy": 7}
    with pytest.raises(UndeliverableValue, match="both _id and eventOwnId"):
        document_of(forwarded({**event, "eventOwnId": 1}))
