"""Every number the prescription rules use, with the defaults of docs/rules.md.

:class:`Policy` is a frozen dataclass; :meth:`Policy.from_mapping` builds one from a plain mapping
of settings (the gateway passes ``app.config``; the names are those of the ``# --- validation ---``
block of gateway/config.py, each also an ``ERX_``-prefixed environment variable).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from drug_catalog.text import fold_phrase
from schemas.errors import PolicyError
from schemas.icd10 import Icd10Ranges

#: The chronic-disease list shipped with the package (see the file's header for its source).
DEFAULT_CHRONIC_DISEASES_FILE = Path(__file__).resolve().parent / "data" / "chronic-diseases.txt"

_default_chronic: Icd10Ranges | None = None


def default_chronic_diseases() -> Icd10Ranges:
    """The shipped chronic-disease list, read once.

    Raises:
        PolicyError: the shipped file is unreadable or holds an invalid entry.
    """
    global _default_chronic
    if _default_chronic is None:
        _default_chronic = Icd10Ranges.from_file(DEFAULT_CHRONIC_DISEASES_FILE)
    return _default_chronic


@dataclass(frozen=True)
class Policy:
    """The policy numbers of the rules. Every field has the default docs/rules.md states.

    Field ``x`` is read from setting ``RX_X`` upper-cased by :meth:`from_mapping`
    (e.g. ``supply_days_basic`` from ``RX_SUPPLY_DAYS_BASIC``); ``chronic_diseases`` comes
    from the file named by ``RX_CHRONIC_DISEASES_FILE``.
    """

    # patient
    name_max_chars: int = 255
    patient_max_age_years: int = 150
    child_age_months: int = 72
    weight_max_kg: float = 500.0
    # document
    clock_skew_seconds: int = 300
    max_age_days: int = 30
    max_lines: int = 50
    #: gateway limits, not legal ones: longer lists are refused before their items are read.
    max_diagnoses: int = 50
    max_periods: int = 50
    free_text_max_chars: int = 2000
    drug_text_max_chars: int = 200
    #: the prescriber's signature is not free text; this only bounds its size.
    signature_max_chars: int = 16_384
    follow_up_max_days: int = 365
    #: offset of the local time in which the national document's times are written (Vietnam, UTC+7).
    utc_offset_minutes: int = 420
    # drug lines
    quantity_max: int = 10_000
    #: most decimal places of a measured quantity (counted units take whole numbers only).
    quantity_decimals: int = 3
    #: units measured rather than counted: a fractional quantity is allowed only for these
    #: (compared case- and diacritics-insensitively).
    measured_units: tuple[str, ...] = ("ml", "l", "lít", "g", "gam", "mg", "mcg", "kg", "cc")
    # controlled drugs
    control_mixed_severity: str = "warning"
    # days of supply per prescription type
    supply_days_basic: int = 30
    supply_days_basic_chronic: int = 90
    supply_days_narcotic: int = 7
    supply_days_narcotic_cancer_hiv: int = 30
    supply_days_psychotropic: int = 10
    supply_days_psychotropic_chronic: int = 30
    supply_days_traditional: int = 30
    cancer_icd10: tuple[str, ...] = ("C00-D48",)
    hiv_icd10: tuple[str, ...] = ("B20-B24",)
    chronic_diseases: Icd10Ranges = field(default_factory=default_chronic_diseases)
    # pharmacy
    #: days after ngay_gio_ke_don during which an n or h prescription can be dispensed; 0: no window.
    controlled_dispense_days: int = 5

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.type in ("int", "float") and (isinstance(value, bool)
                                                  or not isinstance(value, (int, float))):
                raise PolicyError(f"{item.name}: expected a number, got {value!r}")
            if item.type in ("int", "float") and value < 0:
                raise PolicyError(f"{item.name}: expected a number >= 0, got {value!r}")
        if self.control_mixed_severity not in ("warning", "error"):
            raise PolicyError("control_mixed_severity: expected warning or error, "
                              f"got {self.control_mixed_severity!r}")
        if not isinstance(self.chronic_diseases, Icd10Ranges):
            raise PolicyError("chronic_diseases: expected Icd10Ranges")
        object.__setattr__(self, "_cancer", Icd10Ranges(self.cancer_icd10))
        object.__setattr__(self, "_hiv", Icd10Ranges(self.hiv_icd10))
        object.__setattr__(self, "_measured", frozenset(fold_phrase(unit) for unit in self.measured_units))

    @property
    def cancer_ranges(self) -> Icd10Ranges:
        """``cancer_icd10`` parsed."""
        return self._cancer  # type: ignore[attr-defined,no-any-return]

    @property
    def hiv_ranges(self) -> Icd10Ranges:
        """``hiv_icd10`` parsed."""
        return self._hiv  # type: ignore[attr-defined,no-any-return]

    def is_measured_unit(self, folded_unit: str) -> bool:
        """Whether a unit (already folded with :func:`drug_catalog.text.fold_phrase`) allows fractions."""
        return folded_unit in self._measured  # type: ignore[attr-defined]

    def supply_limit(self, loai_don_thuoc: str, diagnoses: list[str]) -> int | None:
        """Days of supply allowed for a prescription type given its (dotted) diagnoses.

        ``None`` for an unknown type. Raises nothing.
        """
        chronic = any(code in self.chronic_diseases for code in diagnoses)
        if loai_don_thuoc == "c":
            return self.supply_days_basic_chronic if chronic else self.supply_days_basic
        if loai_don_thuoc == "n":
            severe = any(code in self.cancer_ranges or code in self.hiv_ranges for code in diagnoses)
            return self.supply_days_narcotic_cancer_hiv if severe else self.supply_days_narcotic
        if loai_don_thuoc == "h":
            return self.supply_days_psychotropic_chronic if chronic else self.supply_days_psychotropic
        if loai_don_thuoc == "y":
            return self.supply_days_traditional
        return None

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> Policy:
        """Build from settings named ``RX_<FIELD>``; missing names keep their default.

        ``RX_CHRONIC_DISEASES_FILE``: path of a replacement chronic-disease list (empty: the
        shipped one). Tuple fields accept a tuple/list or a comma-separated string.

        Raises:
            PolicyError: a value is unusable, or the chronic-disease file is unreadable or invalid.
        """
        values: dict[str, Any] = {}
        for item in fields(cls):
            if item.name == "chronic_diseases":
                continue
            key = "RX_" + item.name.upper()
            if key not in config:
                continue
            value = config[key]
            if item.type.startswith("tuple") and isinstance(value, str):
                value = tuple(part.strip() for part in value.split(",") if part.strip())
            elif item.type.startswith("tuple"):
                value = tuple(value)
            values[item.name] = value
        chronic_file = config.get("RX_CHRONIC_DISEASES_FILE") or ""
        if chronic_file:
            values["chronic_diseases"] = Icd10Ranges.from_file(chronic_file)
        return cls(**values)


def setting_names() -> dict[str, str]:
    """Policy field name -> setting name (``supply_days_basic`` -> ``RX_SUPPLY_DAYS_BASIC``)."""
    names = {item.name: "RX_" + item.name.upper() for item in fields(Policy)}
    names["chronic_diseases"] = "RX_CHRONIC_DISEASES_FILE"
    return names
