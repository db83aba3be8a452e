"""Cancelling what remains of a prescription: ONE conditional update carrying the
cancellation, its deliveries (the registry and every pharmacy aware of it) and its audit
event. No HTTP here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from gateway.core.errors import Forbidden, NotCancellable, Unavailable
from gateway.parties.model import Party
from gateway.prescriptions import outbox
from gateway.prescriptions.model import (
    DISPENSABLE,
    MAX_CAS_ATTEMPTS,
    PRESCRIBERS,
    AuditEvent,
    Cancellation,
    Status,
    StoredPrescription,
    state_message,
)
from gateway.prescriptions.store import PrescriptionStore


class Cancelling:
    """``audit_event`` prepares the ``prescription.cancelled`` event written with the
    cancellation; ``cas_attempts``: how often a cancellation that lost a race re-reads."""

    def __init__(self, store: PrescriptionStore, *, audit_event: AuditEvent,
                 cas_attempts: int = MAX_CAS_ATTEMPTS,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.audit_event = audit_event
        self.cas_attempts = cas_attempts
        self.clock = clock

    def cancel(self, code: str, party: Party, reason: str) -> StoredPrescription:
        """Cancel what remains of a prescription (issuing facility only); the prescription
        as the cancellation left it.

        Raises:
            NotFound. Forbidden: another facility or role. NotCancellable: fully dispensed
                or already cancelled. Unavailable: it kept changing under the cancellation.
        """
        if party.role not in PRESCRIBERS:
            raise Forbidden("only the issuing facility cancels a prescription")
        for _ in range(self.cas_attempts):
            stored = self.store.require(code)
            code = stored["_id"]  # as stored, whatever was typed
            if stored["facility"] != party.facility:
                raise Forbidden("this prescription belongs to another facility")
            if stored["status"] not in DISPENSABLE:
                raise NotCancellable(code, stored["status"], state_message(stored["status"]))
            now = self.clock()
            entries = outbox.deliveries_for_cancel(stored, now)
            cancellation: Cancellation = {"at": now, "by": party.client_id, "ly_do": reason}
            event = self.audit_event("prescription.cancelled", stored, details=None)
            if self.store.record_cancellation(code, stored["version"], cancellation=cancellation,
                                              deliveries=entries, audit_events=[event], now=now):
                # What the update made of the version read: no read-back round trip.
                return {**stored, "status": Status.CANCELLED, "cancellation": cancellation,
                        "version": stored["version"] + 1,
                        "deliveries": [*(stored.get("deliveries") or []), *entries],
                        "forward_due_at": now, "forward_open": True}
        raise Unavailable("the prescription is changing too fast; retry")
