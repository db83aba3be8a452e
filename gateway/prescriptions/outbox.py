"""The transactional outbox: delivery entries kept inside the prescription document itself.

Accepting, cancelling or dispensing a prescription appends its deliveries in the SAME atomic
update that changes the prescription, so a change is never stored without its deliveries and
a delivery never exists for a change that was not stored. The functions here are pure: they
build the entries; the store writes them with the change
(:meth:`gateway.prescriptions.store.PrescriptionStore.record_dispense`, ...) and the forwarder
(``gateway/forwarding/worker.py``) sends them.

A delivery entry is one element of the document's ``deliveries`` array,
:class:`gateway.prescriptions.model.Delivery`.

Document fields of the outbox: ``deliveries``; ``forward_due_at`` (earliest time something
may be sent, None when nothing is open); ``forward_open`` (True exactly when
``forward_due_at`` is set: an equality key, because the embedded database answers a range
query on an index by reading the whole index, while an equality prefix stays cheap);
``forward_lease_until`` and ``forward_lease_owner`` (the forwarder's claim);
``forward_queued_at`` (set by every change that queues deliveries, and only by those: the
forwarders' change feed wakes on it, never on their own writes).

Order: ``seq`` is the position in the prescription's outbox. A delivery is sent only when
every earlier delivery (lower ``seq``) to the same target is ``delivered``, so a cancellation
or a dispense report never reaches a receiver before the prescription it refers to.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from gateway.parties.model import pharmacy_key
from gateway.prescriptions.model import Delivery, DeliveryEvent, DeliveryState

REGISTRY = "registry"
PHARMACY_PREFIX = "pharmacy:"

EVENTS: tuple[str, ...] = tuple(event.value for event in DeliveryEvent)
# Events a pharmacy may subscribe its webhook to (dispense reports go to the registry only).
PHARMACY_EVENTS = (DeliveryEvent.PRESCRIPTION_ISSUED, DeliveryEvent.PRESCRIPTION_CANCELLED)

# Set by every change that queues deliveries (never by the forwarder): what wakes forwarders.
QUEUED = "forward_queued_at"
# Incremented by every change that adds deliveries or makes one due again (store.outbox_update,
# OutboxStore.unpark, OutboxStore.retry): the forwarder's release names the value its snapshot
# showed, so a release computed from that snapshot can only land if nothing changed meanwhile.
REVISION = "forward_rev"

STATES: tuple[str, ...] = tuple(state.value for state in DeliveryState)
# States after which a later delivery to the same target may go.
SETTLED = (DeliveryState.DELIVERED, DeliveryState.SKIPPED)
# States an administrator may send again (POST /v2/deliveries/{id}/retry).
RETRYABLE_BY_ADMIN = (DeliveryState.FAILED_PERMANENT, DeliveryState.DEAD)
# States the forwarder still has work for.
OPEN = (DeliveryState.PENDING, DeliveryState.IN_FLIGHT)


def pharmacy_target(code: str) -> str:
    return PHARMACY_PREFIX + code


def target_kind(target: str) -> str:
    """``registry`` or ``pharmacy`` (the metrics label: never a pharmacy code)."""
    return "pharmacy" if target.startswith(PHARMACY_PREFIX) else REGISTRY


def pharmacy_code(target: str) -> str | None:
    return target[len(PHARMACY_PREFIX):] if target.startswith(PHARMACY_PREFIX) else None


def new_delivery(*, target: str, event: str, seq: int, now: datetime,
                 ref: str | None = None) -> Delivery:
    """One pending delivery entry, due at ``now``."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    return {"id": uuid.uuid4().hex, "seq": seq, "target": target,
            "event": DeliveryEvent(event), "ref": ref,
            "state": DeliveryState.PENDING, "attempts": 0, "created_at": now, "next_attempt_at": now,
            "first_attempt_at": None, "last_error": None, "response": None,
            "delivered_at": None}


def _next_seq(doc: Mapping[str, Any]) -> int:
    existing = doc.get("deliveries") or []
    return max((entry.get("seq", -1) for entry in existing), default=-1) + 1


def _entries(doc: Mapping[str, Any], now: datetime,
             wanted: Iterable[tuple[str, str, str | None]]) -> list[Delivery]:
    seq = _next_seq(doc)
    entries = []
    for offset, (target, event, ref) in enumerate(wanted):
        entries.append(new_delivery(target=target, event=event, seq=seq + offset, now=now,
                                    ref=ref))
    return entries


def deliveries_for_issue(doc: Mapping[str, Any], now: datetime) -> list[Delivery]:
    """Entries for an accepted prescription: the registry, and the nominated pharmacy if any.

    ``doc`` is the prescription document about to be inserted (``nominated_pharmacy`` read).
    """
    wanted: list[tuple[str, str, str | None]] = [(REGISTRY, DeliveryEvent.PRESCRIPTION_ISSUED, None)]
    nominated = doc.get("nominated_pharmacy")
    if nominated:
        wanted.append((pharmacy_target(nominated), DeliveryEvent.PRESCRIPTION_ISSUED, None))
    return _entries(doc, now, wanted)


def pharmacies_aware(doc: Mapping[str, Any]) -> list[str]:
    """Pharmacies that received the prescription or looked it up, in first-seen order:
    the nominated one, those with a delivery, those that viewed it, those that dispensed.

    One each, their codes compared as every pharmacy code is
    (:func:`gateway.parties.model.pharmacy_key`), each under its first spelling: a
    cancellation goes to the same target as the issue before it, so it waits for it."""
    seen: dict[str, str] = {}
    codes = [doc.get("nominated_pharmacy")]
    codes += [pharmacy_code(entry.get("target", "")) for entry in doc.get("deliveries") or []]
    codes += list(doc.get("viewed_by_pharmacies") or [])
    codes += [dispense.get("pharmacy") for dispense in doc.get("dispenses") or []]
    for code in codes:
        if code:
            seen.setdefault(pharmacy_key(code), code)
    return list(seen.values())


def deliveries_for_cancel(doc: Mapping[str, Any], now: datetime) -> list[Delivery]:
    """Entries for a cancellation: the registry, and every pharmacy aware of the prescription.

    ``doc`` is the stored document as read before the cancelling update.
    """
    wanted: list[tuple[str, str, str | None]] = [(REGISTRY, DeliveryEvent.PRESCRIPTION_CANCELLED, None)]
    wanted += [(pharmacy_target(code), DeliveryEvent.PRESCRIPTION_CANCELLED, None) for code in pharmacies_aware(doc)]
    return _entries(doc, now, wanted)


def deliveries_for_dispense(doc: Mapping[str, Any], dispense: Mapping[str, Any],
                            now: datetime) -> list[Delivery]:
    """Entries for a recorded dispense: its report to the registry (``ref`` = dispense id)."""
    return _entries(doc, now, [(REGISTRY, DeliveryEvent.DISPENSE_RECORDED, dispense["id"])])


def initial_fields(entries: Sequence[Mapping[str, Any]], now: datetime) -> dict[str, Any]:
    """Fields of a NEW prescription document (insert instead of update): its outbox."""
    return {"deliveries": list(entries), "forward_due_at": now if entries else None,
            "forward_open": bool(entries), QUEUED: now if entries else None,
            "forward_lease_until": None, "forward_lease_owner": None}


def earliest_due(deliveries: Sequence[Mapping[str, Any]]) -> datetime | None:
    """``forward_due_at`` as the database computes it on release
    (:data:`gateway.prescriptions.outbox_store.RECOMPUTE_DUE`), from an outbox the caller
    knows to be current: the earliest ``next_attempt_at`` of an open delivery that no earlier
    delivery to the same target holds back; None (not open) when there is none, parked
    deliveries (no ``next_attempt_at``) counting for nothing."""
    times = [entry.get("next_attempt_at") for index, entry in enumerate(deliveries)
             if entry.get("state") in OPEN and waiting_for(deliveries, index) is None]
    present = [at for at in times if at is not None]
    return min(present) if present else None


def waiting_for(deliveries: Sequence[Mapping[str, Any]], index: int) -> str | None:
    """The id of the earliest earlier delivery to the same target that is not delivered
    yet (the one holding ``deliveries[index]`` back), or None."""
    entry = deliveries[index]
    blockers = [other for position, other in enumerate(deliveries)
                if other.get("target") == entry.get("target") and other.get("state") not in SETTLED
                and (other.get("seq", position), position) < (entry.get("seq", index), index)]
    if not blockers:
        return None
    return str(min(blockers, key=lambda other: other.get("seq", 0))["id"])


class SendResult(StrEnum):
    """What a send attempt came to."""

    DELIVERED = "delivered"   # the receiver has it (including "already have it")
    RETRY = "retry"           # transient: 5xx, timeout, connection error, throttling
    PERMANENT = "permanent"   # the receiver refused the content: retrying cannot help
    SKIPPED = "skipped"       # nothing to send (a pharmacy without a webhook for the event)


class Outcome:
    """The result of one send attempt: ``kind`` is a :class:`SendResult`;
    ``error`` a short reason; ``response`` the receiver's answer as kept in the delivery."""

    __slots__ = ("error", "kind", "response")

    def __init__(self, kind: SendResult, *, error: str | None = None,
                 response: Mapping[str, Any] | None = None) -> None:
        self.kind = kind
        self.error = error
        self.response = dict(response) if response is not None else None

    def __repr__(self) -> str:
        return f"Outcome({self.kind!r}, error={self.error!r})"

    @classmethod
    def delivered(cls, response: Mapping[str, Any] | None = None) -> Outcome:
        return cls(SendResult.DELIVERED, response=response)

    @classmethod
    def retry(cls, error: str, response: Mapping[str, Any] | None = None) -> Outcome:
        return cls(SendResult.RETRY, error=error, response=response)

    @classmethod
    def skipped(cls, reason: str) -> Outcome:
        return cls(SendResult.SKIPPED, error=reason)

    @classmethod
    def permanent(cls, error: str, response: Mapping[str, Any] | None = None) -> Outcome:
        return cls(SendResult.PERMANENT, error=error, response=response)
