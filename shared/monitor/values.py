"""Typed values: what a custom attribute or an event field may hold.

A value type is one of ``string``, ``number``, ``boolean``, ``date-time`` (RFC 3339 with a time
zone, kept as the string given), optionally ``multiple``: then the value is a list of them (a
single value is accepted and stored as a one-element list, as the spec allows "a single value or a
list of values").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rfc3339_validator import validate_rfc3339

TYPES = ("string", "number", "boolean", "date-time")
DEFAULT_MAX_LENGTH = 1000
DEFAULT_MAX_ITEMS = 100
# Ids of attributes and event fields: also Firestore field names, so no dots or path characters.
FIELD_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


class InvalidValue(ValueError):
    """The problem with a value, worded for the ``problem`` of an INVALID_FIELDS entry."""


@dataclass(frozen=True)
class ValueSpec:
    type: str
    multiple: bool = False
    max_length: int = DEFAULT_MAX_LENGTH
    max_items: int = DEFAULT_MAX_ITEMS

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"type must be one of {', '.join(TYPES)}, not {self.type!r}")

    def normalize(self, value: Any) -> Any:
        """The value as stored, or InvalidValue saying what is wrong with it."""
        if not self.multiple:
            if isinstance(value, list):
                raise InvalidValue(f"must be a single {self.describe()}, not a list")
            self._check(value)
            return value
        items = value if isinstance(value, list) else [value]
        if len(items) > self.max_items:
            raise InvalidValue(f"must have at most {self.max_items} values")
        for index, item in enumerate(items):
            try:
                self._check(item)
            except InvalidValue as exc:
                raise InvalidValue(f"value {index}: {exc}") from None
        return items

    def describe(self) -> str:
        return f"list of {self.type}" if self.multiple else self.type

    def _check(self, value: Any) -> None:
        if self.type == "boolean":
            ok = isinstance(value, bool)
        elif self.type == "number":
            # bool is an int in Python, never a number in JSON.
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif self.type == "date-time":
            ok = isinstance(value, str) and validate_rfc3339(value)
        else:
            ok = isinstance(value, str)
            if ok and len(value) > self.max_length:
                raise InvalidValue(f"must be at most {self.max_length} characters")
        if not ok:
            wanted = "an RFC 3339 date-time with a time zone" if self.type == "date-time" else f"a {self.type}"
            raise InvalidValue(f"must be {wanted}")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "ValueSpec":
        return cls(
            type=raw.get("type", ""),
            multiple=bool(raw.get("multiple", False)),
            max_length=int(raw.get("maxLength", DEFAULT_MAX_LENGTH)),
            max_items=int(raw.get("maxItems", DEFAULT_MAX_ITEMS)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "multiple": self.multiple, "maxLength": self.max_length,
                "maxItems": self.max_items}
