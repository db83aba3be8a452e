"""The people who work in the console (stored by :mod:`gateway.auth.user_store`).

A user is a person who acts as one party (a pharmacy's pharmacist, a clinic's staff, a
regulator's inspector) with that party's role and rights; the party's machines keep their
client secret, its people each have a username and a password. Passwords are generated here,
shown once, and stored only as Argon2id hashes (the party store's hasher, in its bounded pool:
a person may change theirs to something guessable). A disabled party disables its users:
:meth:`gateway.auth.user_store.UserStore.authenticate` answers the user, and the caller
refuses it unless the party is active too.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.core.errors import Conflict, Invalid, NotFound, error_item

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{2,63}$")
#: Roles whose people use the console: a clinic's or doctor's staff, a pharmacy's pharmacists,
#: a regulator's inspectors. Administrators work with the command line and the API.
CONSOLE_ROLES = ("clinic", "doctor", "pharmacy", "regulator")
#: Longest password accepted: Argon2 takes any length, this bounds the work of one attempt.
PASSWORD_MAX_CHARS = 1024
STATUSES = ("active", "disabled")


class UserError(Invalid):
    """A user cannot be created or changed as asked (the message says why)."""


class UserExists(Conflict, UserError):
    """The username is taken."""


class UnknownUser(NotFound, UserError):
    """No user has this username."""


@dataclass(frozen=True)
class User:
    username: str
    party_id: str
    status: str
    created_at: datetime | None = None
    password_changed_at: datetime | None = None
    last_login_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> User:
        return cls(username=doc["_id"], party_id=doc["party_id"], status=doc["status"],
                   created_at=doc.get("created_at"),
                   password_changed_at=doc.get("password_changed_at"),
                   last_login_at=doc.get("last_login_at"))

    def public(self) -> dict[str, Any]:
        return {"username": self.username, "party_id": self.party_id, "status": self.status,
                "created_at": _iso(self.created_at),
                "password_changed_at": _iso(self.password_changed_at),
                "last_login_at": _iso(self.last_login_at)}


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def normalise_username(username: str) -> str:
    """The stored form of a username: trimmed, lower case.

    Raises:
        UserError: not 3-64 letters, digits, ".", "_", "-" or "@" starting with a letter or
            digit.
    """
    name = username.strip().lower() if isinstance(username, str) else ""
    if not USERNAME.match(name):
        raise UserError("username: 3-64 letters, digits, '.', '_', '-' or '@', starting with a "
                        "letter or digit",
                        errors=[error_item("/username", "user.username",
                                           "Tên đăng nhập gồm 3-64 chữ cái không dấu, chữ số, "
                                           "'.', '_', '-' hoặc '@', bắt đầu bằng chữ hoặc số")])
    return name


def new_password() -> str:
    """A generated password: 20 URL-safe characters (120 random bits)."""
    return secrets.token_urlsafe(15)


