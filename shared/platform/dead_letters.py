"""Dead letters: what a topic-triggered function holds instead of dropping.

Every topic-triggered function has a dead-letter topic ``<function>-dead-letter`` (topology.yaml),
kept 7 days by the pull subscription ``<function>-dead-letter-hold``; the admin CLI's
``deadletters`` lists and replays what is there. A message a function holds itself carries its
bytes and attributes unchanged, plus the attributes below: why (``deadLetterReason``), what
happened, for people (``deadLetterDetail``), and who held it (``deadLetterSource``). The
forwarders' reasons and their own attributes are in shared/forwarding/holds.py.
"""

from __future__ import annotations

from typing import Mapping

REASON_ATTRIBUTE = "deadLetterReason"
DETAIL_ATTRIBUTE = "deadLetterDetail"
SOURCE_ATTRIBUTE = "deadLetterSource"
# The detail is for people: long enough for an error, bounded for Pub/Sub's attribute limit.
MAX_DETAIL_CHARACTERS = 1000

# Not what the topic carries at all (not JSON, not the publisher's shape): kept for inspection.
MALFORMED = "malformed"
# Where it must go can never hold it as it is (a value MongoDB or Firestore cannot store ...).
UNDELIVERABLE_VALUE = "undeliverable_value"


class HoldNotPublished(RuntimeError):
    """The dead letter could not be published: the message is not acknowledged, so Pub/Sub (or the
    re-driver) brings it back."""


def hold_attributes(original: Mapping[str, str], reason: str, detail: str, source: str,
                    replaced: tuple[str, ...] = ()) -> dict[str, str]:
    """``original`` with the hold's attributes (those of an earlier hold, and ``replaced``, left out)."""
    dropped = {REASON_ATTRIBUTE, DETAIL_ATTRIBUTE, SOURCE_ATTRIBUTE, *replaced}
    attributes = {k: v for k, v in original.items() if k not in dropped}
    attributes.update({REASON_ATTRIBUTE: reason, DETAIL_ATTRIBUTE: detail[:MAX_DETAIL_CHARACTERS],
                       SOURCE_ATTRIBUTE: source})
    return attributes
