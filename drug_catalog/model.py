"""A drug product as the catalog knows it (the drug resource, README.md "Drug catalog").

``Drug.from_dict`` validates and normalises a resource (an ``ndjson`` import line, a stored
document, an API answer); ``Drug.to_dict`` gives the resource back. Both are exact inverses for
a valid record: ``Drug.from_dict(drug.to_dict()) == drug``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from drug_catalog.errors import InvalidDrug, InvalidIdentifier
from drug_catalog.identifiers import normalize_code, normalize_gtin, parse_registration_number
from drug_catalog.text import compact, tokens

KINDS = ("chemical", "traditional", "biological", "raw_material")


class ControlClass(StrEnum):
    """A product's special-control class; ``none`` for ordinary products."""

    NONE = "none"
    NARCOTIC = "narcotic"
    PSYCHOTROPIC = "psychotropic"
    PRECURSOR = "precursor"
    RADIOACTIVE = "radioactive"


CONTROL_CLASSES: tuple[str, ...] = tuple(kind.value for kind in ControlClass)
STATUSES = ("active", "suspended", "withdrawn", "recalled")

FIELDS = ("national_code", "registration_number", "gtins", "name", "active_ingredients",
          "dosage_form", "route", "unit", "packaging", "kind", "prescription_only",
          "control_class", "status", "registration_valid_until")
_REQUIRED = ("national_code", "registration_number", "name", "active_ingredients", "kind",
             "prescription_only", "control_class", "status")
_OPTIONAL_TEXT = ("dosage_form", "route", "unit", "packaging")
MAX_CODE_LENGTH = 64
MAX_TEXT_LENGTH = 1000
# Words naming the salt, ester or hydrate form of an ingredient (folded), dropped from the end
# of its name by ingredient_key: "Morphin hydroclorid" and "Morphin sulfat" are both morphine.
# Only these: "Kali clorid" or "Natri bicarbonat" keep every word.
SALT_WORDS = frozenset((
    "hydroclorid", "hydrochlorid", "hydrochloride", "hcl", "hydrobromid", "sulfat", "sulphat",
    "sulfate", "phosphat", "phosphate", "tartrat", "bitartrat", "citrat", "maleat", "fumarat",
    "mesylat", "mesilat", "besylat", "besilat", "succinat", "acetat", "natri", "kali", "calci",
    "magnesi", "hydrat", "monohydrat", "dihydrat", "trihydrat", "hemihydrat", "sesquihydrat",
    "khan"))


@dataclass(frozen=True)
class ActiveIngredient:
    """One active ingredient and its strength as registered (``"500mg"``, ``"5mg/ml"``; empty
    when the registry does not state it)."""

    name: str
    strength: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "strength": self.strength}


def ingredient_key(name: str) -> str:
    """The active substance an ingredient name stands for, spelled canonically: folded words
    (case and diacritics ignored), without a ``(dưới dạng …)`` clause and without trailing
    :data:`SALT_WORDS`. ``"Fentanyl (dưới dạng Fentanyl citrat)"`` → ``"fentanyl"``,
    ``"Morphin sulfat"`` → ``"morphin"``; ``""`` for a name without letters or digits."""
    words = tokens(name.split("(", 1)[0]) or tokens(name)
    while len(words) > 1 and words[-1] in SALT_WORDS:
        words.pop()
    return " ".join(words)


@dataclass(frozen=True)
class Drug:
    """One product of the catalog, keyed by ``national_code``.

    Attributes:
        national_code: the key; what a prescription's ``ma_thuoc`` names (normalised like a
            registration number: upper case, canonical ``Đ``, no spaces).
        registration_number: số đăng ký, canonical form.
        gtins: the product's GTINs, each 14 digits.
        name: the product name as registered.
        active_ingredients: ingredients with strengths.
        dosage_form, route, unit, packaging: as registered ("Viên nén", "Uống", "Viên",
            "Hộp 10 vỉ x 10 viên"); empty when the source does not say.
        kind: one of :data:`KINDS`.
        prescription_only: True for a prescription-only medicine (thuốc kê đơn).
        control_class: one of :data:`CONTROL_CLASSES`.
        status: one of :data:`STATUSES`.
        registration_valid_until: last day the registration is valid, or None (not stated).
    """

    national_code: str
    registration_number: str
    gtins: tuple[str, ...]
    name: str
    active_ingredients: tuple[ActiveIngredient, ...]
    dosage_form: str
    route: str
    unit: str
    packaging: str
    kind: str
    prescription_only: bool
    control_class: str
    status: str
    registration_valid_until: date | None

    # ------------------------------------------------------------------ conversions

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Drug:
        """Validate and normalise a drug resource.

        Keys starting with ``_`` are annotations (e.g. ``"_sample"`` in the demo file) and are
        ignored; any other unknown key is refused. ``gtins``, ``dosage_form``, ``route``,
        ``unit``, ``packaging`` and ``registration_valid_until`` may be omitted.

        Raises:
            InvalidDrug: a field is missing, of the wrong type, or invalid; ``field`` names it
                (``"gtins[1]"``, ``"active_ingredients[0].name"``), ``reason`` says why.
        """
        if not isinstance(data, Mapping):
            raise InvalidDrug("", "a drug record is a JSON object")
        for key in data:
            if not isinstance(key, str):
                raise InvalidDrug(str(key), "field names are strings")
            if key not in FIELDS and not key.startswith("_"):
                raise InvalidDrug(key, "unknown field")
        for key in _REQUIRED:
            if key not in data or data[key] is None:
                raise InvalidDrug(key, "required")

        national_code = _text(data, "national_code", limit=MAX_CODE_LENGTH)
        national_code = normalize_code(national_code)
        try:
            registration_number = parse_registration_number(
                _text(data, "registration_number", limit=MAX_CODE_LENGTH))
        except InvalidIdentifier as exc:
            raise InvalidDrug("registration_number", exc.reason) from None
        gtins = _gtins(data.get("gtins", []))
        name = _text(data, "name")
        ingredients = _ingredients(data["active_ingredients"])
        optional = {key: _text(data, key, required=False) for key in _OPTIONAL_TEXT}
        kind = _choice(data, "kind", KINDS)
        prescription_only = data["prescription_only"]
        if not isinstance(prescription_only, bool):
            raise InvalidDrug("prescription_only", "must be true or false")
        control_class = _choice(data, "control_class", CONTROL_CLASSES)
        status = _choice(data, "status", STATUSES)
        valid_until = _date(data.get("registration_valid_until"), "registration_valid_until")
        return cls(national_code=national_code, registration_number=registration_number,
                   gtins=gtins, name=name, active_ingredients=ingredients, kind=kind,
                   prescription_only=prescription_only, control_class=control_class,
                   status=status, registration_valid_until=valid_until, **optional)

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> Drug:
        """Rebuild a drug from a resource this package validated and stored earlier
        (``to_dict`` output), without validating again: loading 60,000 products into the
        in-process cache must be quick. Use :meth:`from_dict` for anything else.

        Raises:
            KeyError, TypeError, ValueError: the mapping is not a stored drug resource.
        """
        valid_until = data["registration_valid_until"]
        return _trusted(
            data["national_code"], data["registration_number"], tuple(data["gtins"]),
            data["name"],
            tuple(_ingredient(item["name"], item["strength"])
                  for item in data["active_ingredients"]),
            data["dosage_form"], data["route"], data["unit"], data["packaging"], data["kind"],
            data["prescription_only"], data["control_class"], data["status"],
            date.fromisoformat(valid_until) if valid_until else None)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Drug:
        """Rebuild a drug from :meth:`to_row` output (the catalog snapshot's compact form),
        without validating again.

        Raises:
            IndexError, TypeError, ValueError: the row was not written by :meth:`to_row`.
        """
        (code, registration, gtins, name, ingredients, form, route, unit, packaging, kind,
         prescription_only, control_class, status, valid_until) = row
        return _trusted(code, registration, tuple(gtins), name,
                        tuple(_ingredient(item[0], item[1]) for item in ingredients),
                        form, route, unit, packaging, kind, prescription_only, control_class,
                        status, date.fromisoformat(valid_until) if valid_until else None)

    def to_row(self) -> list[Any]:
        """The drug as a JSON list in :data:`FIELDS` order (ingredients as ``[name,
        strength]`` pairs): the compact form of the catalog snapshot."""
        return [self.national_code, self.registration_number, list(self.gtins), self.name,
                [[item.name, item.strength] for item in self.active_ingredients],
                self.dosage_form, self.route, self.unit, self.packaging, self.kind,
                self.prescription_only, self.control_class, self.status,
                self.registration_valid_until.isoformat()
                if self.registration_valid_until else None]

    def to_dict(self) -> dict[str, Any]:
        """The drug resource (README.md "Drug catalog"; JSON-ready: dates as ``YYYY-MM-DD``)."""
        return {
            "national_code": self.national_code,
            "registration_number": self.registration_number,
            "gtins": list(self.gtins),
            "name": self.name,
            "active_ingredients": [item.to_dict() for item in self.active_ingredients],
            "dosage_form": self.dosage_form,
            "route": self.route,
            "unit": self.unit,
            "packaging": self.packaging,
            "kind": self.kind,
            "prescription_only": self.prescription_only,
            "control_class": self.control_class,
            "status": self.status,
            "registration_valid_until": (self.registration_valid_until.isoformat()
                                         if self.registration_valid_until else None),
        }

    # ------------------------------------------------------------------ domain questions

    def is_active(self, on: date) -> bool:
        """True when the product may be prescribed and dispensed on ``on``: status
        ``active`` and the registration valid through that day (or no end date stated)."""
        return self.inactive_reason(on) is None

    def inactive_reason(self, on: date) -> str | None:
        """Why the product is not active on ``on`` (``"withdrawn"``, ``"registration expired
        on 2024-06-30"``), or None when it is active."""
        if self.status != "active":
            return self.status
        if self.registration_valid_until is not None and self.registration_valid_until < on:
            return f"registration expired on {self.registration_valid_until.isoformat()}"
        return None

    @property
    def is_prescribable(self) -> bool:
        """False for a raw material (nguyên liệu làm thuốc): not a medicine to prescribe."""
        return self.kind != "raw_material"

    @property
    def is_controlled(self) -> bool:
        """True for narcotic, psychotropic, precursor and radioactive products."""
        return self.control_class != "none"

    def composition(self) -> frozenset[tuple[str, str]]:
        """Active ingredients and strengths, spelled canonically (case, diacritics, spacing
        and decimal comma ignored): the part of the substitution rule that compares
        ingredients."""
        return frozenset((compact(item.name), compact(item.strength))
                         for item in self.active_ingredients)

    def ingredient_keys(self) -> frozenset[str]:
        """The active substances of the product (:func:`ingredient_key` of each ingredient):
        what "the same active ingredient" compares across prescriptions."""
        return frozenset(key for key in (ingredient_key(item.name)
                                         for item in self.active_ingredients) if key)

    def same_composition(self, other: Drug) -> bool:
        """True when ``other`` has the same active ingredients, strengths and dosage form
        (docs/rules.md ``dispense.substitution``), compared canonically.

        An unknown strength or dosage form (empty, as in many registry rows) never matches:
        two products cannot be shown equivalent without them. Narcotic products are never
        substitutable; this method does not check that (the dispensing rule does).
        """
        if not self.dosage_form or not other.dosage_form:
            return False
        if any(not item.strength for item in (*self.active_ingredients,
                                              *other.active_ingredients)):
            return False
        return (compact(self.dosage_form) == compact(other.dosage_form)
                and self.composition() == other.composition())


# ---------------------------------------------------------------------- field validation

def _text(data: Mapping[str, Any], key: str, *, required: bool = True,
          limit: int = MAX_TEXT_LENGTH) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidDrug(key, "must be a string")
    value = " ".join(value.split())
    if required and not value:
        raise InvalidDrug(key, "must not be blank")
    if len(value) > limit:
        raise InvalidDrug(key, f"longer than {limit} characters")
    return value


def _choice(data: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> str:
    value = data.get(key)
    if value not in choices:
        raise InvalidDrug(key, f"must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def _gtins(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)):
        raise InvalidDrug("gtins", "must be a list of GTIN strings")
    gtins: list[str] = []
    for index, item in enumerate(value):
        field = f"gtins[{index}]"
        if not isinstance(item, str):
            raise InvalidDrug(field, "must be a string of 8, 12, 13 or 14 digits")
        try:
            gtin = normalize_gtin(item)
        except InvalidIdentifier as exc:
            raise InvalidDrug(field, exc.reason) from None
        if gtin in gtins:
            raise InvalidDrug(field, f"repeats gtins[{gtins.index(gtin)}]")
        gtins.append(gtin)
    return tuple(gtins)


def _ingredients(value: Any) -> tuple[ActiveIngredient, ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise InvalidDrug("active_ingredients", "must be a non-empty list")
    items = []
    for index, item in enumerate(value):
        field = f"active_ingredients[{index}]"
        if isinstance(item, ActiveIngredient):
            item = item.to_dict()
        if not isinstance(item, Mapping):
            raise InvalidDrug(field, "must be an object with name and strength")
        unknown = set(item) - {"name", "strength"}
        if unknown:
            raise InvalidDrug(f"{field}.{sorted(unknown)[0]}", "unknown field")
        try:
            name = _text(item, "name")
            strength = _text(item, "strength", required=False)
        except InvalidDrug as exc:
            raise InvalidDrug(f"{field}.{exc.field}", exc.reason) from None
        items.append(ActiveIngredient(name=name, strength=strength))
    return tuple(items)


def _date(value: Any, field: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidDrug(field, f"{value!r} is not a date YYYY-MM-DD")


# --- rebuilding stored records fast ------------------------------------------------------------
# A cold start rebuilds 60,000 products: the frozen dataclasses' __init__ (one
# object.__setattr__ per field) was a third of it. Stored records were validated when they
# were written, so they are rebuilt by filling the instance dictionary directly; equal
# ingredients are shared (a few hundred distinct ones in the national registry).
_INGREDIENTS: dict[tuple[str, str], ActiveIngredient] = {}
_DRUG_FIELDS = tuple(Drug.__dataclass_fields__)


def _ingredient(name: str, strength: str) -> ActiveIngredient:
    key = (name, strength)
    found = _INGREDIENTS.get(key)
    if found is None:
        if len(_INGREDIENTS) > 100_000:
            _INGREDIENTS.clear()
        found = _INGREDIENTS[key] = ActiveIngredient(name, strength)
    return found


def _trusted(*values: Any) -> Drug:
    drug = object.__new__(Drug)
    drug.__dict__.update(zip(_DRUG_FIELDS, values, strict=True))
    return drug
