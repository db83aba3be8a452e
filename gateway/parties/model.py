"""A party: a clinic, doctor, pharmacy, regulator or administrator, as the gateway knows it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gateway.core.errors import Conflict, Invalid, NotFound


class Role(StrEnum):
    """What a party is; its token's ``role`` claim and ``requires(...)`` name these."""

    CLINIC = "clinic"
    DOCTOR = "doctor"
    PHARMACY = "pharmacy"
    REGULATOR = "regulator"
    ADMIN = "admin"


ROLES: tuple[str, ...] = tuple(role.value for role in Role)
FACILITY_CODE = re.compile(r"^[0-9A-Za-z]{5}$")
PARTY_CODE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,49}$")
#: A Vietnamese phone number as the national interface writes it: 0 then 9 or 10 digits
#: (mobile 0xx xxx xxxx, landline 02xx xxx xxxx), or +84 instead of the 0.
PHONE = re.compile(r"^(0|\+84)[1-9][0-9]{8,9}$")
NAME_MAX_CHARS = 255
ADDRESS_MAX_CHARS = 500


class PartyError(Invalid):
    """A party cannot be created or changed as asked (the message says why)."""


class PartyExists(Conflict, PartyError):
    """The role and code are taken."""


class UnknownParty(NotFound, PartyError):
    """No party has this client id."""


class LastAdmin(Conflict, PartyError):
    """Disabling this administrator would leave no enabled one."""


class PartyConflict(Conflict, PartyError):
    """Other changes of the same party kept crossing this one."""


@dataclass(frozen=True)
class Party:
    client_id: str
    role: str
    code: str
    name: str
    facility: str | None
    status: str
    address: str | None = None
    phone: str | None = None
    #: changes of credentials so far (see gateway.parties.store): a token of another
    #: generation is no longer valid
    generation: int = 0

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def reachable(self) -> bool:
        """Has the contact details a national dispense report carries (address and phone)."""
        return bool(self.address and self.phone)

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Party:
        return cls(client_id=doc["_id"], role=doc["role"], code=doc["code"], name=doc["name"],
                   facility=doc.get("facility"), status=doc["status"],
                   address=doc.get("address"), phone=doc.get("phone"),
                   generation=doc.get("generation", 0))

    def public(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "role": self.role, "code": self.code,
                "name": self.name, "facility": self.facility, "status": self.status,
                "address": self.address, "phone": self.phone}


def pharmacy_key(code: str) -> str:
    """The form in which pharmacy codes are compared, the one rule wherever a pharmacy is
    matched by its code (a nomination checked at dispense, the webhook a delivery goes to,
    the pharmacies told of a cancellation): case-insensitively, ``NT0001`` = ``nt0001``."""
    return code.casefold()


def client_id_for(role: str, code: str, facility: str | None) -> str:
    if role == Role.DOCTOR:
        return f"doctor-{facility}-{code}"
    return f"{role}-{code}"


def checked_contact(*, name: str | None = None, address: str | None = None,
                    phone: str | None = None) -> dict[str, str]:
    """The given contact fields, trimmed and checked (None: not given).

    Raises:
        PartyError: a blank or too long name, a too long address, or a phone number not in
            the national format.
    """
    values: dict[str, str] = {}
    if name is not None:
        if not isinstance(name, str) or not name.strip():
            raise PartyError("name must not be blank")
        if len(name.strip()) > NAME_MAX_CHARS:
            raise PartyError(f"name: at most {NAME_MAX_CHARS} characters")
        values["name"] = name.strip()
    if address is not None:
        if not isinstance(address, str) or not address.strip():
            raise PartyError("address must not be blank")
        if len(address.strip()) > ADDRESS_MAX_CHARS:
            raise PartyError(f"address: at most {ADDRESS_MAX_CHARS} characters")
        values["address"] = address.strip()
    if phone is not None:
        compact = phone.replace(" ", "").replace(".", "") if isinstance(phone, str) else ""
        if not PHONE.match(compact):
            raise PartyError("phone: a Vietnamese number, 0 (or +84) then 9 or 10 digits")
        values["phone"] = compact
    return values
