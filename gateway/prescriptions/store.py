"""The ``prescriptions`` and ``dispensed_packs`` collections: the only code that reads or writes
them outside the outbox's own queries (:mod:`gateway.prescriptions.outbox_store`), and the one
place their indexes are declared.

One MongoDB document per prescription (collection ``prescriptions``)::

    {_id: ma_don_thuoc, facility, issuer, issuer_role, status, version,
     document: {...canonical national document...}, content_sha256,
     signature: {alg, kid, jws}, warnings: [...],
     lines: [{index, ma_thuoc (national code), submitted_ma_thuoc, prescribed, dispensed,
              unit, control_class, ingredients (drug_catalog.model.ingredient_key of each)}],
     dispenses: [{id, pharmacy, by, ma_hoa_don, at, items: [...], packs: [...]}],
     cancellation: {at, by, ly_do} | None, patient: <keyed hash of the CCCD> | None,
     issued_at, dispensable_until, nominated_pharmacy, viewed_by_pharmacies: [...],
     deliveries: [...], forward_due_at, forward_open, forward_lease_until,
     forward_lease_owner}

Every state change is ONE conditional update of that document (:meth:`compare_and_set`): it
names the ``version`` it read and increments it. A pack serial is unique system-wide through
the unique ``_id`` (GTIN + serial) of ``dispensed_packs``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from gateway.core.encryption import FieldCipher

PRESCRIPTIONS = "prescriptions"
PACKS = "dispensed_packs"

INDEXES = {
    PRESCRIPTIONS: [
        # Clinic listings (own facility, newest first) and regulators' filters.
        IndexModel([("facility", ASCENDING), ("issued_at", DESCENDING), ("_id", DESCENDING)],
                   name="facility_issued"),
        IndexModel([("facility", ASCENDING), ("status", ASCENDING),
                    ("issued_at", DESCENDING), ("_id", DESCENDING)],
                   name="facility_status_issued"),
        IndexModel([("patient", ASCENDING), ("issued_at", DESCENDING), ("_id", DESCENDING)],
                   name="patient_issued"),
        # The overlap check at submission (gateway/prescriptions/overlaps.py): a person's
        # prescriptions whose treatment ends on or after a day (multikey over the periods).
        IndexModel([("patient", ASCENDING), ("document.dot_dung_thuoc.den_ngay", ASCENDING)],
                   name="patient_treatment_end"),
        IndexModel([("status", ASCENDING), ("issued_at", DESCENDING), ("_id", DESCENDING)],
                   name="status_issued"),
        IndexModel([("issued_at", DESCENDING), ("_id", DESCENDING)], name="issued"),
        # The forwarder's query for due documents, earliest first (forward_open: see
        # gateway/prescriptions/outbox.py).
        IndexModel([("forward_open", ASCENDING), ("forward_due_at", ASCENDING)],
                   name="forward_due"),
        # A pharmacy's own dispense history in the console, newest prescriptions first.
        IndexModel([("dispenses.pharmacy", ASCENDING), ("issued_at", DESCENDING),
                    ("_id", DESCENDING)], name="pharmacy_dispenses"),
        # POST /v2/deliveries/{id}/retry and the delivery metrics.
        IndexModel([("deliveries.id", ASCENDING)], name="delivery_id"),
        IndexModel([("deliveries.state", ASCENDING)], name="delivery_state"),
    ],
    # One document per dispensed serialised pack: the unique _id (GTIN + serial) makes a pack
    # dispensable once across the whole system.
    PACKS: [IndexModel([("prescription", ASCENDING)], name="prescription")],
}

# What the overlap check reads of the person's other prescriptions.
OVERLAP_FIELDS = {"facility": 1, "issuer": 1, "issuer_role": 1, "status": 1, "lines": 1,
                  "document.loai_don_thuoc": 1, "document.dot_dung_thuoc": 1}


class PrescriptionStore:
    def __init__(self, database: Database[dict[str, Any]], *, cipher: FieldCipher) -> None:
        self.prescriptions = database[PRESCRIPTIONS]
        self.packs = database[PACKS]
        self.cipher = cipher

    def _opened(self, stored: dict[str, Any] | None) -> dict[str, Any] | None:
        """A stored prescription with its patient fields decrypted (gateway.core.encryption)."""
        if stored is not None and "document" in stored:
            stored["document"] = self.cipher.open_document(stored["document"])
        return stored

    # --- prescriptions -----------------------------------------------------------------
    def insert(self, stored: Mapping[str, Any]) -> bool:
        """Store a new prescription; False when its code exists already."""
        sealed = dict(stored)
        sealed["document"] = self.cipher.seal_document(stored["document"])
        try:
            self.prescriptions.insert_one(sealed)
        except DuplicateKeyError:
            return False
        return True

    def get(self, code: str, *, without: Sequence[str] = ()) -> dict[str, Any] | None:
        """The stored prescription (less the ``without`` fields), or None."""
        if not isinstance(code, str):
            return None
        projection = dict.fromkeys(without, 0) or None
        return self._opened(self.prescriptions.find_one({"_id": code}, projection))

    def find_page(self, query: Mapping[str, Any], limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` prescriptions matching ``query``, newest first, without their
        outboxes."""
        return [self._opened(doc) for doc in  # type: ignore[misc]
                self.prescriptions.find(dict(query), {"deliveries": 0})
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

    def compare_and_set(self, code: str, version: int, update: Mapping[str, Any]) -> bool:
        """Apply ``update`` if the document is still at ``version`` (the update increments it).

        ``update_one`` rather than ``find_one_and_update``: the same atomic single-document
        update, and on the embedded database findAndModify scans the whole collection.
        """
        return self.prescriptions.update_one({"_id": code, "version": version},
                                             dict(update)).modified_count == 1

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
    def reserve_pack(self, record: Mapping[str, Any]) -> bool:
        """Insert one pack reservation; False when the pack is held already."""
        try:
            self.packs.insert_one(dict(record))
        except DuplicateKeyError:
            return False
        return True

    def pack_holder(self, pack_id: str) -> dict[str, Any] | None:
        return self.packs.find_one({"_id": pack_id})

    def take_over_pack(self, pack_id: str, holder_dispense: str,
                       record: Mapping[str, Any]) -> bool:
        """Replace a reservation still held by ``holder_dispense``; True when taken."""
        return self.packs.replace_one({"_id": pack_id, "dispense": holder_dispense},
                                      dict(record)).modified_count == 1

    def release_packs(self, pack_ids: Iterable[str], dispense_id: str) -> None:
        """Drop the reservations of ``dispense_id`` among ``pack_ids``."""
        self.packs.delete_many({"_id": {"$in": list(pack_ids)}, "dispense": dispense_id})
