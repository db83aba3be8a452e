"""Dispensing: a pharmacy records what it sold against a prescription, with scanned packs.

A dispense is one conditional update of the prescription
(:meth:`gateway.prescriptions.store.PrescriptionStore.record_dispense`, under the version it
read), carrying its outbox entries and its audit event; every serialised pack is reserved
first in ``dispensed_packs``, so a pack is dispensed once across the whole system. No HTTP
here.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from drug_catalog.catalog import Catalog
from drug_catalog.errors import CatalogError, InvalidGs1
from drug_catalog.identifiers import parse_gs1
from drug_catalog.model import ControlClass
from drug_catalog.text import fold_phrase
from gateway.core.errors import (
    Conflict,
    DispenseLimit,
    Forbidden,
    Invalid,
    NotDispensable,
    NotNominated,
    OverQuantity,
    PharmacyContactMissing,
    SerialReused,
    Unavailable,
    error_item,
)
from gateway.core.reasons import catalog_reason_in_vietnamese
from gateway.parties.model import Party, Role, pharmacy_key
from gateway.prescriptions import outbox
from gateway.prescriptions.model import (
    DISPENSABLE,
    AuditEvent,
    Dispense,
    DispenseItem,
    Issue,
    PackRecord,
    Settings,
    Status,
    StoredPrescription,
    effective_status,
    state_message,
)
from gateway.prescriptions.store import PrescriptionStore
from schemas.quantities import as_number, exact, quantity_problem

log = logging.getLogger(__name__)

NATIVE_FIELDS = frozenset({"ma_hoa_don", "items"})
NATIVE_ITEM_FIELDS = frozenset({"line", "ma_thuoc", "so_luong_ban", "packs"})


class Dispensing:
    """A pharmacy's dispenses, checked against the ``catalog`` (substitutes, packs) and the
    ``settings``; ``audit_event`` prepares the ``prescription.dispensed`` event written with
    each."""

    def __init__(self, store: PrescriptionStore, *, catalog: Catalog, settings: Settings,
                 audit_event: AuditEvent,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.catalog = catalog
        self.settings = settings
        self.audit_event = audit_event
        self.clock = clock

    def dispense(self, code: str, party: Party, body: Mapping[str, Any], *,
                 dispense_id: str | None = None) -> tuple[StoredPrescription, Dispense]:
        """Record a (partial) dispense by ``party``; returns ``(stored, dispense)``.

        ``dispense_id`` (derived from an Idempotency-Key and the prescription, see
        :func:`dispense_id_for`) makes a retry complete or return the same dispense instead of
        adding a second one. The pharmacy is ``party`` alone: its name, address and phone in
        the national report come from its party record, never from a request.

        Raises:
            NotFound. Forbidden: a non-pharmacy. NotNominated: under binding nomination.
            NotDispensable: cancelled, expired or fully dispensed. OverQuantity: a line would
                exceed what was prescribed. SerialReused: a pack was dispensed before.
            DispenseLimit: past ``RX_MAX_DISPENSES``. PharmacyContactMissing: production,
                a pharmacy without address or phone. Invalid: every content problem.
        """
        if party.role != Role.PHARMACY:
            raise Forbidden("only a pharmacy dispenses")
        if not party.reachable:
            if self.settings.require_pharmacy_contact:
                raise PharmacyContactMissing(party.client_id)
            log.warning("pharmacy %s has no address or phone: its national dispense report will "
                        "carry them empty (development)", party.client_id)
        dispense_id = dispense_id or secrets.token_hex(12)
        stored = self.store.require(code)
        code = stored["_id"]  # as stored, whatever was typed
        for existing in stored["dispenses"]:
            if existing["id"] == dispense_id:
                return stored, existing
        warnings = self._check_nomination(stored, party)
        now = self.clock()
        items, packs = self._check_dispense_body(stored, body, now)
        dispense: Dispense = {"id": dispense_id, "pharmacy": party.code, "by": party.client_id,
                              "ma_hoa_don": body.get("ma_hoa_don"), "at": now, "items": items,
                              "packs": [pack["_id"] for pack in packs]}
        if warnings:
            dispense["warnings"] = warnings
        self._reserve_packs(packs, code, dispense_id, now)
        try:
            return self._apply_dispense(code, dispense, stored), dispense
        except BaseException:
            if packs:
                self.store.release_packs([p["_id"] for p in packs], dispense_id)
            raise

    def _apply_dispense(self, code: str, dispense: Dispense,
                        stored: StoredPrescription) -> StoredPrescription:
        """Apply ``dispense`` to the version in ``stored``; on a lost race re-read and retry."""
        for attempt in range(self.settings.cas_attempts):
            if attempt:
                stored = self.store.require(code)
            if any(existing["id"] == dispense["id"] for existing in stored["dispenses"]):
                return stored
            self._check_dispensable(stored)
            self._check_dispense_count(stored)
            totals = {line["index"]: exact(line["dispensed"]) for line in stored["lines"]}
            wanted: dict[int, Decimal] = {}
            for item in dispense["items"]:
                wanted[item["line"]] = wanted.get(item["line"], Decimal(0)) + exact(item["so_luong_ban"])
            over = self._over_quantity(stored, enumerate(dispense["items"]))
            if over:
                raise OverQuantity(errors=over)
            # exact sums, set under the version check (never a float $inc that drifts)
            new_totals = {index: totals[index] + wanted.get(index, Decimal(0)) for index in totals}
            complete = all(new_totals[line["index"]] >= exact(line["prescribed"])
                           for line in stored["lines"])
            now = dispense["at"]
            entries = outbox.deliveries_for_dispense(stored, dispense, now)
            status = Status.DISPENSED if complete else Status.PARTIALLY_DISPENSED
            dispensed = {index: as_number(new_totals[index]) for index in wanted}
            details: dict[str, Any] = {"dispense": dispense["id"]}
            if dispense.get("warnings"):
                details["warnings"] = sorted({item["code"] for item in dispense["warnings"]})
            event = self.audit_event("prescription.dispensed", stored, details=details)
            if self.store.record_dispense(code, stored["version"], dispense=dispense,
                                          status=status, dispensed=dispensed,
                                          deliveries=entries, audit_events=[event], now=now):
                # What the update made of the version read: no read-back round trip.
                return {**stored, "version": stored["version"] + 1, "status": status,
                        "lines": [{**line, "dispensed": dispensed.get(index, line["dispensed"])}
                                  for index, line in enumerate(stored["lines"])],
                        "dispenses": [*stored["dispenses"], dispense],
                        "deliveries": [*(stored.get("deliveries") or []), *entries],
                        "forward_due_at": now, "forward_open": True}
        raise Unavailable("the prescription is changing too fast; retry")

    def _check_nomination(self, stored: Mapping[str, Any], party: Party) -> list[Issue]:
        """The warnings of a dispense by another pharmacy than the nominated one (advisory),
        or Forbidden (binding)."""
        nominated = stored.get("nominated_pharmacy")
        if not nominated or pharmacy_key(str(nominated)) == pharmacy_key(party.code):
            return []
        if self.settings.nomination == "binding":
            raise NotNominated(stored["_id"], nominated)
        return [cast(Issue, error_item(
            "/ma_don_thuoc", "dispense.not_nominated",
            f"Đơn thuốc chỉ định nhà thuốc {nominated}, không phải nhà thuốc này"))]

    def _check_dispense_count(self, stored: Mapping[str, Any]) -> None:
        if len(stored["dispenses"]) >= self.settings.max_dispenses:
            raise DispenseLimit(stored["_id"], count=len(stored["dispenses"]),
                                limit=self.settings.max_dispenses)

    def _check_dispensable(self, stored: Mapping[str, Any]) -> None:
        status = effective_status(stored, self.clock())
        if status not in DISPENSABLE:
            raise NotDispensable(stored["_id"], status, state_message(status))

    def _check_dispense_body(self, stored: Mapping[str, Any], body: Mapping[str, Any],
                             now: datetime) -> tuple[list[DispenseItem], list[dict[str, Any]]]:
        self._check_dispensable(stored)
        self._check_dispense_count(stored)
        errors: list[dict[str, str]] = []
        invoice = body.get("ma_hoa_don")
        if invoice is not None and (not isinstance(invoice, str) or len(invoice) > 20):
            errors.append(error_item("/ma_hoa_don", "dispense.invoice",
                                     "Mã hóa đơn là chuỗi tối đa 20 ký tự"))
        raw_items, no_items = sold_items(body.get("items"), "/items")
        if no_items:
            raise Invalid(errors=errors + no_items)
        if len(raw_items) > len(stored["lines"]):
            errors.append(error_item("/items", "dispense.items_limit",
                                     f"Tối đa {len(stored['lines'])} dòng thuốc bán (một dòng cho "
                                     "mỗi thuốc của đơn)"))
            raise Invalid(errors=errors)
        scanned = sum(len(raw["packs"]) for raw in raw_items
                      if isinstance(raw, dict) and isinstance(raw.get("packs"), list))
        if scanned > self.settings.max_packs_per_dispense:
            errors.append(error_item("/items", "dispense.packs_limit",
                                     f"Tối đa {self.settings.max_packs_per_dispense} hộp thuốc được "
                                     f"quét trong một lần bán (nhận {scanned})"))
            raise Invalid(errors=errors)
        errors += unknown_fields(body, NATIVE_FIELDS)
        items: list[DispenseItem] = []
        packs: list[dict[str, Any]] = []
        seen_packs: set[str] = set()
        today = now.astimezone(self.settings.timezone).date()
        for position, raw in enumerate(raw_items):
            pointer = f"/items/{position}"
            item_errors = len(errors)
            errors += item_problems(raw, pointer, NATIVE_ITEM_FIELDS)
            if not isinstance(raw, dict):
                continue
            line_index = raw.get("line")
            if not isinstance(line_index, int) or isinstance(line_index, bool):
                errors.append({**error_item(f"{pointer}/line", "dispense.line",
                                            "Số thứ tự dòng thuốc phải là số nguyên (dòng đầu "
                                            "tiên là 0)"),
                               "_en": "must be an integer (the first line is 0)"})
                continue
            if not 0 <= line_index < len(stored["lines"]):
                last = len(stored["lines"]) - 1
                errors.append({**error_item(f"{pointer}/line", "dispense.line",
                                            f"Số thứ tự dòng thuốc phải từ 0 đến {last} (dòng "
                                            f"đầu tiên là 0)"),
                               "_en": f"must be from 0 to {last} (the first line is 0)"})
                continue
            line = stored["lines"][line_index]
            prescribed = self.catalog.resolve(line["ma_thuoc"])
            quantity: Any = raw.get("so_luong_ban")  # a number once quantity_problem passes
            unit = prescribed.unit or line.get("unit") or ""
            problem = quantity_problem(quantity, measured=fold_phrase(unit) in self.settings.measured_units,
                                       decimals=self.settings.quantity_decimals,
                                       maximum=self.settings.quantity_max)
            if problem:
                errors.append(error_item(f"{pointer}/so_luong_ban", "dispense.quantity",
                                         f"{problem} ({unit})" if unit else problem))
            else:
                quantity = as_number(exact(quantity))
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
                    errors.append({**error_item(
                        f"{pointer}/ma_thuoc", "drug.unknown",
                        f"Mã thuốc không có trong danh mục ({catalog_reason_in_vietnamese(str(exc))})"),
                        "_en": f"the drug code is not in the catalog ({exc})"})
                    continue
            if product.national_code != prescribed.national_code:
                if ControlClass.NARCOTIC in (prescribed.control_class, product.control_class):
                    errors.append(error_item(f"{pointer}/ma_thuoc", "dispense.substitution",
                                             "Không được thay thế thuốc gây nghiện"))
                elif not product.same_composition(prescribed):
                    errors.append(error_item(
                        f"{pointer}/ma_thuoc", "dispense.substitution",
                        "Thuốc thay thế phải cùng hoạt chất, hàm lượng và dạng bào chế"))
            if not product.is_active(today):
                reason = product.inactive_reason(today) or ""
                errors.append({**error_item(
                    f"{pointer}/ma_thuoc", "dispense.product_inactive",
                    f"Thuốc không còn lưu hành ({catalog_reason_in_vietnamese(reason)})"),
                    "_en": f"the product is no longer marketed ({reason})"})
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
                    errors.append({**error_item(
                        pack_pointer, "dispense.pack_invalid",
                        f"Mã GS1 không hợp lệ: {catalog_reason_in_vietnamese(exc.reason)}"),
                        "_en": f"not a valid GS1 code: {exc.reason}"})
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
            # Every problem at once: a line over what remains is said with the others (alone,
            # it is the 409 of the update, checked again there against the latest version).
            # (Not for a quantity refused already: one problem for one field.)
            said = {item["pointer"] for item in errors}
            errors += self._over_quantity(stored, (
                (position, raw) for position, raw in enumerate(raw_items)
                if f"/items/{position}/so_luong_ban" not in said))
            raise Invalid(errors=errors)
        return items, packs

    @staticmethod
    def _over_quantity(stored: Mapping[str, Any],
                       items: Iterable[tuple[int, Any]]) -> list[dict[str, str]]:
        """``dispense.over_quantity`` for each of the ``(position, item)`` whose line would
        pass what was prescribed; items without a valid line or quantity are skipped."""
        lines = stored["lines"]
        valid = [(position, item) for position, item in items
                 if isinstance(item, Mapping) and type(item.get("line")) is int
                 and 0 <= item["line"] < len(lines)
                 and type(item.get("so_luong_ban")) in (int, float)
                 and item["so_luong_ban"] > 0]
        wanted: dict[int, Decimal] = {}
        for _, item in valid:
            wanted[item["line"]] = wanted.get(item["line"], Decimal(0)) + exact(item["so_luong_ban"])
        over = []
        for position, item in valid:
            line = lines[item["line"]]
            done = exact(line["dispensed"])
            if done + wanted[item["line"]] > exact(line["prescribed"]):
                over.append(error_item(
                    f"/items/{position}/so_luong_ban", "dispense.over_quantity",
                    f"Vượt số lượng kê đơn: còn lại {as_number(exact(line['prescribed']) - done)}"))
        return over

    def line_for(self, stored: StoredPrescription, identifier: Any) -> int | None:
        """The index of the line of ``stored`` that ``identifier`` names: the line's national
        code, the identifier the prescriber sent, or any identifier of the same product in the
        catalog; ``None`` when no line matches (a report that names its lines by drug)."""
        if not isinstance(identifier, str):
            return None
        for line, submitted in zip(stored["lines"], stored["document"]["thong_tin_don_thuoc"],
                                   strict=True):
            if identifier in (line["ma_thuoc"], line.get("submitted_ma_thuoc"),
                              submitted.get("ma_thuoc")):
                return line["index"]
        try:
            national_code = self.catalog.resolve(identifier).national_code
        except CatalogError:  # an unknown identifier simply matches no line
            return None
        return next((line["index"] for line in stored["lines"]
                     if line["ma_thuoc"] == national_code), None)

    def dispense_problems(self, stored: Mapping[str, Any],
                          body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every problem ``body`` would be refused for against ``stored``, without recording
        anything (a form reports them with its own, all at once)."""
        if not body.get("items"):
            return []
        try:
            self._check_dispense_body(stored, body, self.clock())
        except (Invalid, Conflict) as exc:
            return list(exc.errors)
        return self._over_quantity(stored, enumerate(body["items"]))

    def _reserve_packs(self, packs: list[dict[str, Any]], code: str, dispense_id: str,
                       now: datetime) -> None:
        """Insert one ``dispensed_packs`` document per serialised pack, or refuse them all.

        A reservation whose dispense never reached its prescription (the process died in
        between) is taken over after ``pack_reservation_grace``.
        """
        reserved: list[str] = []
        reused: list[dict[str, str]] = []
        for pack in packs:
            record: PackRecord = {"_id": pack["_id"], "gtin": pack["gtin"],
                                  "serial": pack["serial"], "batch": pack["batch"],
                                  "expiry": pack["expiry"], "prescription": code,
                                  "dispense": dispense_id, "at": now}
            if self.store.reserve_pack(record):
                reserved.append(pack["_id"])
                continue
            holder = self.store.pack_holder(pack["_id"])
            if (holder is not None and holder["dispense"] == dispense_id
                    and holder["prescription"] == code):
                reserved.append(pack["_id"])  # our own earlier attempt
                continue
            if (holder is not None and self._orphaned(holder, now)
                    and self.store.take_over_pack(pack["_id"], holder["dispense"], record)):
                reserved.append(pack["_id"])
                continue
            reused.append(error_item(pack["pointer"], "dispense.serial_reused",
                                     "Hộp thuốc (GTIN + số sê-ri) đã được bán trước đó"))
        if reused:
            if reserved:
                self.store.release_packs(reserved, dispense_id)
            raise SerialReused(errors=reused)

    def _orphaned(self, holder: PackRecord, now: datetime) -> bool:
        if now - holder["at"] < self.settings.pack_reservation_grace:
            return False
        return not self.store.has_dispense(holder["prescription"], holder["dispense"])


def unknown_fields(given: Iterable[str], known: Collection[str],
                   pointer: str = "") -> list[dict[str, str]]:
    """``dispense.unknown_field`` for each name of ``given`` outside ``known``, in name order,
    under ``pointer`` (a report's own field names: the native body's or a face's)."""
    return [error_item(f"{pointer}/{name}", "dispense.unknown_field",
                       f"Trường không được hỗ trợ: {name}")
            for name in sorted(set(given) - set(known))]


def sold_items(items: Any, pointer: str) -> tuple[list[Any], list[dict[str, str]]]:
    """A report's list of sold items (at ``pointer``) and its problem: ``dispense.items_required``
    unless it is a non-empty list (then no items)."""
    if isinstance(items, list) and items:
        return items, []
    return [], [error_item(pointer, "dispense.items_required", "Cần ít nhất một dòng thuốc bán")]


def item_problems(item: Any, pointer: str, known: Collection[str]) -> list[dict[str, str]]:
    """The shape problems of one sold item at ``pointer``: not an object (``dispense.item``),
    or its fields outside ``known``."""
    if not isinstance(item, dict):
        return [error_item(pointer, "dispense.item", "Dòng thuốc bán phải là đối tượng")]
    return unknown_fields(item, known, pointer)


def dispense_id_for(party: Party, code: str, idempotency_key: str) -> str:
    """A dispense id that is the same for every retry of one idempotent request: the party,
    the prescription and the key, so one key reused on another prescription is another
    dispense (and cannot claim the first one's packs)."""
    material = "\x1f".join((party.client_id, code, idempotency_key))
    return hashlib.sha256(material.encode()).hexdigest()[:24]
