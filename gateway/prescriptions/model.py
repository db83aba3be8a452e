"""A prescription's states and the values its operations exchange (no storage, no HTTP)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta, tzinfo
from typing import Any

ISSUED = "issued"
PARTIALLY_DISPENSED = "partially_dispensed"
DISPENSED = "dispensed"
CANCELLED = "cancelled"
EXPIRED = "expired"
DISPENSABLE = (ISSUED, PARTIALLY_DISPENSED)
STATUSES = (ISSUED, PARTIALLY_DISPENSED, DISPENSED, CANCELLED, EXPIRED)
PRESCRIBERS = ("clinic", "doctor")
MAX_CAS_ATTEMPTS = 50


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
    errors: list[dict[str, str]]
    warnings: list[dict[str, str]]
    prescriber_signature: str = ""


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


def state_message(status: str) -> str:
    return {CANCELLED: "Đơn thuốc đã bị hủy", DISPENSED: "Đơn thuốc đã bán đủ",
            EXPIRED: "Đơn thuốc đã hết hạn"}.get(status, f"Trạng thái đơn thuốc: {status}")
