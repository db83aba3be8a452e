"""Audit events kept inside the prescription document until the sequencer numbers them.

An event about a prescription (submitted, viewed, printed, dispensed, cancelled, delivered)
is prepared by :meth:`gateway.audit.log.AuditLog.prepare` and written in the SAME update that
changes the prescription (appended to ``audit_pending``, ``audit_open: true``:
:func:`gateway.prescriptions.store.audit_update`), like the
deliveries of the transactional outbox (gateway/prescriptions/outbox.py): the change and its
audit event are stored together or not at all, and recording costs no round trip of its own.

:class:`PrescriptionAuditOutbox` is the audit sequencer's source over these fields
(:class:`gateway.audit.store.UnsequencedSource`): it reads waiting events through the small
partial index ``audit_open`` and removes sequenced ones by prescription code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.database import Database

from gateway.prescriptions.store import AUDIT_OPEN as OPEN
from gateway.prescriptions.store import AUDIT_PENDING as PENDING
from gateway.prescriptions.store import PRESCRIPTIONS, audit_update

ACKNOWLEDGE_CHUNK = 50  # prescriptions per removal update (see acknowledge)

INDEXES = {PRESCRIPTIONS: [
    # Only prescriptions with events waiting are in it: the sequencer's query stays small
    # however many prescriptions there are.
    IndexModel([(OPEN, ASCENDING)], name="audit_open", partialFilterExpression={OPEN: True}),
]}


def initial_fields(events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Fields of a NEW prescription document carrying ``events``."""
    return {PENDING: [dict(event) for event in events], OPEN: bool(events)}


class PrescriptionAuditOutbox:
    """The prescriptions' waiting audit events, as a source of the audit sequencer."""

    def __init__(self, database: Database[dict[str, Any]]) -> None:
        self.prescriptions = database[PRESCRIPTIONS]

    def record(self, code: str, events: Sequence[Mapping[str, Any]], *,
               viewer: str | None = None) -> None:
        """Append ``events`` to the prescription ``code`` (a read, a print); ``viewer``: a
        pharmacy looking it up for the first time, remembered in the same update (it is told
        of a cancellation)."""
        update: dict[str, Any] = audit_update(events)
        if viewer is not None:
            update["$addToSet"] = {"viewed_by_pharmacies": viewer}
        if update:
            self.prescriptions.update_one({"_id": code}, update)

    def pending(self, limit: int) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for doc in self.prescriptions.find({OPEN: True}, {PENDING: 1}).limit(limit):
            events += doc.get(PENDING) or []
        return events

    def acknowledge(self, events: Sequence[Mapping[str, Any]]) -> None:
        by_code: dict[str, set[str]] = {}
        for event in events:
            code = str((event.get("object") or {}).get("id"))
            by_code.setdefault(code, set()).add(str(event["event_id"]))
        codes = sorted(by_code)
        # In chunks: the embedded database matches each candidate against the whole $in list,
        # so one update over a seal's thousands of codes cost ~27 ms a document, against
        # ~4 ms in chunks of 50 (measured, 2,000 prescriptions). Plain updates rather than one
        # pipeline update (which it evaluates several times slower), and each
        # prescription rewritten ONCE (a rewrite is the embedded database's dearest operation:
        # every index entry of the document is deleted and written again; docs/performance.md):
        # the first empties the outbox of those whose every waiting event is acknowledged and
        # drops their flag in the same write; the second removes the acknowledged events from
        # those that got another event since they were read (they keep their flag and that
        # event; only when the first did not empty the whole chunk). An event pushed between
        # the two updates is not acknowledged, so neither update touches it.
        for start in range(0, len(codes), ACKNOWLEDGE_CHUNK):
            chunk = codes[start:start + ACKNOWLEDGE_CHUNK]
            ids = sorted(set().union(*(by_code[code] for code in chunk)))
            emptied = self.prescriptions.update_many(
                {"_id": {"$in": chunk}, OPEN: True,
                 PENDING: {"$not": {"$elemMatch": {"event_id": {"$nin": ids}}}}},
                {"$set": {PENDING: [], OPEN: False}}).matched_count
            if emptied < len(chunk):  # the usual case needs no second command
                self.prescriptions.update_many(
                    {"_id": {"$in": chunk}, f"{PENDING}.event_id": {"$in": ids}},
                    {"$pull": {PENDING: {"event_id": {"$in": ids}}}})
