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

The ``overlap_claims`` collection puts two overlapping submissions for the same person one after
the other (docs/rules.md, "Across prescriptions"). One document per person::

    {_id: <keyed hash of the CCCD>,
     claims: [{code: ma_don_thuoc, first: YYYY-MM-DD, last: YYYY-MM-DD, until: <UTC time>}]}

A claim says "this prescription, checked against what its submission read, is being stored for
these days": it is taken (:meth:`OverlapStore.claim`) by ONE conditional update, only when no
live claim of another prescription the submission did not read covers one of its days. Two
submissions that read before either is stored cannot both claim: the update is atomic on the
one document, so the second sees the first's claim and reads again. A claim lives until
``until`` (the submitter died between its claim and its insert: the person is blocked for that
long at most); a stored prescription's claim is harmless after it (every later submission reads
the prescription itself). No server-side code: an equality on ``_id`` (the shard key, hashed,
on a sharded cluster), ``$elemMatch`` and ``$push``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

OVERLAPS = "controlled_overlaps"
CLAIMS = "overlap_claims"

#: Claims kept in a person's document; a full one drops its expired claims before the next.
MAX_CLAIMS = 64

INDEXES = {
    # GET /v2/reports/controlled-overlaps?from=&to=: a range of detection times, in order.
    OVERLAPS: [IndexModel([("at", ASCENDING), ("_id", ASCENDING)], name="at")],
    # Read and written by _id only (the person).
    CLAIMS: [],
}


def record_id(at: datetime) -> str:
    """A new ``_id`` that sorts as ``at`` does (then randomly among equal times)."""
    return f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}Z-{secrets.token_hex(6)}"


class OverlapStore:
    def __init__(self, database: Database[dict[str, Any]]) -> None:
        self.overlaps = database[OVERLAPS]
        self.claims = database[CLAIMS]

    # --- claims ------------------------------------------------------------------------
    def claim(self, patient: str, code: str, *, first: str, last: str, seen: Sequence[str],
              until: datetime, now: datetime) -> bool:
        """Claim the days ``first``..``last`` (``YYYY-MM-DD``, both included) of the
        prescription ``code`` for the person ``patient``: True when taken. False when a claim
        of another prescription, not among ``seen`` (what the submission's check read), live
        at ``now``, covers one of those days, or when the document is full
        (:meth:`drop_expired`). ONE command: an upsert conditioned on the claims.
        """
        unseen_live = {"code": {"$nin": [*seen, code]}, "first": {"$lte": last},
                       "last": {"$gte": first}, "until": {"$gt": now}}
        try:
            self.claims.update_one(
                {"_id": patient, "claims": {"$not": {"$elemMatch": unseen_live}},
                 f"claims.{MAX_CLAIMS - 1}": {"$exists": False}},
                {"$push": {"claims": {"code": code, "first": first, "last": last,
                                      "until": until}}},
                upsert=True)
        except DuplicateKeyError:  # the person's document exists and did not match
            return False
        return True

    def drop_expired(self, patient: str, now: datetime) -> None:
        """Forget the person's claims no longer live at ``now``."""
        self.claims.update_one({"_id": patient}, {"$pull": {"claims": {"until": {"$lte": now}}}})

    def release(self, patient: str, code: str, until: datetime) -> None:
        """Drop a claim that will not be followed by its prescription (its insert failed)."""
        self.claims.update_one({"_id": patient},
                               {"$pull": {"claims": {"code": code, "until": until}}})

    # --- detected overlaps -------------------------------------------------------------

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
