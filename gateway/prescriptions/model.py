"""The prescription as the gateway stores it, its states, and the values its operations
exchange (no storage, no HTTP).

:class:`StoredPrescription` is the one definition of the stored document (collection
``prescriptions``, owned by :mod:`gateway.prescriptions.store`). Documents stay plain dicts at
runtime: the ``TypedDict`` s only tell the type checker and the reader their shape, and a value
read back from the database is the plain string a :class:`~enum.StrEnum` member equals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any, NotRequired, Protocol, TypedDict

from drug_catalog.model import ControlClass
from gateway.core.errors import Refused
from gateway.parties.model import Role

__all__ = ["ControlClass", "Refused", "Role"]


class Status(StrEnum):
    """A prescription's status as stored. ``expired`` is never stored: a dispensable
    prescription past ``dispensable_until`` is shown as expired
    (:meth:`gateway.prescriptions.reading.Reading.effective_status`)."""

    ISSUED = "issued"
    PARTIALLY_DISPENSED = "partially_dispensed"
    DISPENSED = "dispensed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class DeliveryState(StrEnum):
    """Where one delivery of the outbox stands (gateway/prescriptions/outbox.py)."""

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DELIVERED = "delivered"
    FAILED_PERMANENT = "failed_permanent"
    DEAD = "dead"
    #: nothing to send: the pharmacy has no webhook for the event (neither sent nor a failure)
    SKIPPED = "skipped"


class DeliveryEvent(StrEnum):
    """What a delivery tells its receiver."""

    PRESCRIPTION_ISSUED = "prescription.issued"
    PRESCRIPTION_CANCELLED = "prescription.cancelled"
    DISPENSE_RECORDED = "dispense.recorded"


DISPENSABLE: tuple[Status, ...] = (Status.ISSUED, Status.PARTIALLY_DISPENSED)
#: every status a listing may filter on, as plain strings (OpenAPI enums, messages)
STATUSES: tuple[str, ...] = tuple(status.value for status in Status)
PRESCRIBERS: tuple[Role, ...] = (Role.CLINIC, Role.DOCTOR)
MAX_CAS_ATTEMPTS = 50


class Issue(TypedDict):
    """A rule an input breaks, or a warning: a JSON pointer into the submitted document, the
    stable code of docs/rules.md and a Vietnamese message."""

    pointer: str
    code: str
    message: str
    reason: NotRequired[str]
    parameter: NotRequired[str]
    _en: NotRequired[str]


class Signature(TypedDict):
    """The gateway's detached JWS over the RFC 8785 form of ``document``."""

    alg: str
    kid: str
    jws: str


class Line(TypedDict):
    """One prescribed drug, as resolved in the catalog at submission."""

    index: int
    ma_thuoc: str  # the product's national code
    submitted_ma_thuoc: str  # the identifier the prescriber sent
    prescribed: int | float
    dispensed: int | float  # the exact sum of the dispenses, set under the version check
    unit: str | None
    control_class: ControlClass
    ingredients: list[str]  # drug_catalog.model ingredient keys


class DispenseItem(TypedDict):
    line: int
    ma_thuoc: str  # the product sold (a substitute of the same composition, or the prescribed)
    ma_thuoc_da_ke_don: str  # the prescribed product's national code
    so_luong_ban: int | float
    substituted: bool
    packs: list[str]  # pack ids (GTIN:serial) of this line


class Dispense(TypedDict):
    id: str
    pharmacy: str  # the pharmacy's code
    by: str  # the client id that recorded it
    ma_hoa_don: str | None
    at: datetime
    items: list[DispenseItem]
    packs: list[str]
    warnings: NotRequired[list[Issue]]


class Cancellation(TypedDict):
    at: datetime
    by: str
    ly_do: str


class Delivery(TypedDict):
    """One element of the outbox (gateway/prescriptions/outbox.py)."""

    id: str
    seq: int
    target: str  # "registry" or "pharmacy:<code>"
    event: DeliveryEvent
    ref: str | None  # the dispense id of a dispense report
    state: DeliveryState
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None  # None: parked until the registry is configured
    first_attempt_at: datetime | None
    last_error: str | None
    response: dict[str, Any] | None
    delivered_at: datetime | None
    last_attempt_at: NotRequired[datetime]
    retried_at: NotRequired[datetime]
    retried_by: NotRequired[str]


class StoredPrescription(TypedDict):
    """One document of the ``prescriptions`` collection.

    Every state change is ONE conditional update of it that names the ``version`` it read
    and increments it (:mod:`gateway.prescriptions.store`). ``document`` is the canonical
    national document (schemas/national.py), its patient fields encrypted at rest
    (gateway/core/encryption.py) and decrypted by the store. The outbox fields are written by
    gateway/prescriptions/outbox.py's builders and the forwarder; the audit fields by
    gateway/prescriptions/audit_outbox_store.py. Listings read it without ``deliveries``.
    """

    _id: str  # ma_don_thuoc
    facility: str
    issuer: str  # the client id of the clinic or doctor
    issuer_role: Role
    status: Status
    version: int
    document: dict[str, Any]
    content_sha256: str
    signature: Signature
    prescriber_signature: str  # as sent ("" when none); forwarded to the registry
    warnings: list[Issue]
    lines: list[Line]
    dispenses: list[Dispense]
    cancellation: Cancellation | None
    patient: str | None  # keyed hash of the CCCD (gateway.audit.log.AuditLog.patient_hash)
    issued_at: datetime
    dispensable_until: datetime
    nominated_pharmacy: str | None
    viewed_by_pharmacies: list[str]
    # the outbox (gateway/prescriptions/outbox.py)
    deliveries: NotRequired[list[Delivery]]
    forward_due_at: datetime | None
    forward_open: bool
    forward_queued_at: datetime | None
    forward_rev: NotRequired[int]
    forward_lease_until: datetime | None
    forward_lease_owner: str | None
    # the audit events waiting for the sequencer (gateway/prescriptions/audit_outbox_store.py)
    audit_pending: list[dict[str, Any]]
    audit_open: bool


class PackRecord(TypedDict):
    """One document of ``dispensed_packs``: a serialised pack held by a dispense."""

    _id: str  # GTIN:serial, unique across the system
    gtin: str
    serial: str
    batch: str | None
    expiry: str | None  # ISO date
    prescription: str
    dispense: str
    at: datetime


@dataclass(frozen=True)
class Settings:
    timezone: tzinfo
    cas_attempts: int = MAX_CAS_ATTEMPTS
    pack_reservation_grace: timedelta = timedelta(seconds=60)
    #: a pharmacy without an address or phone may not dispense (its national report could not
    #: be filed): production; development only logs a warning
    require_pharmacy_contact: bool = False
    #: folded names (drug_catalog.text.fold_phrase) of the units that take fractional quantities
    measured_units: frozenset[str] = frozenset()
    quantity_decimals: int = 3
    quantity_max: int = 10_000
    max_dispenses: int = 50
    max_packs_per_dispense: int = 200
    #: ``advisory``: another pharmacy than the nominated one may dispense, with a warning;
    #: ``binding``: it gets 403
    nomination: str = "advisory"


@dataclass(frozen=True)
class Validated:
    """What validation says of a submission: the canonical document (None when refused), the
    errors and warnings (``{"pointer", "code", "message"}``), and the prescriber's signature
    exactly as sent (``""`` when none), which the registry is sent with the document."""

    document: dict[str, Any] | None
    errors: list[Issue]
    warnings: list[Issue]
    prescriber_signature: str = ""


@dataclass
class Submitted:
    """The outcome of a submission: the stored document, and whether it was already there."""

    stored: StoredPrescription
    created: bool


class AuditEvent(Protocol):
    """Prepares the audit event of ``action`` on a prescription
    (:meth:`gateway.audit.log.AuditLog.prepare`), to be written with the change."""

    def __call__(self, action: str, stored: Mapping[str, Any], *,
                 details: Mapping[str, Any] | None = None) -> dict[str, Any]: ...


def effective_status(stored: Mapping[str, Any], now: datetime) -> Status:
    """The status shown at ``now``: ``expired`` once a dispensable prescription is past
    ``dispensable_until``."""
    status = Status(stored["status"])
    if status in DISPENSABLE and now > stored["dispensable_until"]:
        return Status.EXPIRED
    return status


def state_message(status: str) -> str:
    """Why a prescription in ``status`` cannot be changed, for a person (Vietnamese)."""
    messages: dict[str, str] = {Status.CANCELLED: "Đơn thuốc đã bị hủy",
                                Status.DISPENSED: "Đơn thuốc đã bán đủ",
                                Status.EXPIRED: "Đơn thuốc đã hết hạn"}
    return messages.get(status, f"Trạng thái đơn thuốc: {status}")
