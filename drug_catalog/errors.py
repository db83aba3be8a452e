"""The drug catalog's domain errors.

Every error says what was wrong in words a pharmacist or an integrator can act on; the
gateway maps them to HTTP answers (``gateway/errors.py``), this package never does.

Hierarchy::

    CatalogError
    ├── InvalidIdentifier          an identifier that cannot be one (reason says why)
    │   └── BadCheckDigit          a GTIN whose check digit is wrong: a typo, not a miss
    ├── UnknownDrug                a well-formed identifier that names no product
    ├── AmbiguousIdentifier        an identifier that names more than one product
    ├── InvalidGs1                 a GS1 element string (scanned pack) that does not parse
    ├── InvalidDrug                a drug record with a bad field (field and reason)
    ├── ImportRowError             one row of an import file refused (line and reason)
    └── ImportFormatError          a whole import file refused (unknown format, no header)
"""

from __future__ import annotations

from collections.abc import Iterable


class CatalogError(Exception):
    """Base class of every drug-catalog error."""


class InvalidIdentifier(CatalogError):
    """``identifier`` cannot be a national code, registration number or GTIN.

    Attributes:
        identifier: the value as given.
        reason: why it was refused (English, one sentence).
    """

    def __init__(self, identifier: str, reason: str) -> None:
        self.identifier = identifier
        self.reason = reason
        super().__init__(f"{identifier!r} is not a valid identifier: {reason}")


class BadCheckDigit(InvalidIdentifier):
    """A GTIN whose last digit is not the GS1 mod-10 check digit of the others.

    Attributes:
        expected: the check digit the other digits call for.
        found: the last digit as given.
    """

    def __init__(self, identifier: str, *, expected: int, found: int) -> None:
        self.expected = expected
        self.found = found
        super().__init__(identifier, f"GTIN check digit is {found}, expected {expected}")


class UnknownDrug(CatalogError):
    """No product in the catalog has this national code, registration number or GTIN."""

    def __init__(self, identifier: str) -> None:
        self.identifier = identifier
        super().__init__(f"no product in the catalog is identified by {identifier!r}")


class AmbiguousIdentifier(CatalogError):
    """The identifier names more than one product (e.g. a registration number shared by two
    national codes, or a 12-digit value that is one product's registration number and another
    product's GTIN-12).

    Attributes:
        identifier: the value as given.
        national_codes: the national codes of the products it names, sorted.
    """

    def __init__(self, identifier: str, national_codes: Iterable[str]) -> None:
        self.identifier = identifier
        self.national_codes = tuple(sorted(national_codes))
        super().__init__(f"{identifier!r} identifies {len(self.national_codes)} products: "
                         f"{', '.join(self.national_codes)}")


class InvalidGs1(CatalogError):
    """A GS1 element string (what a scanner reads off a pack) that cannot be parsed.

    Attributes:
        text: the element string as given.
        reason: what is wrong, naming the Application Identifier when one is at fault.
        ai: that Application Identifier (``"01"``, ``"17"``, ``"10"``, ``"21"``) or None.
    """

    def __init__(self, text: str, reason: str, *, ai: str | None = None) -> None:
        self.text = text
        self.reason = reason
        self.ai = ai
        super().__init__(f"invalid GS1 element string: {reason}")


class InvalidDrug(CatalogError):
    """A drug record with a missing or invalid field.

    Attributes:
        field: the field's name as in the drug resource, with an index for list items
            (``"gtins[1]"``, ``"active_ingredients[0].name"``).
        reason: what is wrong with it.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class ImportRowError(CatalogError):
    """One row of an import file was refused; the other rows still load.

    Attributes:
        line: the 1-based line number in the file (a CSV header is line 1).
        reason: why the row was refused.
    """

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}")


class ImportFormatError(CatalogError):
    """A whole import file was refused: unknown format, unreadable encoding, or a CSV without
    the columns the format needs."""
