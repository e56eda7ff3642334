"""Every query the admin CLI makes on the delivery log has its composite index declared in
topology.yaml (Terraform creates them from there). The Firestore emulator serves any query
without an index, so only this check stops a query that production would refuse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.firestore_v1.types import StructuredQuery

from tools.admin_commands.delivery_stats import all_queries

ROOT = Path(__file__).resolve().parents[2]
Fields = tuple[tuple[str, str], ...]
_EQUAL = StructuredQuery.FieldFilter.Operator.EQUAL


@dataclass(frozen=True)
class NeededIndex:
    collection: str
    equal: frozenset[str]  # equality fields lead the index, in any order
    tail: Fields  # then the range or order fields, in this order and direction

    def served_by(self, collection: str, fields: Fields) -> bool:
        lead = fields[:len(self.equal)]
        return (collection == self.collection and len(fields) == len(self.equal) + len(self.tail)
                and {f for f, _ in lead} == self.equal and fields[len(self.equal):] == self.tail)


def needed_index(query: firestore.Query) -> NeededIndex | None:
    """The composite index a query needs (None: equality filters only, which Firestore serves by
    merging its single-field indexes)."""
    structured = query._to_protobuf()
    filters = [f.field_filter for f in structured.where.composite_filter.filters] or [structured.where.field_filter]
    ranged = [(f.field.field_path, "ASCENDING") for f in filters if f.op != _EQUAL]
    orders = [(o.field.field_path, "DESCENDING" if o.direction == StructuredQuery.Direction.DESCENDING
               else "ASCENDING") for o in structured.order_by]
    if not (orders or ranged):
        return None
    return NeededIndex(structured.from_[0].collection_id,
                       frozenset(f.field.field_path for f in filters if f.op == _EQUAL), tuple(orders or ranged))


def missing_indexes(declared: list[dict]) -> list[NeededIndex]:
    db = firestore.Client(project="index-check", credentials=AnonymousCredentials())
    needed = {index for q in all_queries(db, datetime(2026, 1, 1, tzinfo=timezone.utc))
              if (index := needed_index(q)) is not None}
    return [n for n in needed
            if not any(n.served_by(i["collection"], tuple(map(tuple, i["fields"]))) for i in declared)]


def declared_indexes() -> list[dict]:
    return yaml.safe_load((ROOT / "topology.yaml").read_text())["firestore"]["indexes"]


def test_every_admin_query_on_the_delivery_log_has_its_index_declared() -> None:
    assert missing_indexes(declared_indexes()) == []


@pytest.mark.parametrize("dropped", [("lastAttemptAt", "DESCENDING"), ("deadLetteredAt", "ASCENDING"),
                                     ("firstAttemptAt", "ASCENDING")])
def test_a_topology_without_one_of_them_is_caught(dropped: tuple[str, str]) -> None:
    declared = declared_indexes()
    kept = [i for i in declared if tuple(i["fields"][-1]) != dropped or i["collection"] != "deliveries"]
    assert len(kept) == len(declared) - 1
    assert [n.tail[-1] for n in missing_indexes(kept)] == [dropped]
