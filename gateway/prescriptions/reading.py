"""Reading prescriptions: by code or printed QR text, object-level access, listings, and the
audit events of reads and prints. No HTTP here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from gateway.core.errors import Forbidden, QrContentChanged, bad_parameter
from gateway.parties.model import Party, Role
from gateway.prescriptions.audit_outbox_store import PrescriptionAuditOutbox
from gateway.prescriptions.cursor import decode_cursor, encode_cursor
from gateway.prescriptions.model import (
    PRESCRIBERS,
    STATUSES,
    AuditEvent,
    Status,
    StoredPrescription,
    effective_status,
)
from gateway.prescriptions.store import PrescriptionStore
from gateway.signatures.qr import QrClaim, is_qr_text


class Reading:
    """``read_qr(text)`` the claim of a printed QR code
    (:meth:`gateway.signatures.qr.PrescriptionQr.read`); ``patient_key(cccd)`` the keyed hash
    listings filter on; ``audit_event`` prepares the event of a read or a print, which
    ``audit_outbox`` writes into the prescription with a pharmacy's first look and
    ``audit_queue(event)`` queues otherwise (:meth:`gateway.audit.log.AuditLog.store`)."""

    def __init__(self, store: PrescriptionStore, *, read_qr: Callable[[str], QrClaim],
                 patient_key: Callable[[str], str], audit_event: AuditEvent,
                 audit_outbox: PrescriptionAuditOutbox,
                 audit_queue: Callable[[dict[str, Any]], Any],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.read_qr = read_qr
        self.patient_key = patient_key
        self.audit_event = audit_event
        self.audit_outbox = audit_outbox
        self.audit_queue = audit_queue
        self.clock = clock

    def get(self, code: str) -> StoredPrescription:
        """The stored prescription. Raises: NotFound."""
        return self.store.require(code)

    def effective_status(self, stored: Mapping[str, Any]) -> Status:
        """``expired`` once a dispensable prescription is past ``dispensable_until``."""
        return effective_status(stored, self.clock())

    def lookup(self, code_or_qr: str) -> tuple[StoredPrescription, QrClaim | None]:
        """The prescription a code, or the text of its printed QR code, names; with the QR's
        claim when it was one.

        Raises:
            NotFound: no such prescription.
            QrNotGenuine: QR text that is not a genuine prescription QR (``qr.unreadable``,
                ``qr.forged``, ``qr.not_prescription``).
            QrContentChanged: a genuine QR whose prescription no longer has the content it
                was printed with.
        """
        if not is_qr_text(code_or_qr):
            return self.get(code_or_qr), None
        claim = self.read_qr(code_or_qr)
        stored = self.get(claim.code)
        if stored["content_sha256"] != claim.sha256:
            raise QrContentChanged(claim.code)
        return stored, claim

    def authorize_read(self, stored: Mapping[str, Any], party: Party) -> None:
        """Object-level access: the issuing facility's clinic and doctors, any pharmacy (by
        exact code), regulators. Raises: Forbidden."""
        if party.role in (Role.REGULATOR, Role.PHARMACY):
            return
        if party.role in PRESCRIBERS and party.facility == stored["facility"]:
            return
        raise Forbidden("this prescription belongs to another facility")

    def note_view(self, stored: Mapping[str, Any], party: Party,
                  details: Mapping[str, Any] | None = None) -> None:
        """``prescription.viewed`` by ``party``: ONE write. A pharmacy's first look is
        remembered in the prescription (it is told of a cancellation) by an update that also
        carries the event; any other read queues the event (an insert into a small collection
        costs the database far less than rewriting the prescription)."""
        first_look = (party.role == Role.PHARMACY
                      and party.code not in stored.get("viewed_by_pharmacies", []))
        event = self.audit_event("prescription.viewed", stored,
                                 details=dict(details) if details else None)
        if first_look:
            self.audit_outbox.record(stored["_id"], [event], viewer=party.code)
            return
        self.audit_queue(event)

    def note_event(self, stored: Mapping[str, Any], action: str,
                   details: Mapping[str, Any] | None = None) -> None:
        """Record an audit event about the prescription that changes nothing in it
        (``prescription.printed``): one insert into the audit queue."""
        self.audit_queue(self.audit_event(action, stored,
                                          details=dict(details) if details else None))

    def list(self, party: Party, *, facility: str | None, status: str | None,
             issued_from: datetime | None, issued_to: datetime | None,
             patient: str | None, cursor: str | None,
             limit: int) -> tuple[list[StoredPrescription], str | None]:
        """A page of prescriptions, newest first, and the cursor of the next page.

        Raises:
            Forbidden: a pharmacy, or a clinic asking for another facility.
            Invalid: a malformed cursor or status.
        """
        if party.role in PRESCRIBERS:
            if facility is not None and facility != party.facility:
                raise Forbidden("a clinic lists its own facility's prescriptions only")
            facility = party.facility
        elif party.role != Role.REGULATOR:
            raise Forbidden("pharmacies read prescriptions by exact code only")
        if status is not None and status not in STATUSES:
            raise bad_parameter("status", f"one of {', '.join(STATUSES)}",
                                f"Phải là một trong: {', '.join(STATUSES)}")
        after = (decode_cursor(cursor, "a next_cursor value from a previous page",
                               "Phải là next_cursor của trang trước")
                 if cursor is not None else None)
        found = self.store.page(
            limit=limit + 1, facility=facility, status=status, now=self.clock(),
            patient=self.patient_key(patient) if patient is not None else None,
            issued_from=issued_from, issued_to=issued_to, after=after)
        next_cursor = None
        if len(found) > limit:
            found = found[:limit]
            last = found[-1]
            next_cursor = encode_cursor(last["issued_at"], last["_id"])
        return found, next_cursor
