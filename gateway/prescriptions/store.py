"""The ``prescriptions`` and ``dispensed_packs`` collections: the only code that reads or writes
them, with the outbox's queries (:mod:`gateway.prescriptions.outbox_store`), the audit
sequencer's (:mod:`gateway.prescriptions.audit_outbox_store`) and the regulators' reports
(:mod:`gateway.prescriptions.report_store`) beside it; the one place their indexes are declared.

One document per prescription, :class:`gateway.prescriptions.model.StoredPrescription`. Every
state change is ONE conditional update of it (:meth:`PrescriptionStore.record_dispense`,
:meth:`PrescriptionStore.record_cancellation`): it names the ``version`` it read and
increments it, and carries the change's deliveries (gateway/prescriptions/outbox.py) and audit
events, so a change is never stored without them. A pack serial is unique system-wide through
the unique ``_id`` (GTIN + serial) of ``dispensed_packs``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from gateway.core.encryption import FieldCipher
from gateway.core.errors import NotFound
from gateway.prescriptions.model import (
    DISPENSABLE,
    Cancellation,
    Delivery,
    Dispense,
    PackRecord,
    Status,
    StoredPrescription,
)
from gateway.prescriptions.outbox import QUEUED, REVISION
from schemas.identifiers import code_spellings

PRESCRIPTIONS = "prescriptions"
PACKS = "dispensed_packs"

# Every index of ``prescriptions`` is written again at each rewrite of a document (the
# embedded database deletes and rewrites every entry of the document, ~0.3 ms of its CPU per
# index and update: docs/performance.md), so the collection keeps the indexes its queries
# need and no more; README "Capacity model" lists which query each serves.
INDEXES = {
    PRESCRIPTIONS: [
        # Clinic listings (own facility, newest first; a status filter reads on through the
        # facility's prescriptions) and regulators' filters.
        IndexModel([("facility", ASCENDING), ("issued_at", DESCENDING), ("_id", DESCENDING)],
                   name="facility_issued"),
        # The overlap check at submission (gateway/prescriptions/overlaps.py): a person's
        # prescriptions whose treatment ends on or after a day (multikey over the periods).
        # Also a person's listing (a regulator's filter by patient: tens of prescriptions,
        # sorted in memory).
        IndexModel([("patient", ASCENDING), ("document.dot_dung_thuoc.den_ngay", ASCENDING)],
                   name="patient_treatment_end"),
        # Everything newest first, issue-date ranges (reports), and a status filter read on
        # through it.
        IndexModel([("issued_at", DESCENDING), ("_id", DESCENDING)], name="issued"),
        # The forwarder's query for due documents, earliest first (forward_open: see
        # gateway/prescriptions/outbox.py). Partial: only open documents are in it, so the
        # rewrites of the (many) closed ones never touch it, and it stays small.
        IndexModel([("forward_open", ASCENDING), ("forward_due_at", ASCENDING)],
                   name="forward_open_due", partialFilterExpression={"forward_open": True}),
        # A pharmacy's own dispense history in the console, newest prescriptions first.
        # Partial: only prescriptions with a dispense are in it (a pharmacy code is a
        # non-empty string, so an equality on one implies the filter), so the forwarder's
        # and the sequencer's rewrites of the others never touch it.
        IndexModel([("dispenses.pharmacy", ASCENDING), ("issued_at", DESCENDING),
                    ("_id", DESCENDING)], name="dispensing_pharmacy",
                   partialFilterExpression={"dispenses.pharmacy": {"$gt": ""}}),
        # POST /v2/deliveries/{id}/retry and the delivery metrics.
        IndexModel([("deliveries.id", ASCENDING)], name="delivery_id"),
        IndexModel([("deliveries.state", ASCENDING)], name="delivery_state"),
    ],
    # One document per dispensed serialised pack: the unique _id (GTIN + serial) makes a pack
    # dispensable once across the whole system.
    PACKS: [IndexModel([("prescription", ASCENDING)], name="prescription")],
}

# Indexes of earlier versions, dropped at start-up where they exist (gateway/core/db.py):
# patient_issued (served by patient_treatment_end), facility_status_issued and status_issued
# (a status is one filter more on facility_issued or issued), forward_due and
# pharmacy_dispenses (now partial, as forward_open_due and dispensing_pharmacy).
RETIRED_INDEXES = {PRESCRIPTIONS: ["patient_issued", "facility_status_issued", "status_issued",
                                   "forward_due", "pharmacy_dispenses"]}

# What the overlap check reads of the person's other prescriptions.
OVERLAP_FIELDS = {"facility": 1, "issuer": 1, "issuer_role": 1, "status": 1, "lines": 1,
                  "document.loai_don_thuoc": 1, "document.dot_dung_thuoc": 1}

# The audit events waiting for the sequencer (gateway/prescriptions/audit_outbox_store.py).
AUDIT_PENDING = "audit_pending"
AUDIT_OPEN = "audit_open"

Update = dict[str, Any]


def merge_updates(*updates: Mapping[str, Any]) -> Update:
    """Merge update documents operator by operator (``$set`` with ``$set``, ...).

    Raises:
        ValueError: two updates set the same field under the same operator.
    """
    merged: dict[str, dict[str, Any]] = {}
    for update in updates:
        for operator, fields in update.items():
            target = merged.setdefault(operator, {})
            for name, value in fields.items():
                if name in target:
                    raise ValueError(f"both updates use {operator} on {name}")
                target[name] = value
    return merged


def outbox_update(entries: Sequence[Mapping[str, Any]], now: datetime) -> Update:
    """The update fragment appending ``entries`` to the outbox and making the document due
    for forwarding.

    Setting ``forward_due_at`` to ``now`` (rather than a minimum) is safe: the forwarder
    recomputes it from the array whenever it releases the document.
    """
    if not entries:
        return {}
    return {"$push": {"deliveries": {"$each": [dict(entry) for entry in entries]}},
            "$set": {"forward_due_at": now, "forward_open": True, QUEUED: now},
            "$inc": {REVISION: 1}}


def audit_update(events: Sequence[Mapping[str, Any]]) -> Update:
    """The update fragment appending audit ``events`` for the sequencer."""
    if not events:
        return {}
    return {"$push": {AUDIT_PENDING: {"$each": [dict(event) for event in events]}},
            "$set": {AUDIT_OPEN: True}}


def audit_stage(events: Sequence[Mapping[str, Any]]) -> list[Update]:
    """The same as pipeline stages, for updates written as a pipeline (the forwarder's
    release); ``$literal``: events are data, whatever their keys look like."""
    if not events:
        return []
    return [{"$set": {AUDIT_PENDING: {"$concatArrays": [
        {"$ifNull": [f"${AUDIT_PENDING}", []]}, {"$literal": [dict(event) for event in events]}]},
        AUDIT_OPEN: True}}]


def status_filter(status: str, now: datetime) -> dict[str, Any]:
    """The condition on prescriptions whose effective status at ``now`` is ``status``
    (``expired``: dispensable ones past ``dispensable_until``; a dispensable status: those
    not past it)."""
    if status == Status.EXPIRED:
        return {"status": {"$in": [str(kind) for kind in DISPENSABLE]},
                "dispensable_until": {"$lt": now}}
    if status in DISPENSABLE:
        return {"status": status, "dispensable_until": {"$gte": now}}
    return {"status": status}


class PrescriptionStore:
    def __init__(self, database: Database[dict[str, Any]], *, cipher: FieldCipher) -> None:
        self.prescriptions = database[PRESCRIPTIONS]
        self.packs = database[PACKS]
        self.cipher = cipher

    def _opened(self, stored: dict[str, Any]) -> StoredPrescription:
        """A stored prescription with its patient fields decrypted (gateway.core.encryption)."""
        if "document" in stored:
            stored["document"] = self.cipher.open_document(stored["document"])
        return cast(StoredPrescription, stored)

    # --- prescriptions -----------------------------------------------------------------
    def insert(self, stored: StoredPrescription) -> bool:
        """Store a new prescription; False when its code exists already."""
        sealed = dict(stored)
        sealed["document"] = self.cipher.seal_document(stored["document"])
        try:
            self.prescriptions.insert_one(sealed)
        except DuplicateKeyError:
            return False
        return True

    def get(self, code: str, *, without: Sequence[str] = ()) -> StoredPrescription | None:
        """The stored prescription (less the ``without`` fields), or None."""
        if not isinstance(code, str):
            return None
        projection = dict.fromkeys(without, 0) or None
        found = self.prescriptions.find_one({"_id": code}, projection)
        return self._opened(found) if found is not None else None

    def find_typed(self, text: str) -> StoredPrescription | None:
        """The one stored prescription a code typed from paper names (case, blanks, O for 0,
        I or L for 1: :func:`schemas.identifiers.code_spellings`); None when none or more
        than one does."""
        spellings = code_spellings(text) if isinstance(text, str) else []
        if not spellings:
            return None
        found = list(self.prescriptions.find({"_id": {"$in": spellings}}, limit=2))
        return self._opened(found[0]) if len(found) == 1 else None

    def require(self, code: str) -> StoredPrescription:
        """The stored prescription ``code`` names, also as typed from paper (any case, blanks,
        O for 0, I or L for 1, when only one prescription matches: :meth:`find_typed`); its
        code as stored is its ``_id``. Raises: NotFound."""
        stored = self.get(code) or self.find_typed(code)
        if stored is None:
            raise NotFound(f"no prescription {code}")
        return stored

    def page(self, *, limit: int, facility: str | None = None, status: str | None = None,
             now: datetime | None = None, patient: str | None = None,
             issued_from: datetime | None = None, issued_to: datetime | None = None,
             dispensed_by: str | None = None,
             after: tuple[datetime, str] | None = None) -> list[StoredPrescription]:
        """Up to ``limit`` prescriptions, newest first, without their outboxes: those of
        ``facility``, in effective ``status`` at ``now`` (:func:`status_filter`), of
        ``patient`` (the keyed hash), issued in ``[issued_from, issued_to)``, dispensed
        against by the pharmacy ``dispensed_by``, and after ``(issued_at, code)`` (the last
        of the previous page)."""
        query: dict[str, Any] = {}
        if facility is not None:
            query["facility"] = facility
        if status is not None:
            if now is None:
                raise ValueError("a status filter needs the time it is evaluated at")
            query.update(status_filter(status, now))
        if patient is not None:
            query["patient"] = patient
        if dispensed_by is not None:
            query["dispenses.pharmacy"] = dispensed_by
        issued: dict[str, Any] = {}
        if issued_from is not None:
            issued["$gte"] = issued_from
        if issued_to is not None:
            issued["$lt"] = issued_to
        if issued:
            query["issued_at"] = issued
        if after is not None:
            after_time, after_code = after
            query = {"$and": [query, {"$or": [
                {"issued_at": {"$lt": after_time}},
                {"issued_at": after_time, "_id": {"$lt": after_code}}]}]}
        return [self._opened(doc) for doc in
                self.prescriptions.find(query, {"deliveries": 0})
                .sort([("issued_at", DESCENDING), ("_id", DESCENDING)]).limit(limit)]

    def overlap_candidates(self, patient: str, first_day: str) -> list[dict[str, Any]]:
        """The prescriptions of ``patient`` (the keyed hash) with a treatment period ending on
        or after ``first_day`` (``YYYY-MM-DD``), with the fields the overlap check reads.

        One query on the index ``patient_treatment_end``. It filters on that index's fields
        only (the embedded database scans the collection as soon as a condition names another
        field): the caller drops cancelled ones, itself, and later periods.
        """
        return list(self.prescriptions.find(
            {"patient": patient, "document.dot_dung_thuoc.den_ngay": {"$gte": first_day}},
            OVERLAP_FIELDS))

    def encrypt_existing(self, batch: int) -> int:
        """Encrypt the patient fields of prescriptions stored in plain text; how many were.

        Each document is rewritten only if its version is unchanged (a concurrent dispense or
        cancel wins; the next run encrypts it)."""
        done = 0
        while True:
            plain = list(self.prescriptions.find(
                {"document.ho_ten_benh_nhan": {"$type": "string"}}, {"document": 1, "version": 1},
                limit=batch))
            if not plain:
                return done
            for doc in plain:
                sealed = self.cipher.seal_document(doc["document"])
                done += self.prescriptions.update_one(
                    {"_id": doc["_id"], "version": doc["version"]},
                    {"$set": {"document": sealed}}).modified_count
            if len(plain) < batch:
                return done

    def _compare_and_set(self, code: str, version: int, update: Mapping[str, Any]) -> bool:
        """Apply ``update`` if the document is still at ``version`` (the update increments it).

        ``update_one`` rather than ``find_one_and_update``: the same atomic single-document
        update, and on the embedded database findAndModify scans the whole collection.
        """
        return self.prescriptions.update_one({"_id": code, "version": version},
                                             dict(update)).modified_count == 1

    def record_dispense(self, code: str, version: int, *, dispense: Dispense, status: Status,
                        dispensed: Mapping[int, int | float], deliveries: Sequence[Delivery],
                        audit_events: Sequence[Mapping[str, Any]], now: datetime) -> bool:
        """Add ``dispense`` to the prescription still at ``version``: its new ``status``, the
        new totals of the lines it sold (``dispensed``: line index -> exact total, set rather
        than incremented, so float sums never drift), its ``deliveries`` and
        ``audit_events``; ONE update. False when the version moved on (re-read and retry)."""
        return self._compare_and_set(code, version, merge_updates(
            {"$inc": {"version": 1},
             "$set": {"status": status,
                      **{f"lines.{index}.dispensed": value for index, value in dispensed.items()}},
             "$push": {"dispenses": dispense}},
            outbox_update(deliveries, now), audit_update(audit_events)))

    def record_cancellation(self, code: str, version: int, *, cancellation: Cancellation,
                            deliveries: Sequence[Delivery],
                            audit_events: Sequence[Mapping[str, Any]], now: datetime) -> bool:
        """Cancel the prescription still at ``version``, with its ``deliveries`` and
        ``audit_events``: ONE update. False when the version moved on."""
        return self._compare_and_set(code, version, merge_updates(
            {"$set": {"status": Status.CANCELLED, "cancellation": cancellation},
             "$inc": {"version": 1}},
            outbox_update(deliveries, now), audit_update(audit_events)))

    def add_warnings(self, code: str, warnings: Sequence[Mapping[str, Any]]) -> None:
        """Append warnings found once the prescription was stored (the duplicate-therapy
        check of a ``c`` one, gateway/prescriptions/overlaps.py): a change, so the version
        moves (a concurrent conditional update reads again)."""
        self.prescriptions.update_one(
            {"_id": code}, {"$push": {"warnings": {"$each": [dict(w) for w in warnings]}},
                            "$inc": {"version": 1}})

    def note_viewer(self, code: str, pharmacy: str) -> None:
        """Remember a pharmacy that looked the prescription up."""
        self.prescriptions.update_one({"_id": code},
                                      {"$addToSet": {"viewed_by_pharmacies": pharmacy}})

    def has_dispense(self, code: str, dispense_id: str) -> bool:
        return self.prescriptions.count_documents(
            {"_id": code, "dispenses.id": dispense_id}, limit=1) == 1

    def aggregate(self, pipeline: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Run a read-only aggregation over the prescriptions (regulators' reports)."""
        return list(self.prescriptions.aggregate([dict(stage) for stage in pipeline]))

    # --- dispensed packs ---------------------------------------------------------------
    def reserve_pack(self, record: PackRecord) -> bool:
        """Insert one pack reservation; False when the pack is held already."""
        try:
            self.packs.insert_one(dict(record))
        except DuplicateKeyError:
            return False
        return True

    def pack_holder(self, pack_id: str) -> PackRecord | None:
        return cast("PackRecord | None", self.packs.find_one({"_id": pack_id}))

    def take_over_pack(self, pack_id: str, holder_dispense: str, record: PackRecord) -> bool:
        """Replace a reservation still held by ``holder_dispense``; True when taken."""
        return self.packs.replace_one({"_id": pack_id, "dispense": holder_dispense},
                                      dict(record)).modified_count == 1

    def release_packs(self, pack_ids: Iterable[str], dispense_id: str) -> None:
        """Drop the reservations of ``dispense_id`` among ``pack_ids``."""
        self.packs.delete_many({"_id": {"$in": list(pack_ids)}, "dispense": dispense_id})
