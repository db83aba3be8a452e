"""A party: a clinic, doctor, pharmacy, regulator or administrator, as the gateway knows it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ROLES = ("clinic", "doctor", "pharmacy", "regulator", "admin")
FACILITY_CODE = re.compile(r"^[0-9A-Za-z]{5}$")
PARTY_CODE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,49}$")


class PartyError(ValueError):
    """A party cannot be created or changed as asked (the message says why)."""


class PartyExists(PartyError):
    pass


class UnknownParty(PartyError):
    pass


@dataclass(frozen=True)
class Party:
    client_id: str
    role: str
    code: str
    name: str
    facility: str | None
    status: str

    @property
    def active(self) -> bool:
        return self.status == "active"

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Party:
        return cls(client_id=doc["_id"], role=doc["role"], code=doc["code"], name=doc["name"],
                   facility=doc.get("facility"), status=doc["status"])

    def public(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "role": self.role, "code": self.code,
                "name": self.name, "facility": self.facility, "status": self.status}


def client_id_for(role: str, code: str, facility: str | None) -> str:
    if role == "doctor":
        return f"doctor-{facility}-{code}"
    return f"{role}-{code}"
