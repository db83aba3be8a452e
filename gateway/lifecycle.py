"""The prescription lifecycle: submit, read, list, dispense, cancel (no HTTP here).

One MongoDB document per prescription (collection ``prescriptions``)::

    {_id: ma_don_thuoc, facility, issuer, issuer_role, status, version,
     document: {...canonical national document...}, content_sha256,
     signature: {alg, kid, jws}, warnings: [...],
     lines: [{index, ma_thuoc (national code), submitted_ma_thuoc, prescribed, dispensed,
              unit, control_class}],
     dispenses: [{id, pharmacy, ma_hoa_don, at, items: [...], packs: [...]}],
     cancellation: {at, by, ly_do} | None, patient: <keyed hash of the CCCD> | None,
     issued_at, dispensable_until, nominated_pharmacy, viewed_by_pharmacies: [...],
     deliveries: [...], forward_due_at, forward_lease_until, forward_lease_owner}

Every state change is ONE conditional update of that document: it names the ``version`` it
read and increments it, so two pharmacies dispensing the last units at the same moment cannot
both succeed (the loser re-reads and is refused). The outbox entries of a change are part of
the same update (gateway/outbox.py). A pack serial is unique system-wide through the unique
``_id`` of ``dispensed_packs`` (see :meth:`Lifecycle.dispense`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from drug_catalog.errors import CatalogError, InvalidGs1
from drug_catalog.identifiers import parse_gs1
from drug_catalog.catalog import Catalog
from gateway import outbox
from gateway.db import indexes
from gateway.errors import ApiError, bad_parameter, error_item
from gateway.parties import Party

ISSUED = "issued"
PARTIALLY_DISPENSED = "partially_dispensed"
DISPENSED = "dispensed"
CANCELLED = "cancelled"
EXPIRED = "expired"
DISPENSABLE = (ISSUED, PARTIALLY_DISPENSED)
STATUSES = (ISSUED, PARTIALLY_DISPENSED, DISPENSED, CANCELLED, EXPIRED)
PRESCRIBERS = ("clinic", "doctor")
MAX_CAS_ATTEMPTS = 50


@indexes
def _prescription_indexes() -> dict[str, list[IndexModel]]:
    return {
        "prescriptions": [
            # Clinic listings (own facility, newest first) and regulators' filters.
            IndexModel([("facility", ASCENDING), ("issued_at", DESCENDING), ("_id", DESCENDING)],
                       name="facility_issued"),
            IndexModel([("facility", ASCENDING), ("status", ASCENDING),
                        ("issued_at", DESCENDING), ("_id", DESCENDING)],
                       name="facility_status_issued"),
            IndexModel([("patient", ASCENDING), ("issued_at", DESCENDING), ("_id", DESCENDING)],
                       name="patient_issued"),
            IndexModel([("status", ASCENDING), ("issued_at", DESCENDING), ("_id", DESCENDING)],
                       name="status_issued"),
            IndexModel([("issued_at", DESCENDING), ("_id", DESCENDING)], name="issued"),
        ],
        # One document per dispensed serialised pack: the unique _id (GTIN + serial) makes a
        # pack dispensable once across the whole system.
        "dispensed_packs": [IndexModel([("prescription", ASCENDING)], name="prescription")],
    }


@dataclass(frozen=True)
class Settings:
    timezone: timezone
    cas_attempts: int = MAX_CAS_ATTEMPTS
    pack_reservation_grace: timedelta = timedelta(seconds=60)


@dataclass
class Submitted:
    """The outcome of a submission: the stored document, and whether it was already there."""

    stored: dict[str, Any]
    created: bool


@dataclass
class Refused(Exception):
    """A prescription that fails validation: every issue, pointer and code."""

    errors: list[dict[str, str]]
    warnings: list[dict[str, str]] = field(default_factory=list)


class Lifecycle:
    """The operations of issue 6, over one database.

    ``validate(raw, facility_code, now)`` returns ``(document, errors, warnings)`` with issues
    as ``{"pointer", "code", "message"}`` dicts; ``seal(document)`` returns the content's
    SHA-256 and the gateway signature ``{"alg", "kid", "jws"}`` (one canonical form for both);
    ``patient_key(cccd)`` the keyed hash stored for patient queries.
    """

    def __init__(self, database: Database, *, catalog: Catalog,
                 validate: Callable[[Mapping[str, Any], str | None, datetime],
                                    tuple[dict[str, Any] | None, list[dict[str, str]],
                                          list[dict[str, str]]]],
                 seal: Callable[[Mapping[str, Any]], tuple[str, dict[str, str]]],
                 dispensable_until: Callable[[Mapping[str, Any], datetime], datetime],
                 patient_key: Callable[[str], str],
                 settings: Settings,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.prescriptions = database["prescriptions"]
        self.packs = database["dispensed_packs"]
        self.catalog = catalog
        self.validate = validate
        self.seal = seal
        self.dispensable_until = dispensable_until
        self.patient_key = patient_key
        self.settings = settings
        self.clock = clock

    # --- submit ------------------------------------------------------------------------
    def submit(self, raw: Mapping[str, Any], party: Party) -> Submitted:
        """Validate, sign and store a prescription of ``party``'s facility.

        An existing ``ma_don_thuoc`` with the same content returns the stored prescription
        (``created`` False); with different content it is a 409.

        Raises:
            Refused: the document breaks rules (all of them listed).
            ApiError: 403 for a party that does not prescribe; 409 as above.
        """
        if party.role not in PRESCRIBERS or not party.facility:
            raise ApiError(403, detail="only a clinic or a doctor of a facility prescribes")
        now = self.clock()
        document, errors, warnings = self.validate(raw, party.facility, now)
        if errors or document is None:
            raise Refused(errors, warnings)
        content_sha256, signature = self.seal(document)
        stored = self._new_document(document, content_sha256, signature, warnings, party, now)
        try:
            self.prescriptions.insert_one(stored)
        except DuplicateKeyError:  # the code exists: the same prescription again, or a clash
            existing = self.prescriptions.find_one({"_id": document["ma_don_thuoc"]})
            if existing is None:
                raise
            return self._resubmitted(existing, content_sha256, party)
        return Submitted(stored, created=True)

    def _resubmitted(self, existing: dict[str, Any], content_sha256: str,
                     party: Party) -> Submitted:
        if existing["facility"] != party.facility or existing["content_sha256"] != content_sha256:
            raise ApiError(409, slug="prescription-exists",
                           title="This prescription code exists with other content",
                           detail=f"{existing['_id']} was submitted before with different "
                                  "content; a prescription cannot be changed, only cancelled",
                           errors=[error_item("/ma_don_thuoc", "rx.code_exists",
                                              "Mã đơn thuốc đã tồn tại với nội dung khác")])
        return Submitted(existing, created=False)

    def _new_document(self, document: dict[str, Any], content_sha256: str,
                      signature: dict[str, str], warnings: list[dict[str, str]], party: Party,
                      now: datetime) -> dict[str, Any]:
        lines = []
        for index, line in enumerate(document["thong_tin_don_thuoc"]):
            drug = self.catalog.resolve(line["national_code"])
            lines.append({"index": index, "ma_thuoc": drug.national_code,
                          "submitted_ma_thuoc": line["ma_thuoc"],
                          "prescribed": line["so_luong"], "dispensed": 0,
                          "unit": line.get("don_vi_tinh"), "control_class": drug.control_class})
        cccd = document.get("ma_dinh_danh_cong_dan")
        stored: dict[str, Any] = {
            "_id": document["ma_don_thuoc"], "facility": party.facility,
            "issuer": party.client_id, "issuer_role": party.role, "status": ISSUED,
            "version": 1, "document": document, "content_sha256": content_sha256,
            "signature": signature, "warnings": warnings, "lines": lines,
            "dispenses": [], "cancellation": None,
            "patient": self.patient_key(cccd) if cccd else None,
            "issued_at": now, "dispensable_until": self.dispensable_until(document, now),
            "nominated_pharmacy": document.get("ma_co_so_cung_ung_thuoc_chi_dinh") or None,
            "viewed_by_pharmacies": [],
        }
        stored.update(outbox.initial_fields(outbox.deliveries_for_issue(stored, now), now))
        return stored

    # --- read --------------------------------------------------------------------------
    def get(self, code: str) -> dict[str, Any]:
        """The stored prescription. Raises: ApiError 404."""
        stored = self.prescriptions.find_one({"_id": code}) if isinstance(code, str) else None
        if stored is None:
            raise ApiError(404, detail=f"no prescription {code}")
        return stored

    def authorize_read(self, stored: Mapping[str, Any], party: Party) -> None:
        """Object-level access: the issuing facility's clinic and doctors, any pharmacy (by
        exact code), regulators. Raises: ApiError 403."""
        if party.role == "regulator" or party.role == "pharmacy":
            return
        if party.role in PRESCRIBERS and party.facility == stored["facility"]:
            return
        raise ApiError(403, detail="this prescription belongs to another facility")

    def note_pharmacy_view(self, stored: Mapping[str, Any], party: Party) -> None:
        """Remember that a pharmacy looked the prescription up (it is told of a cancellation)."""
        if party.role == "pharmacy" and party.code not in stored.get("viewed_by_pharmacies", []):
            self.prescriptions.update_one({"_id": stored["_id"]},
                                          {"$addToSet": {"viewed_by_pharmacies": party.code}})

    def effective_status(self, stored: Mapping[str, Any]) -> str:
        """``expired`` once a dispensable prescription is past ``dispensable_until``."""
        if stored["status"] in DISPENSABLE and self.clock() > stored["dispensable_until"]:
            return EXPIRED
        return stored["status"]

    # --- list --------------------------------------------------------------------------
    def list(self, party: Party, *, facility: str | None, status: str | None,
             issued_from: datetime | None, issued_to: datetime | None,
             patient: str | None, cursor: str | None, limit: int) -> tuple[list[dict], str | None]:
        """A page of prescriptions, newest first, and the cursor of the next page.

        Raises:
            ApiError: 403 for a pharmacy, or a clinic asking for another facility; 422 for a
                malformed cursor or status.
        """
        if party.role in PRESCRIBERS:
            if facility is not None and facility != party.facility:
                raise ApiError(403, detail="a clinic lists its own facility's prescriptions only")
            facility = party.facility
        elif party.role != "regulator":
            raise ApiError(403, detail="pharmacies read prescriptions by exact code only")
        query: dict[str, Any] = {}
        if facility is not None:
            query["facility"] = facility
        now = self.clock()
        if status is not None:
            if status not in STATUSES:
                raise bad_parameter("status", f"one of {', '.join(STATUSES)}")
            if status == EXPIRED:
                query["status"] = {"$in": list(DISPENSABLE)}
                query["dispensable_until"] = {"$lt": now}
            else:
                query["status"] = status
                if status in DISPENSABLE:
                    query["dispensable_until"] = {"$gte": now}
        if patient is not None:
            query["patient"] = self.patient_key(patient)
        issued: dict[str, Any] = {}
        if issued_from is not None:
            issued["$gte"] = issued_from
        if issued_to is not None:
            issued["$lt"] = issued_to
        if issued:
            query["issued_at"] = issued
        if cursor is not None:
            after_time, after_id = _decode_cursor(cursor)
            query = {"$and": [query, {"$or": [
                {"issued_at": {"$lt": after_time}},
                {"issued_at": after_time, "_id": {"$lt": after_id}}]}]}
        found = list(self.prescriptions.find(query, {"deliveries": 0})
                     .sort([("issued_at", DESCENDING), ("_id", DESCENDING)]).limit(limit + 1))
        next_cursor = None
        if len(found) > limit:
            found = found[:limit]
            last = found[-1]
            next_cursor = _encode_cursor(last["issued_at"], last["_id"])
        return found, next_cursor

    # --- cancel ------------------------------------------------------------------------
    def cancel(self, code: str, party: Party, reason: str) -> dict[str, Any]:
        """Cancel what remains of a prescription (issuing facility only).

        Raises:
            ApiError: 404; 403 for another facility or role; 409 when fully dispensed or
                already cancelled.
        """
        if party.role not in PRESCRIBERS:
            raise ApiError(403, detail="only the issuing facility cancels a prescription")
        for _ in range(self.settings.cas_attempts):
            stored = self.get(code)
            if stored["facility"] != party.facility:
                raise ApiError(403, detail="this prescription belongs to another facility")
            if stored["status"] not in DISPENSABLE:
                raise ApiError(409, slug="not-cancellable",
                               title="The prescription cannot be cancelled",
                               detail=f"it is {stored['status']}",
                               errors=[error_item("/status", "rx.state",
                                                  _state_message(stored["status"]))])
            now = self.clock()
            entries = outbox.deliveries_for_cancel(stored, now)
            update = outbox.merge_updates(
                {"$set": {"status": CANCELLED,
                          "cancellation": {"at": now, "by": party.client_id, "ly_do": reason}},
                 "$inc": {"version": 1}},
                outbox.outbox_update(entries, now))
            if self._compare_and_set(code, stored["version"], update):
                return self.get(code)
        raise ApiError(503, detail="the prescription is changing too fast; retry")

    # --- dispense ----------------------------------------------------------------------
    def dispense(self, code: str, party: Party, body: Mapping[str, Any], *,
                 dispense_id: str | None = None,
                 pharmacy_details: Mapping[str, Any] | None = None) -> tuple[dict, dict]:
        """Record a (partial) dispense by ``party``; returns ``(stored, dispense)``.

        ``dispense_id`` (derived from an Idempotency-Key) makes a retry complete or return
        the same dispense instead of adding a second one.

        Raises:
            ApiError: 404; 403 for a non-pharmacy; 409 ``dispense.state`` when not dispensable
                or ``dispense.over_quantity`` when a line would exceed what was prescribed;
                409 ``dispense.serial_reused``; 422 with every content problem.
        """
        if party.role != "pharmacy":
            raise ApiError(403, detail="only a pharmacy dispenses")
        dispense_id = dispense_id or secrets.token_hex(12)
        stored = self.get(code)
        for existing in stored["dispenses"]:
            if existing["id"] == dispense_id:
                return stored, existing
        now = self.clock()
        items, packs = self._check_dispense_body(stored, body, now)
        dispense = {"id": dispense_id, "pharmacy": party.code, "by": party.client_id,
                    "ma_hoa_don": body.get("ma_hoa_don"), "at": now, "items": items,
                    "packs": [pack["_id"] for pack in packs]}
        if pharmacy_details:
            dispense["pharmacy_details"] = dict(pharmacy_details)
        self._reserve_packs(packs, code, dispense_id, now)
        try:
            return self._apply_dispense(code, dispense, stored), dispense
        except BaseException:
            if packs:
                self.packs.delete_many({"_id": {"$in": [p["_id"] for p in packs]},
                                        "dispense": dispense_id})
            raise

    def _apply_dispense(self, code: str, dispense: dict[str, Any],
                        stored: dict[str, Any]) -> dict[str, Any]:
        """Apply ``dispense`` to the version in ``stored``; on a lost race re-read and retry."""
        for attempt in range(self.settings.cas_attempts):
            if attempt:
                stored = self.get(code)
            if any(existing["id"] == dispense["id"] for existing in stored["dispenses"]):
                return stored
            self._check_dispensable(stored)
            totals = {line["index"]: line["dispensed"] for line in stored["lines"]}
            wanted: dict[int, float] = {}
            for item in dispense["items"]:
                wanted[item["line"]] = wanted.get(item["line"], 0) + item["so_luong_ban"]
            over = []
            for position, item in enumerate(dispense["items"]):
                line = stored["lines"][item["line"]]
                if totals[item["line"]] + wanted[item["line"]] > line["prescribed"]:
                    remaining = line["prescribed"] - totals[item["line"]]
                    over.append(error_item(
                        f"/items/{position}/so_luong_ban", "dispense.over_quantity",
                        f"Vượt số lượng kê đơn: còn lại {_number(remaining)}"))
            if over:
                raise ApiError(409, slug="over-quantity", title="More than was prescribed",
                               errors=over)
            new_totals = {index: totals[index] + wanted.get(index, 0) for index in totals}
            complete = all(new_totals[line["index"]] >= line["prescribed"]
                           for line in stored["lines"])
            now = dispense["at"]
            entries = outbox.deliveries_for_dispense(stored, dispense, now)
            update = outbox.merge_updates(
                {"$inc": {"version": 1,
                          **{f"lines.{index}.dispensed": amount for index, amount in wanted.items()}},
                 "$set": {"status": DISPENSED if complete else PARTIALLY_DISPENSED},
                 "$push": {"dispenses": dispense}},
                outbox.outbox_update(entries, now))
            if self._compare_and_set(code, stored["version"], update):
                return self.get(code)
        raise ApiError(503, detail="the prescription is changing too fast; retry")

    def _compare_and_set(self, code: str, version: int, update: Mapping[str, Any]) -> bool:
        """Apply ``update`` if the document is still at ``version`` (it increments it).

        ``update_one`` rather than ``find_one_and_update``: the same atomic single-document
        update, and on the embedded database findAndModify scans the whole collection.
        """
        return self.prescriptions.update_one({"_id": code, "version": version},
                                             update).modified_count == 1

    def _check_dispensable(self, stored: Mapping[str, Any]) -> None:
        status = self.effective_status(stored)
        if status not in DISPENSABLE:
            raise ApiError(409, slug="not-dispensable", title="The prescription cannot be dispensed",
                           detail=f"it is {status}",
                           errors=[error_item("/ma_don_thuoc", "dispense.state",
                                              _state_message(status))])

    def _check_dispense_body(self, stored: Mapping[str, Any], body: Mapping[str, Any],
                             now: datetime) -> tuple[list[dict], list[dict]]:
        self._check_dispensable(stored)
        errors: list[dict[str, str]] = []
        invoice = body.get("ma_hoa_don")
        if invoice is not None and (not isinstance(invoice, str) or len(invoice) > 20):
            errors.append(error_item("/ma_hoa_don", "dispense.invoice",
                                     "Mã hóa đơn là chuỗi tối đa 20 ký tự"))
        raw_items = body.get("items")
        if not isinstance(raw_items, list) or not raw_items:
            errors.append(error_item("/items", "dispense.items_required",
                                     "Cần ít nhất một dòng thuốc bán"))
            raise ApiError(422, title="The dispense is invalid", errors=errors)
        unknown = sorted(set(body) - {"ma_hoa_don", "items"})
        for name in unknown:
            errors.append(error_item(f"/{name}", "dispense.unknown_field",
                                     f"Trường không được hỗ trợ: {name}"))
        items: list[dict[str, Any]] = []
        packs: list[dict[str, Any]] = []
        seen_packs: set[str] = set()
        today = now.astimezone(self.settings.timezone).date()
        for position, raw in enumerate(raw_items):
            pointer = f"/items/{position}"
            if not isinstance(raw, dict):
                errors.append(error_item(pointer, "dispense.item", "Dòng thuốc bán phải là đối tượng"))
                continue
            item_errors = len(errors)
            for name in sorted(set(raw) - {"line", "ma_thuoc", "so_luong_ban", "packs"}):
                errors.append(error_item(f"{pointer}/{name}", "dispense.unknown_field",
                                         f"Trường không được hỗ trợ: {name}"))
            line_index = raw.get("line")
            if (not isinstance(line_index, int) or isinstance(line_index, bool)
                    or not 0 <= line_index < len(stored["lines"])):
                errors.append(error_item(f"{pointer}/line", "dispense.line",
                                         f"Số thứ tự dòng thuốc phải từ 0 đến "
                                         f"{len(stored['lines']) - 1}"))
                continue
            line = stored["lines"][line_index]
            quantity = raw.get("so_luong_ban")
            if (not isinstance(quantity, (int, float)) or isinstance(quantity, bool)
                    or quantity <= 0 or quantity != quantity):
                errors.append(error_item(f"{pointer}/so_luong_ban", "dispense.quantity",
                                         "Số lượng bán phải là số dương"))
            prescribed = self.catalog.resolve(line["ma_thuoc"])
            product = prescribed
            identifier = raw.get("ma_thuoc")
            if identifier is not None:
                if not isinstance(identifier, str) or not identifier:
                    errors.append(error_item(f"{pointer}/ma_thuoc", "drug.unknown",
                                             "Mã thuốc phải là chuỗi"))
                    continue
                try:
                    product = self.catalog.resolve(identifier)
                except CatalogError as exc:
                    errors.append(error_item(f"{pointer}/ma_thuoc", "drug.unknown",
                                             f"Mã thuốc không có trong danh mục ({exc})"))
                    continue
            if product.national_code != prescribed.national_code:
                if prescribed.control_class == "narcotic" or product.control_class == "narcotic":
                    errors.append(error_item(f"{pointer}/ma_thuoc", "dispense.substitution",
                                             "Không được thay thế thuốc gây nghiện"))
                elif not product.same_composition(prescribed):
                    errors.append(error_item(
                        f"{pointer}/ma_thuoc", "dispense.substitution",
                        "Thuốc thay thế phải cùng hoạt chất, hàm lượng và dạng bào chế"))
            if not product.is_active(today):
                errors.append(error_item(f"{pointer}/ma_thuoc", "dispense.product_inactive",
                                         f"Thuốc không còn lưu hành "
                                         f"({product.inactive_reason(today)})"))
            raw_packs = raw.get("packs", [])
            if not isinstance(raw_packs, list):
                errors.append(error_item(f"{pointer}/packs", "dispense.pack_invalid",
                                         "packs phải là danh sách mã GS1"))
                raw_packs = []
            for pack_position, scanned in enumerate(raw_packs):
                pack_pointer = f"{pointer}/packs/{pack_position}"
                if not isinstance(scanned, str):
                    errors.append(error_item(pack_pointer, "dispense.pack_invalid",
                                             "Mã GS1 phải là chuỗi"))
                    continue
                try:
                    pack = parse_gs1(scanned)
                except InvalidGs1 as exc:
                    errors.append(error_item(pack_pointer, "dispense.pack_invalid",
                                             f"Mã GS1 không hợp lệ: {exc}"))
                    continue
                if pack.gtin not in product.gtins:
                    errors.append(error_item(pack_pointer, "dispense.pack_gtin",
                                             "GTIN của hộp thuốc không thuộc thuốc được bán"))
                if pack.expiry is not None and pack.expiry < today:
                    errors.append(error_item(pack_pointer, "dispense.pack_expired",
                                             f"Hộp thuốc đã hết hạn ({pack.expiry.isoformat()})"))
                if pack.serial:
                    key = f"{pack.gtin}:{pack.serial}"
                    if key in seen_packs:
                        errors.append(error_item(pack_pointer, "dispense.serial_reused",
                                                 "Hộp thuốc được quét hai lần"))
                    seen_packs.add(key)
                    packs.append({"_id": key, "pointer": pack_pointer, "gtin": pack.gtin,
                                  "serial": pack.serial, "batch": pack.batch,
                                  "expiry": pack.expiry.isoformat() if pack.expiry else None})
            if len(errors) == item_errors:
                items.append({"line": line_index, "ma_thuoc": product.national_code,
                              "ma_thuoc_da_ke_don": prescribed.national_code,
                              "so_luong_ban": quantity, "substituted":
                              product.national_code != prescribed.national_code,
                              "packs": [p["_id"] for p in packs if p["pointer"].startswith(pointer + "/")]})
        if errors:
            raise ApiError(422, title="The dispense is invalid", errors=errors)
        return items, packs

    def _reserve_packs(self, packs: list[dict[str, Any]], code: str, dispense_id: str,
                       now: datetime) -> None:
        """Insert one ``dispensed_packs`` document per serialised pack, or refuse them all.

        A reservation whose dispense never reached its prescription (the process died in
        between) is taken over after ``pack_reservation_grace``.
        """
        reserved: list[str] = []
        reused: list[dict[str, str]] = []
        for pack in packs:
            record = {"_id": pack["_id"], "gtin": pack["gtin"], "serial": pack["serial"],
                      "batch": pack["batch"], "expiry": pack["expiry"], "prescription": code,
                      "dispense": dispense_id, "at": now}
            try:
                self.packs.insert_one(record)
                reserved.append(pack["_id"])
                continue
            except DuplicateKeyError:
                holder = self.packs.find_one({"_id": pack["_id"]})
            if holder is not None and holder["dispense"] == dispense_id:
                reserved.append(pack["_id"])  # our own earlier attempt
                continue
            if holder is not None and self._orphaned(holder, now):
                taken = self.packs.replace_one(
                    {"_id": pack["_id"], "dispense": holder["dispense"]}, record)
                if taken.modified_count == 1:
                    reserved.append(pack["_id"])
                    continue
            reused.append(error_item(pack["pointer"], "dispense.serial_reused",
                                     "Hộp thuốc (GTIN + số sê-ri) đã được bán trước đó"))
        if reused:
            if reserved:
                self.packs.delete_many({"_id": {"$in": reserved}, "dispense": dispense_id})
            raise ApiError(409, slug="serial-reused", title="A pack was dispensed before",
                           errors=reused)

    def _orphaned(self, holder: Mapping[str, Any], now: datetime) -> bool:
        if now - holder["at"] < self.settings.pack_reservation_grace:
            return False
        return self.prescriptions.count_documents(
            {"_id": holder["prescription"], "dispenses.id": holder["dispense"]}, limit=1) == 0


def _state_message(status: str) -> str:
    return {CANCELLED: "Đơn thuốc đã bị hủy", DISPENSED: "Đơn thuốc đã bán đủ",
            EXPIRED: "Đơn thuốc đã hết hạn"}.get(status, f"Trạng thái đơn thuốc: {status}")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _encode_cursor(issued_at: datetime, code: str) -> str:
    raw = json.dumps([issued_at.astimezone(timezone.utc).isoformat(), code]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        issued_at, code = json.loads(raw)
        return datetime.fromisoformat(issued_at), str(code)
    except (ValueError, TypeError):
        raise bad_parameter("cursor", "a next_cursor value from a previous page") from None


def dispense_id_for(party: Party, idempotency_key: str) -> str:
    """A dispense id that is the same for every retry of one idempotent request."""
    return hashlib.sha256(f"{party.client_id}\x1f{idempotency_key}".encode()).hexdigest()[:24]
