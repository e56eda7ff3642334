"""The one JSON decoding policy for the bodies of every HTTP function.

Python's ``json`` reads more than JSON and fails on some JSON: it reads ``NaN`` and
``Infinity``, reads ``1e400`` as infinity (then written out as ``Infinity``, which no partner's
parser reads), raises ``RecursionError`` past about 1,000 nested arrays or objects, refuses an
integer of more than 4,300 digits, and keeps an unpaired UTF-16 surrogate escape (``"\\udc00"``)
as a string that cannot be encoded to UTF-8 (Firestore, Pub/Sub, hashes). So every body is read
here, one of two ways:

- ``decode``, I-JSON (RFC 7493), for ingest and monitor, whose values reach partners and
  Firestore: at most ``MAX_DEPTH`` nested arrays and objects (MongoDB refuses documents nested
  deeper than 100); numbers within the range of a finite double (an integer beyond 64 bits is
  read as the double JavaScript reads, or kept exact where the caller asks: ingest, whose events
  are forwarded byte for byte and stored by MongoDB destinations as Decimal128; one beyond the
  double range is refused like ``1e400``); strings of
  Unicode characters (an unpaired surrogate escape is refused).
- ``decode_as_javascript``, as ``JSON.parse`` reads the body, for the beacon, whose answers are
  real Ajv's: ``1e400`` and longer integers are infinity (Ajv's ``type`` error refuses them as
  numbers), unpaired surrogates are kept (``well_formed`` replaces them before anything is stored),
  and any depth is read: what lies deeper than ``MAX_DEPTH`` is read as an empty array or object,
  its syntax still checked. The beacon's schemas look no deeper than three levels, and it keeps
  only the fields they describe.

Both refuse what is not JSON at all: invalid UTF-8, syntax errors, ``NaN`` and ``Infinity``.
Every refusal is a ``JsonRefused`` whose text says why; each API answers it in its own shape.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 64
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1

# A JSON string (on bytes: UTF-8 sequences never contain ASCII bytes such as quotes or brackets).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"\\')
_DEPTH_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1, +1, -1, -1 as signed bytes
# A string or a bracket, on text: where the containers nested too deep start and end.
_LEXEME = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_OPENER = {"]": "[", "}": "{"}
# A \uD800-\uDFFF escape that is one (an even number of backslashes before it).
_SURROGATE_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u([dD][89a-fA-F][0-9a-fA-F]{2})")
_SURROGATE_HINT = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonRefused(ValueError):
    """A body this policy refuses; ``str()`` says why. ``document`` is the body as read with each
    refused value as null when only values were refused (so an API can still read, say, the
    envelope around them), None when the body could not be read."""

    def __init__(self, reason: str, document: Any = None):
        super().__init__(reason)
        self.document = document


def decode(body: bytes, *, exact_integers: bool = False) -> Any:
    """The body as I-JSON (RFC 7493): see the module's docstring. ``exact_integers`` keeps an
    integer beyond 64 bits (within the double range) exact instead of reading the double
    JavaScript reads: for values that are forwarded, never stored in Firestore (which holds
    64-bit integers only)."""
    text = _text(body)
    if too_deep(body):
        raise JsonRefused(f"arrays and objects are nested deeper than {MAX_DEPTH} levels")
    refused: list[str] = []
    document = _loads(text, _Numbers(refused, finite=True, exact_integers=exact_integers))
    if has_lone_surrogate(body):
        refused.append("a string holds an unpaired UTF-16 surrogate (such as \\udc00), which is not Unicode")
        document = well_formed(document)  # what an API reads of a refused body is Unicode too
    if refused:
        raise JsonRefused(refused[0], document)
    return document


def decode_as_javascript(body: bytes) -> Any:
    """The body as JavaScript's ``JSON.parse`` reads it: see the module's docstring."""
    text = _text(body)
    numbers = _Numbers([], finite=False)
    if too_deep(body):
        return _loads_in_bands(text, numbers)
    return _loads(text, numbers)


def too_deep(body: bytes) -> bool:
    """Whether arrays and objects nest deeper than MAX_DEPTH in ``body`` (brackets within strings
    do not count). Counted without parsing: the brackets left once strings are removed."""
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return False
    # Without escapes, a string holding no bracket is left as '""' once everything but quotes and
    # brackets is removed; removing those pairs from the left pairs quotes correctly up to the
    # first string holding a bracket, whose quotes then stay. Otherwise the body is lexed.
    structure = body.translate(None, _NOT_STRUCTURE)
    brackets = structure if b"\\" in structure else structure.replace(b'""', b"")
    if b'"' in brackets:
        brackets = _STRING.sub(b"", body)
    steps = brackets.translate(None, _NOT_A_BRACKET).translate(_DEPTH_STEP)
    return max(accumulate(memoryview(steps).cast("b")), default=0) > MAX_DEPTH


def has_lone_surrogate(body: bytes) -> bool:
    """Whether a string of ``body`` (valid JSON) holds a surrogate escape that is not half of a pair."""
    if not _SURROGATE_HINT.search(body):
        return False
    escapes = list(_SURROGATE_ESCAPE.finditer(body))
    index = 0
    while index < len(escapes):
        escape = escapes[index]
        high = escape.group(1)[1] in b"89abAB"
        following = escapes[index + 1] if index + 1 < len(escapes) else None
        # A pair: a high surrogate's escape right before a low one's, as in \ud83d\ude00.
        paired = (high and following is not None and following.start(1) - 2 == escape.end()
                  and following.group(1)[1] not in b"89abAB")
        if not paired:
            return True
        index += 2
    return False


def well_formed(value: Any) -> Any:
    """``value`` with each unpaired surrogate of its strings (keys too) replaced by U+FFFD, as
    JavaScript's UTF-8 encoders (TextEncoder, and so its Firestore client) write one. Recursive:
    decoded values nest at most MAX_DEPTH + 1 levels."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [well_formed(item) for item in value]
    if isinstance(value, dict):
        return {well_formed(key): well_formed(item) for key, item in value.items()}
    return value


class _Numbers:
    """json.loads' hooks for numbers and the NaN/Infinity constants; a refused value is read as
    None and its reason kept in ``refused``."""

    def __init__(self, refused: list[str], finite: bool, exact_integers: bool = False):
        self.refused = refused
        self.finite = finite
        self.exact_integers = exact_integers

    def constant(self, name: str) -> None:
        if self.finite:
            self.refused.append(f"{name} is not a JSON value")
            return None
        raise JsonRefused(f"{name} is not a JSON value")

    def floating(self, text: str) -> float | None:
        return self._checked(float(text), text)

    def integer(self, text: str) -> int | float | None:
        # Checked on its length first: int() refuses more than 4,300 digits, float() does not.
        if len(text) <= 20:
            number = int(text)
            if INT64_MIN <= number <= INT64_MAX:
                return number
        as_double = self._checked(float(text), text)
        if self.exact_integers and as_double is not None:
            return int(text)  # within the double range: at most 309 digits
        return as_double

    def _checked(self, number: float, text: str) -> float | None:
        if self.finite and not math.isfinite(number):
            self.refused.append(f"{text[:40]}{'...' if len(text) > 40 else ''} is beyond the range of a double")
            return None
        return number


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonRefused(f"the body is not UTF-8: {exc.reason} at byte {exc.start}") from None


def _loads(text: str, numbers: _Numbers) -> Any:
    try:
        return json.loads(text, parse_constant=numbers.constant, parse_float=numbers.floating,
                          parse_int=numbers.integer)
    except JsonRefused:
        raise
    except ValueError as exc:
        raise JsonRefused(str(exc)[:200]) from None


def _loads_in_bands(text: str, numbers: _Numbers) -> Any:
    """``text`` read band by band, each at most MAX_DEPTH deep: every container that opens
    MAX_DEPTH levels below its band's top is checked on its own and, in its band, read as an empty
    container of its type. The top band is the value returned."""
    open_containers: list[tuple[str, int]] = []
    # Containers deeper than a band, checked but not yet placed in theirs: (start, end, opener).
    checked: list[tuple[int, int, str]] = []
    for lexeme in _LEXEME.finditer(text):
        token = lexeme.group()
        if token in ("[", "{"):
            open_containers.append((token, lexeme.start()))
        elif token in ("]", "}"):
            if not open_containers or open_containers[-1][0] != _OPENER[token]:
                raise JsonRefused(f"unexpected {token!r} at character {lexeme.start()}")
            opener, start = open_containers.pop()
            depth = len(open_containers)
            if depth and depth % MAX_DEPTH == 0:
                _loads(_band(text, start, lexeme.end(), checked), numbers)
                checked.append((start, lexeme.end(), opener))
    if open_containers:
        raise JsonRefused("an array or object is not closed")
    return _loads(_band(text, 0, len(text), checked), numbers)


def _band(text: str, start: int, end: int, checked: list[tuple[int, int, str]]) -> str:
    """``text[start:end]`` with the checked containers within it read as empty ones (and no
    longer pending): they are its band's deepest."""
    inner = []
    while checked and checked[-1][0] >= start:
        inner.append(checked.pop())
    parts, position = [], start
    for inner_start, inner_end, opener in reversed(inner):
        parts += [text[position:inner_start], "[]" if opener == "[" else "{}"]
        position = inner_end
    parts.append(text[position:end])
    return "".join(parts)

