"""A conversion as the beacon accepts it: normalised, with flags on what it accepted but doubts.

The schema (schemas/conversion.json) checks types; what it lets through is made uniform here,
so the order still counts and whatever looks wrong is said on the stored record:

- ``*_hashed``: the spec types them as strings and *recommends* SHA-256 in hex. 64 hex digits in
  either case are stored in lower case; any other string is kept as sent and its field named
  in ``flags.notSha256``.
- ``gender``: F, M or O in either case, stored upper-case.
- Revenue is what the customer paid, ``promotional_price x quantity`` (unit prices, as the spec
  says); ``price`` (the list price) only informs. An item whose ``promotional_price`` is above
  its ``price`` is accepted (its revenue is what was paid) and its index named in
  ``flags.promotionalPriceAbovePrice``: usually the two prices swapped by the publisher.
- ``created_at`` may be at most the clock skew after the time of receipt: an order cannot be
  dated on a day that has not happened (``created_at_bound``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Iterable

HASHED_FIELDS = ("email_hashed", "phone_hashed", "social_id_hashed", "first_name_hashed", "last_name_hashed")
SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)
MICROS = Decimal(1_000_000)


@dataclass(frozen=True)
class Flags:
    """What was accepted but looks wrong; stored on the conversion and logged."""

    not_sha256: tuple[str, ...] = ()
    promotional_price_above_price: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.not_sha256 or self.promotional_price_above_price)

    def to_json(self) -> dict[str, list]:
        return {"notSha256": list(self.not_sha256),
                "promotionalPriceAbovePrice": list(self.promotional_price_above_price)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> "Flags":
        data = data or {}
        return cls(tuple(data.get("notSha256", ())), tuple(data.get("promotionalPriceAbovePrice", ())))


def normalise(conversion: dict[str, Any]) -> tuple[dict[str, Any], Flags]:
    """A valid conversion (no schema error) as stored and attributed, and its flags."""
    normalised = dict(conversion)
    not_sha256 = []
    for field in HASHED_FIELDS:
        value = normalised.get(field)
        if value is None:
            continue
        if SHA256_HEX.fullmatch(value):
            normalised[field] = value.lower()
        else:
            not_sha256.append(field)
    if isinstance(normalised.get("gender"), str):
        normalised["gender"] = normalised["gender"].upper()
    above = tuple(index for index, item in enumerate(normalised["items"])
                  if item["promotional_price"] > item["price"])
    return normalised, Flags(tuple(not_sha256), above)


def created_at_bound(received_at: datetime, skew: timedelta) -> str:
    """The latest created_at accepted for a conversion received at ``received_at``, as the
    date-time (UTC, milliseconds) that the 422's formatMaximum names."""
    return (received_at + skew).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def item_revenue_micros(item: dict[str, Any]) -> int:
    """promotional_price x quantity of one item in millionths, exact (no binary float drift)."""
    paid = Decimal(repr(item["promotional_price"])) * Decimal(repr(item["quantity"]))
    return int((paid * MICROS).to_integral_value(ROUND_HALF_EVEN))


def revenue_micros(items: Iterable[dict[str, Any]]) -> int:
    """The revenue of ``items``: the sum of each item's own (rounded) revenue, so the revenue of
    any part of an order never exceeds the order's."""
    return sum((item_revenue_micros(item) for item in items), 0)


def stored_order(conversion: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The conversion's fields that ``schema`` describes (unknown fields are accepted but not
    stored: their names are not ours to trust as Firestore field names)."""
    known = schema["properties"]
    item_fields = known["items"]["items"]["properties"]
    order = {name: value for name, value in conversion.items() if name in known and name != "items"}
    order["items"] = [{name: value for name, value in item.items() if name in item_fields}
                      for item in conversion["items"]]
    return order
