"""The event contract: one JSON Schema file per event type and version.

Schemas live in ``shared/events/schemas/<eventType>/v<version>.json``; adding an event type (or a
version of one) is adding a file. Every schema is compiled once per process, on first use.
Validation reports problems in the Events Protocol's terms: missing fields, and invalid fields
with what is wrong with each.

Each schema is compiled twice. ``jsonschema-rs`` (compiled Rust) answers "is this event valid?"
in a few microseconds, and almost every event is; only an event it does not accept goes through
``jsonschema``, which walks the schema collecting every error, about a hundred times slower, to
word the answer (docs/performance.md has the measurements). The error answers are jsonschema's
alone, so the fast validator may only ever be stricter, never more lenient: it checks formats
with jsonschema's own format functions (its built-in date-time accepts "202--08-29T..."), and
where it is stricter (a pattern's ``$`` before a final newline, NaN and Infinity, a key it cannot
read) jsonschema's verdict stands. tests/unit/test_event_contract_fast_path.py compares the two.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import jsonschema_rs
from jsonschema import Draft202012Validator, ValidationError

SCHEMA_ROOT = Path(__file__).parent / "schemas"
_VERSION_FILE = re.compile(r"^v(\d+)\.json$")


class UnknownEventType(Exception):
    def __init__(self, event_type: Any, known: list[str]):
        super().__init__(f"unknown eventType {event_type!r}")
        self.event_type = event_type
        self.known = known


class UnsupportedVersion(Exception):
    def __init__(self, event_type: str, version: Any, supported: list[int]):
        super().__init__(f"{event_type} has no version {version!r}")
        self.event_type = event_type
        self.version = version
        self.supported = supported


@dataclass
class ContractViolation:
    """What is wrong with one event: fields absent, and fields present but invalid."""

    missing: list[str] = field(default_factory=list)
    invalid: list[dict[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.missing or self.invalid)


_FORMAT_CHECKER = Draft202012Validator.FORMAT_CHECKER
# jsonschema's own function for every format it checks, handed to jsonschema-rs so both agree on
# them. A function that raises (jsonschema's way of saying "does not conform" for some formats)
# makes jsonschema-rs raise, which sends the event to jsonschema: the same verdict.
_FORMATS = {name: check for name, (check, _raises) in _FORMAT_CHECKER.checkers.items()}


@dataclass(frozen=True)
class CompiledSchema:
    """One schema, compiled for the verdict (fast) and for the error answer (complete)."""

    verdict: jsonschema_rs.Draft202012Validator
    errors: Draft202012Validator

    def accepts(self, event: Any) -> bool:
        """True only when the event is certainly valid; False sends it to the full check."""
        try:
            return self.verdict.is_valid(event)
        except Exception:  # a value it cannot read (a lone surrogate in a key): jsonschema decides
            return False


def compile_schema(schema: dict[str, Any]) -> CompiledSchema:
    Draft202012Validator.check_schema(schema)
    return CompiledSchema(
        verdict=jsonschema_rs.Draft202012Validator(schema, formats=_FORMATS, validate_formats=True, offline=True),
        errors=Draft202012Validator(schema, format_checker=_FORMAT_CHECKER),
    )


@lru_cache(maxsize=1)
def _validators() -> dict[str, dict[int, CompiledSchema]]:
    registry: dict[str, dict[int, CompiledSchema]] = {}
    for type_dir in sorted(p for p in SCHEMA_ROOT.iterdir() if p.is_dir()):
        for schema_file in type_dir.iterdir():
            match = _VERSION_FILE.match(schema_file.name)
            if not match:
                continue
            schema = json.loads(schema_file.read_text(encoding="utf-8"))
            registry.setdefault(type_dir.name, {})[int(match.group(1))] = compile_schema(schema)
    return registry


def known_event_types() -> list[str]:
    return sorted(_validators())


def supported_versions(event_type: str) -> list[int]:
    return sorted(_validators().get(event_type, {}))


def validate(event: dict[str, Any], version: int = 1) -> ContractViolation:
    """Check ``event`` against the schema of its eventType and ``version``.

    Raises UnknownEventType / UnsupportedVersion when there is no schema to check against.
    """
    violation = ContractViolation()
    event_type = event.get("eventType")
    if event_type is None:
        violation.missing.append("eventType")
        return violation
    versions = _validators().get(event_type) if isinstance(event_type, str) else None
    if not versions:
        raise UnknownEventType(event_type, known_event_types())
    compiled = versions.get(version)
    if compiled is None:
        raise UnsupportedVersion(event_type, version, sorted(versions))
    if not compiled.accepts(event):
        _collect(compiled.errors.iter_errors(event), violation)
    return violation


def _collect(errors: Iterable[ValidationError], violation: ContractViolation) -> None:
    for error in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), e.validator)):
        if error.validator == "required":
            names = [n for n in error.validator_value if n not in error.instance]
            _add_missing(violation, error.absolute_path, names)
        elif error.validator == "anyOf" and _all_required(error.validator_value):
            # "one of these is required": report the first alternative, the schema's
            # description names the others.
            _add_missing(violation, error.absolute_path, error.validator_value[0]["required"])
        else:
            problem = error.schema.get("x-problem") if isinstance(error.schema, dict) else None
            entry = {"field": field_path(error.absolute_path), "problem": problem or error.message}
            if entry not in violation.invalid:
                violation.invalid.append(entry)


def _all_required(alternatives: list[Any]) -> bool:
    return all(isinstance(a, dict) and set(a) == {"required"} for a in alternatives)


def _add_missing(violation: ContractViolation, path: Iterable[Any], names: list[str]) -> None:
    for name in names:
        full = field_path([*path, name])
        if full not in violation.missing:
            violation.missing.append(full)


def field_path(path: Iterable[Any]) -> str:
    """``data.mediaStart``, ``ownerData.tags[0]``: how fields are named in error answers."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
