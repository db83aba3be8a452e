"""Submitting a prescription: validate, check it against the person's other prescriptions,
sign and store it with its deliveries and its audit event, in ONE insert. No HTTP here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from drug_catalog.catalog import Catalog
from drug_catalog.model import ControlClass
from gateway.core.errors import Forbidden, PrescriptionExists, Refused, Unavailable
from gateway.parties.model import Party, Role
from gateway.prescriptions import audit_outbox_store, outbox
from gateway.prescriptions.model import (
    PRESCRIBERS,
    AuditEvent,
    Issue,
    Line,
    Signature,
    Status,
    StoredPrescription,
    Submitted,
    Validated,
)
from gateway.prescriptions.overlaps import Findings, OverlapCheck
from gateway.prescriptions.store import PrescriptionStore

#: (raw body, the submitter's facility, now) -> what validation says of it
Validate = Callable[[Mapping[str, Any], str | None, datetime], Validated]
#: the canonical document -> its content's SHA-256 and the gateway signature (one canonical
#: form for both)
Sign = Callable[[Mapping[str, Any]], tuple[str, Signature]]


class Submission:
    """``validate`` and ``sign`` as above; ``dispensable_until(document, now)`` the end of the
    dispensing window (schemas.validation); ``patient_key(cccd)`` the keyed hash stored for
    patient queries; ``overlaps`` the cross-facility check (gateway/prescriptions/overlaps.py);
    ``audit_event`` prepares the ``prescription.submitted`` event inserted with it."""

    def __init__(self, store: PrescriptionStore, *, catalog: Catalog, validate: Validate,
                 sign: Sign, dispensable_until: Callable[[Mapping[str, Any], datetime], datetime],
                 patient_key: Callable[[str], str], overlaps: OverlapCheck,
                 audit_event: AuditEvent,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.catalog = catalog
        self.validate = validate
        self.sign = sign
        self.dispensable_until = dispensable_until
        self.patient_key = patient_key
        self.overlaps = overlaps
        self.audit_event = audit_event
        self.clock = clock

    def submit(self, raw: Mapping[str, Any], party: Party) -> Submitted:
        """Validate, check against the person's other prescriptions, sign and store a
        prescription of ``party``'s facility.

        An existing ``ma_don_thuoc`` with the same content returns the stored prescription
        (``created`` False). Overlaps with the person's other prescriptions
        (gateway/prescriptions/overlaps.py) are errors or warnings by their severity, and are
        recorded either way.

        Raises:
            Refused: the document breaks rules (all of them listed), or overlaps another
                prescription at error severity (``control.overlap``).
            Forbidden: a party that does not prescribe.
            PrescriptionExists: the code holds other content, or another facility's.
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
        findings = self.overlaps.decide(document, lines, patient, party)
        if findings.errors:
            # A retry of a prescription stored before is answered as such, not refused by
            # what was prescribed since.
            existing = self.store.get(document["ma_don_thuoc"])
            if existing is not None:
                return self._resubmitted(existing, self.sign(document)[0], party)
            self._record_overlaps(findings, document, party, patient, accepted=False, now=now)
            raise Refused(findings.errors, [*warnings, *findings.warnings])
        content_sha256, signature = self.sign(document)
        stored = self._new_document(document, lines, content_sha256, signature,
                                    [*warnings, *cast(list[Issue], findings.warnings)], party,
                                    patient, now,
                                    prescriber_signature=validated.prescriber_signature)
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

    def _insert_claimed(self, stored: StoredPrescription, findings: Findings) -> bool:
        """Insert a new prescription under the claim its check took (if any); the claim is
        given up when nothing was stored."""
        self.overlaps.confirm(findings)
        created = False
        try:
            created = self.store.insert(stored)
        finally:
            if not created:
                self.overlaps.release(findings)
        return created

    def _check_stored(self, stored: StoredPrescription, lines: list[Line],
                      patient: str | None, party: Party) -> Findings:
        """The check of a prescription that can only be warned (``c``), once stored: its
        warnings are added to it and to the answer."""
        findings = self.overlaps.check(stored["document"], lines, patient, party)
        if findings.warnings:
            self.store.add_warnings(stored["_id"], findings.warnings)
            stored["warnings"] = [*stored["warnings"], *cast(list[Issue], findings.warnings)]
            stored["version"] += 1
        return findings

    def _record_overlaps(self, findings: Findings, document: dict[str, Any], party: Party,
                         patient: str | None, *, accepted: bool, now: datetime) -> None:
        if patient is not None:
            self.overlaps.record(findings, document=document, party=party, patient=patient,
                                 accepted=accepted, at=now)

    def _resubmitted(self, existing: StoredPrescription, content_sha256: str,
                     party: Party) -> Submitted:
        if existing["facility"] != party.facility or existing["content_sha256"] != content_sha256:
            raise PrescriptionExists(existing["_id"])
        return Submitted(existing, created=False)

    def _lines(self, document: Mapping[str, Any]) -> list[Line]:
        """The stored lines of a valid document (its drugs resolved in the catalog)."""
        lines: list[Line] = []
        for index, line in enumerate(document["thong_tin_don_thuoc"]):
            drug = self.catalog.resolve(line["national_code"])
            lines.append({"index": index, "ma_thuoc": drug.national_code,
                          "submitted_ma_thuoc": line["ma_thuoc"],
                          "prescribed": line["so_luong"], "dispensed": 0,
                          "unit": line.get("don_vi_tinh"), "control_class": ControlClass(drug.control_class),
                          "ingredients": sorted(drug.ingredient_keys())})
        return lines

    def _new_document(self, document: dict[str, Any], lines: list[Line],
                      content_sha256: str, signature: Signature, warnings: list[Issue],
                      party: Party, patient: str | None, now: datetime, *,
                      prescriber_signature: str) -> StoredPrescription:
        stored: dict[str, Any] = {
            "_id": document["ma_don_thuoc"], "facility": party.facility,
            "issuer": party.client_id, "issuer_role": Role(party.role), "status": Status.ISSUED,
            "version": 1, "document": document, "content_sha256": content_sha256,
            "signature": signature, "warnings": warnings, "lines": lines,
            "dispenses": [], "cancellation": None,
            "patient": patient,
            "issued_at": now, "dispensable_until": self.dispensable_until(document, now),
            "nominated_pharmacy": document.get("ma_co_so_cung_ung_thuoc_chi_dinh") or None,
            "viewed_by_pharmacies": [],
        }
        stored.update(outbox.initial_fields(outbox.deliveries_for_issue(stored, now), now))
        stored["prescriber_signature"] = prescriber_signature
        stored.update(audit_outbox_store.initial_fields(
            [self.audit_event("prescription.submitted", stored, details=None)]))
        return cast(StoredPrescription, stored)
