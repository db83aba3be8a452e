"""The prescription lifecycle: submit, read, list, cancel, and (through
:class:`gateway.prescriptions.dispensing.Dispensing`) dispense. No HTTP here.

The stored document (one per prescription, see :mod:`gateway.prescriptions.store`)::

    {_id: ma_don_thuoc, facility, issuer, issuer_role, status, version,
     document: {...canonical national document...}, content_sha256,
     signature: {alg, kid, jws}, warnings: [...],
     lines: [{index, ma_thuoc (national code), submitted_ma_thuoc, prescribed, dispensed,
              unit, control_class, ingredients}],
     dispenses: [{id, pharmacy, ma_hoa_don, at, items: [...], packs: [...]}],
     cancellation: {at, by, ly_do} | None, patient: <keyed hash of the CCCD> | None,
     issued_at, dispensable_until, nominated_pharmacy, viewed_by_pharmacies: [...],
     deliveries: [...], forward_due_at, forward_lease_until, forward_lease_owner}

Every state change is ONE conditional update of that document: it names the ``version`` it
read and increments it, so two pharmacies dispensing the last units at the same moment cannot
both succeed (the loser re-reads and is refused). The outbox entries of a change are part of
the same update (gateway/prescriptions/outbox.py). A pack serial is unique system-wide through the unique
``_id`` of ``dispensed_packs`` (see :meth:`Dispensing.dispense`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from drug_catalog.catalog import Catalog
from gateway.core.errors import Conflict, Forbidden, Unavailable, bad_parameter, error_item
from gateway.parties.model import Party
from gateway.prescriptions import audit_outbox, outbox
from gateway.prescriptions.audit_outbox import PrescriptionAuditOutbox
from gateway.prescriptions.dispensing import AuditEvent, Dispensing
from gateway.prescriptions.model import (
    CANCELLED,
    DISPENSABLE,
    EXPIRED,
    ISSUED,
    PRESCRIBERS,
    STATUSES,
    Refused,
    Settings,
    Submitted,
    Validated,
    state_message,
)
from gateway.prescriptions.overlaps import Findings, OverlapCheck
from gateway.prescriptions.store import PrescriptionStore
from gateway.signatures.qr import QrClaim, is_qr_text


class Lifecycle(Dispensing):
    """The operations on prescriptions, over their store.

    ``validate(raw, facility_code, now)`` returns a :class:`Validated`; ``sign(document)``
    returns the content's SHA-256 and the gateway signature ``{"alg", "kid", "jws"}`` (one canonical form for both);
    ``patient_key(cccd)`` the keyed hash stored for patient queries; ``overlaps`` the
    cross-facility check of a valid submission (gateway/prescriptions/overlaps.py; None: none);
    ``read_qr(text)`` the claim of a printed QR code
    (:meth:`gateway.signatures.qr.PrescriptionQr.read`; None: QR text is looked up as a code);
    ``audit_event(action, stored, details=...)`` a prepared audit event about a prescription
    (:meth:`gateway.audit.log.AuditLog.prepare`), which each operation that changes the
    prescription writes inside its own update (gateway/prescriptions/audit_outbox.py), and a
    read or a print queues with ``audit_queue(event)`` (:meth:`AuditLog.store`); None: none.
    """

    def __init__(self, store: PrescriptionStore, *, catalog: Catalog,
                 validate: Callable[[Mapping[str, Any], str | None, datetime], Validated],
                 sign: Callable[[Mapping[str, Any]], tuple[str, dict[str, str]]],
                 dispensable_until: Callable[[Mapping[str, Any], datetime], datetime],
                 patient_key: Callable[[str], str],
                 settings: Settings, overlaps: OverlapCheck | None = None,
                 read_qr: Callable[[str], QrClaim] | None = None,
                 audit_event: AuditEvent | None = None,
                 audit_outbox: PrescriptionAuditOutbox | None = None,
                 audit_queue: Callable[[dict[str, Any]], Any] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.catalog = catalog
        self.validate = validate
        self.sign = sign
        self.dispensable_until = dispensable_until
        self.patient_key = patient_key
        self.read_qr = read_qr
        self.settings = settings
        self.overlaps = overlaps
        self.audit_event = audit_event
        self.audit_outbox = audit_outbox
        self.audit_queue = audit_queue
        self.clock = clock

    # --- submit ------------------------------------------------------------------------
    def submit(self, raw: Mapping[str, Any], party: Party) -> Submitted:
        """Validate, check against the person's other prescriptions, sign and store a
        prescription of ``party``'s facility.

        An existing ``ma_don_thuoc`` with the same content returns the stored prescription
        (``created`` False); with different content it is a 409. Overlaps with the person's
        other prescriptions (gateway/prescriptions/overlaps.py) are errors or warnings by
        their severity, and are recorded either way.

        Raises:
            Refused: the document breaks rules (all of them listed), or overlaps another
                prescription at error severity (``control.overlap``).
            Forbidden: a party that does not prescribe. Conflict: as above.
        """
        if party.role not in PRESCRIBERS or not party.facility:
            raise Forbidden("only a clinic or a doctor of a facility prescribes")
        now = self.clock()
        validated = self.validate(raw, party.facility, now)
        document, warnings = validated.document, validated.warnings
        if validated.errors or document is None:
            raise Refused(validated.errors, warnings)
        lines = self._lines(document)
        cccd = document.get("ma_dinh_danh_cong_dan")
        patient = self.patient_key(cccd) if cccd else None
        # Checked and, for n and h, the person's days claimed: an overlapping submission at
        # the same moment is decided after this one (gateway/prescriptions/overlaps.py).
        findings = (self.overlaps.decide(document, lines, patient, party)
                    if self.overlaps is not None else Findings())
        if findings.errors:
            # A retry of a prescription stored before is answered as such, not refused by
            # what was prescribed since.
            existing = self.store.get(document["ma_don_thuoc"])
            if existing is not None:
                return self._resubmitted(existing, self.sign(document)[0], party)
            self._record_overlaps(findings, document, party, patient, accepted=False, now=now)
            raise Refused(findings.errors, warnings + findings.warnings)
        content_sha256, signature = self.sign(document)
        stored = self._new_document(document, lines, content_sha256, signature,
                                    warnings + findings.warnings, party, patient, now)
        stored["prescriber_signature"] = validated.prescriber_signature
        stored.update(audit_outbox.initial_fields(
            self._audit_events("prescription.submitted", stored)))
        if self._insert_claimed(stored, findings):
            if findings.after_insert:
                findings = self._check_stored(stored, lines, patient, party)
            self._record_overlaps(findings, document, party, patient, accepted=True, now=now)
            return Submitted(stored, created=True)
        # The code exists: the same prescription again, or a clash.
        existing = self.store.get(document["ma_don_thuoc"])
        if existing is None:  # deleted in between: nothing in this system deletes one
            raise Unavailable("the prescription changed while it was stored; retry")
        return self._resubmitted(existing, content_sha256, party)

    def _insert_claimed(self, stored: dict[str, Any], findings: Findings) -> bool:
        """Insert a new prescription under the claim its check took (if any); the claim is
        given up when nothing was stored."""
        if self.overlaps is None:
            return self.store.insert(stored)
        self.overlaps.confirm(findings)
        created = False
        try:
            created = self.store.insert(stored)
        finally:
            if not created:
                self.overlaps.release(findings)
        return created

    def _check_stored(self, stored: dict[str, Any], lines: list[dict[str, Any]],
                      patient: str | None, party: Party) -> Findings:
        """The check of a prescription that can only be warned (``c``), once stored: its
        warnings are added to it and to the answer."""
        if self.overlaps is None:
            return Findings()
        findings = self.overlaps.check(stored["document"], lines, patient, party)
        if findings.warnings:
            self.store.add_warnings(stored["_id"], findings.warnings)
            stored["warnings"] = [*stored["warnings"], *findings.warnings]
            stored["version"] += 1
        return findings

    def _record_overlaps(self, findings: Findings, document: dict[str, Any], party: Party,
                         patient: str | None, *, accepted: bool, now: datetime) -> None:
        if self.overlaps is not None and patient is not None:
            self.overlaps.record(findings, document=document, party=party, patient=patient,
                                 accepted=accepted, at=now)

    def _resubmitted(self, existing: dict[str, Any], content_sha256: str,
                     party: Party) -> Submitted:
        if existing["facility"] != party.facility or existing["content_sha256"] != content_sha256:
            raise Conflict(slug="prescription-exists",
                           title="This prescription code exists with other content",
                           detail=f"{existing['_id']} was submitted before with different "
                                  "content; a prescription cannot be changed, only cancelled",
                           errors=[error_item("/ma_don_thuoc", "rx.code_exists",
                                              "Mã đơn thuốc đã tồn tại với nội dung khác")])
        return Submitted(existing, created=False)

    def _lines(self, document: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The stored lines of a valid document (its drugs resolved in the catalog)."""
        lines = []
        for index, line in enumerate(document["thong_tin_don_thuoc"]):
            drug = self.catalog.resolve(line["national_code"])
            lines.append({"index": index, "ma_thuoc": drug.national_code,
                          "submitted_ma_thuoc": line["ma_thuoc"],
                          "prescribed": line["so_luong"], "dispensed": 0,
                          "unit": line.get("don_vi_tinh"), "control_class": drug.control_class,
                          "ingredients": sorted(drug.ingredient_keys())})
        return lines

    def _new_document(self, document: dict[str, Any], lines: list[dict[str, Any]],
                      content_sha256: str, signature: dict[str, str],
                      warnings: list[dict[str, str]], party: Party, patient: str | None,
                      now: datetime) -> dict[str, Any]:
        stored: dict[str, Any] = {
            "_id": document["ma_don_thuoc"], "facility": party.facility,
            "issuer": party.client_id, "issuer_role": party.role, "status": ISSUED,
            "version": 1, "document": document, "content_sha256": content_sha256,
            "signature": signature, "warnings": warnings, "lines": lines,
            "dispenses": [], "cancellation": None,
            "patient": patient,
            "issued_at": now, "dispensable_until": self.dispensable_until(document, now),
            "nominated_pharmacy": document.get("ma_co_so_cung_ung_thuoc_chi_dinh") or None,
            "viewed_by_pharmacies": [],
        }
        stored.update(outbox.initial_fields(outbox.deliveries_for_issue(stored, now), now))
        return stored

    # --- read --------------------------------------------------------------------------
    def lookup(self, code_or_qr: str) -> tuple[dict[str, Any], QrClaim | None]:
        """The prescription a code, or the text of its printed QR code, names; with the QR's
        claim when it was one.

        Raises:
            NotFound: no such prescription.
            Invalid: QR text that is not a genuine prescription QR (``qr.unreadable``,
                ``qr.forged``, ``qr.not_prescription``).
            Conflict: ``qr.content_changed``: a genuine QR whose prescription no longer has
                the content it was printed with.
        """
        if self.read_qr is None or not is_qr_text(code_or_qr):
            return self.get(code_or_qr), None
        claim = self.read_qr(code_or_qr)
        stored = self.get(claim.code)
        if stored["content_sha256"] != claim.sha256:
            item = error_item("", "qr.content_changed",
                              "Nội dung đơn thuốc trên cổng khác với bản đã in: mã QR không còn "
                              "khớp, hãy liên hệ cơ sở kê đơn")
            item["parameter"] = "ma_don_thuoc"
            raise Conflict(f"{claim.code} no longer has the content its printed QR code was "
                           "signed for", slug="qr-content-changed",
                           title="The prescription changed since it was printed", errors=[item],
                           ma_don_thuoc=claim.code)
        return stored, claim

    def authorize_read(self, stored: Mapping[str, Any], party: Party) -> None:
        """Object-level access: the issuing facility's clinic and doctors, any pharmacy (by
        exact code), regulators. Raises: Forbidden."""
        if party.role == "regulator" or party.role == "pharmacy":
            return
        if party.role in PRESCRIBERS and party.facility == stored["facility"]:
            return
        raise Forbidden("this prescription belongs to another facility")

    def note_pharmacy_view(self, stored: Mapping[str, Any], party: Party) -> None:
        """Remember that a pharmacy looked the prescription up (it is told of a cancellation)."""
        if party.role == "pharmacy" and party.code not in stored.get("viewed_by_pharmacies", []):
            self.store.note_viewer(stored["_id"], party.code)

    def note_view(self, stored: Mapping[str, Any], party: Party,
                  details: Mapping[str, Any] | None = None) -> None:
        """``prescription.viewed`` by ``party``: ONE write. A pharmacy's first look is
        remembered in the prescription (it is told of a cancellation) by an update that also
        carries the event; any other read queues the event (an insert into a small collection
        costs the database far less than rewriting the prescription)."""
        first_look = (party.role == "pharmacy"
                      and party.code not in stored.get("viewed_by_pharmacies", []))
        events = self._audit_events("prescription.viewed", stored, details=details)
        if first_look:
            if self.audit_outbox is None:
                self.store.note_viewer(stored["_id"], party.code)
            else:
                self.audit_outbox.record(stored["_id"], events, viewer=party.code)
            return
        self._queue(events)

    def note_event(self, stored: Mapping[str, Any], action: str,
                   details: Mapping[str, Any] | None = None) -> None:
        """Record an audit event about the prescription that changes nothing in it
        (``prescription.printed``): one insert into the audit queue."""
        self._queue(self._audit_events(action, stored, details=details))

    def _queue(self, events: list[dict[str, Any]]) -> None:
        if self.audit_queue is not None:
            for event in events:
                self.audit_queue(event)

    # --- list --------------------------------------------------------------------------
    def list(self, party: Party, *, facility: str | None, status: str | None,
             issued_from: datetime | None, issued_to: datetime | None,
             patient: str | None, cursor: str | None, limit: int) -> tuple[list[dict], str | None]:
        """A page of prescriptions, newest first, and the cursor of the next page.

        Raises:
            Forbidden: a pharmacy, or a clinic asking for another facility.
            Invalid: a malformed cursor or status.
        """
        if party.role in PRESCRIBERS:
            if facility is not None and facility != party.facility:
                raise Forbidden("a clinic lists its own facility's prescriptions only")
            facility = party.facility
        elif party.role != "regulator":
            raise Forbidden("pharmacies read prescriptions by exact code only")
        query: dict[str, Any] = {}
        if facility is not None:
            query["facility"] = facility
        now = self.clock()
        if status is not None:
            if status not in STATUSES:
                raise bad_parameter("status", f"one of {', '.join(STATUSES)}",
                                    f"Phải là một trong: {', '.join(STATUSES)}")
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
        found = self.store.find_page(query, limit + 1)
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
            NotFound. Forbidden: another facility or role. Conflict: fully dispensed or
                already cancelled.
        """
        if party.role not in PRESCRIBERS:
            raise Forbidden("only the issuing facility cancels a prescription")
        for _ in range(self.settings.cas_attempts):
            stored = self.get(code)
            if stored["facility"] != party.facility:
                raise Forbidden("this prescription belongs to another facility")
            if stored["status"] not in DISPENSABLE:
                raise Conflict(slug="not-cancellable",
                               title="The prescription cannot be cancelled",
                               detail=f"it is {stored['status']}",
                               errors=[error_item("/status", "rx.state",
                                                  state_message(stored["status"]))])
            now = self.clock()
            entries = outbox.deliveries_for_cancel(stored, now)
            cancellation = {"at": now, "by": party.client_id, "ly_do": reason}
            events = self._audit_events("prescription.cancelled", stored)
            update = outbox.merge_updates(
                {"$set": {"status": CANCELLED, "cancellation": cancellation},
                 "$inc": {"version": 1}},
                outbox.outbox_update(entries, now), audit_outbox.audit_update(events))
            if self.store.compare_and_set(code, stored["version"], update):
                # What the update made of the version read: no read-back round trip.
                return {**stored, "status": CANCELLED, "cancellation": cancellation,
                        "version": stored["version"] + 1,
                        "deliveries": [*(stored.get("deliveries") or []), *entries],
                        "forward_due_at": now, "forward_open": True}
        raise Unavailable("the prescription is changing too fast; retry")


def _encode_cursor(issued_at: datetime, code: str) -> str:
    raw = json.dumps([issued_at.astimezone(UTC).isoformat(), code]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        issued_at, code = json.loads(raw)
        return datetime.fromisoformat(issued_at), str(code)
    except (ValueError, TypeError):
        raise bad_parameter("cursor", "a next_cursor value from a previous page",
                            "Phải là next_cursor của trang trước") from None
