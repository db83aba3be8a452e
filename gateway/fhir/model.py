"""What the FHIR mapping reads: a prescription and its dispenses as plain values, made from the
stored prescription by :mod:`gateway.fhir.adapter` (the one module that knows its layout), so
that the mapping itself is pure and the prescriptions package may change its storage freely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Pack:
    """One scanned pack of a dispense."""

    gtin: str
    serial: str
    lot: str | None = None
    expiry: str | None = None  # ISO date


@dataclass(frozen=True)
class DispensedItem:
    line: int                   # 0-based line of the prescription
    national_code: str          # the product sold
    prescribed_code: str        # the national code prescribed on that line
    quantity: int | float
    substituted: bool
    packs: tuple[Pack, ...] = ()


@dataclass(frozen=True)
class Dispense:
    id: str
    pharmacy: str               # the pharmacy's code
    at: str                     # ISO 8601 with the gateway's offset
    items: tuple[DispensedItem, ...]
    invoice: str | None         # None when the reader may not see it (another pharmacy's)


@dataclass(frozen=True)
class Line:
    index: int                  # 0-based
    national_code: str
    sent_system: str            # the system of what the clinic sent as ma_thuoc
    prescribed: int | float
    dispensed: int | float
    unit: str | None


@dataclass(frozen=True)
class Rx:
    """A prescription as the FHIR face shows it to one reader."""

    code: str
    document: dict[str, Any]    # the canonical national document
    status: str                 # effective native status (issued, ..., expired)
    facility: str
    issued_at: str              # ISO 8601 with the gateway's offset
    dispensable_until: str
    lines: tuple[Line, ...]
    prescriber_name: str        # the doctor party's name, or "" when the facility submitted
    prescriber_code: str | None  # the doctor's code (ma_lien_thong_bac_si), None: the facility
    facility_name: str
    dispenses: tuple[Dispense, ...] = field(default=())
