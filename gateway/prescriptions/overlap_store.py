"""The ``controlled_overlaps`` collection: every overlap the submission check found, refused
or warned (gateway/prescriptions/overlaps.py), for the regulators' report. The only code that
reads or writes it, and the one place its index is declared.

One document per overlap, never updated::

    {_id: "<UTC time, microseconds>Z-<random>", at, outcome: refused | warned, severity,
     accepted: bool (the submission was stored), code: control.overlap, control_class,
     match: ingredient | control_class, ingredients: [...], patient: <keyed hash of the CCCD>,
     prescription: {ma_don_thuoc, loai_don_thuoc, facility, facility_name, prescriber,
                    prescriber_name, line, ma_thuoc, drug_name, periods: [{tu_ngay, den_ngay}]},
     other: {ma_don_thuoc, loai_don_thuoc, status, facility, facility_name, prescriber,
             prescriber_name, lines: [...], drugs: [{ma_thuoc, name}], periods: [...]},
     overlap: {days, spans: [{tu_ngay, den_ngay}]}}

The ``_id`` starts with the detection time, so its order is the order of ``at``: a page of the
report is one range query on the ``at`` index, continued after the last ``_id`` seen.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.database import Database

OVERLAPS = "controlled_overlaps"

INDEXES = {
    # GET /v2/reports/controlled-overlaps?from=&to=: a range of detection times, in order.
    OVERLAPS: [IndexModel([("at", ASCENDING), ("_id", ASCENDING)], name="at")],
}


def record_id(at: datetime) -> str:
    """A new ``_id`` that sorts as ``at`` does (then randomly among equal times)."""
    return f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}Z-{secrets.token_hex(6)}"


class OverlapStore:
    def __init__(self, database: Database[dict[str, Any]]) -> None:
        self.overlaps = database[OVERLAPS]

    def insert(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Store detected overlaps (documents as the module docstring shows)."""
        if records:
            self.overlaps.insert_many([dict(record) for record in records], ordered=False)

    @staticmethod
    def _range(start: datetime | None, end: datetime | None,
               after: str | None) -> dict[str, Any]:
        # Only conditions on the index's fields: the embedded database uses an index only
        # then.
        query: dict[str, Any] = {}
        if start is not None or end is not None:
            query["at"] = {**({"$gte": start} if start else {}), **({"$lt": end} if end else {})}
        if after is not None:
            query["_id"] = {"$gt": after}
        return query

    def page(self, *, start: datetime | None, end: datetime | None, after: str | None,
             limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` overlaps detected in ``[start, end)`` after the ``_id`` ``after``,
        oldest first."""
        return list(self.overlaps.find(self._range(start, end, after))
                    .sort([("at", ASCENDING), ("_id", ASCENDING)]).limit(limit))

    def iterate(self, *, start: datetime | None, end: datetime | None
                ) -> Iterator[dict[str, Any]]:
        """Every overlap detected in ``[start, end)``, oldest first (exports)."""
        yield from (self.overlaps.find(self._range(start, end, None))
                    .sort([("at", ASCENDING), ("_id", ASCENDING)]).batch_size(1000))
