"""The ``users`` collection (its only owner): the people who work in the console.

A user is a person who acts as one party (a pharmacy's pharmacist, a clinic's staff, a
regulator's inspector) with that party's role and rights; the party's machines keep their
client secret, its people each have a username and a password. Passwords are generated here,
shown once, and stored only as Argon2id hashes (the party store's hasher, in its bounded pool:
a person may change theirs to something guessable). A disabled party disables its users: :meth:`UserStore.authenticate`
answers the user, and the caller refuses it unless the party is active too.

One document per user: ``{_id: username (lower case), party_id, status, password_hash,
created_at, updated_at, password_changed_at, last_login_at}``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from gateway.core.errors import Conflict, Invalid, NotFound, error_item
from gateway.parties.secrets import SecretHasher

COLLECTION = "users"
INDEXES = {COLLECTION: [IndexModel([("party_id", ASCENDING), ("_id", ASCENDING)], name="party")]}

#: 3-64 characters: letters, digits, ".", "_", "-", "@" (an e-mail address is fine), starting
#: with a letter or digit; stored and compared in lower case.
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


class UserStore:
    """Users in MongoDB; ``hasher`` is the party store's: passwords are Argon2id in its
    bounded pool (a person may choose one), never its fast form for generated secrets."""

    def __init__(self, database: Database, *, hasher: SecretHasher) -> None:
        self.collection = database[COLLECTION]
        self.hasher = hasher

    def create(self, *, party_id: str, role: str, username: str) -> tuple[User, str]:
        """Create a user of the party ``party_id`` (whose role is ``role``); returns it with its
        password, which is not stored and not shown again.

        Raises:
            UserError: a bad username, or a party whose people do not use the console.
            UserExists: the username is taken.
            gateway.core.errors.RateLimited: the Argon2id pool is busy.
        """
        name = normalise_username(username)
        if role not in CONSOLE_ROLES:
            raise UserError(f"a {role}'s people do not use the console (only "
                            f"{', '.join(CONSOLE_ROLES)})")
        password = new_password()
        now = datetime.now(UTC)
        document = {"_id": name, "party_id": party_id, "status": "active",
                    "password_hash": self.hasher.hash_password(password), "created_at": now,
                    "updated_at": now, "password_changed_at": now, "last_login_at": None}
        try:
            self.collection.insert_one(document)
        except DuplicateKeyError:
            raise UserExists(f"the username {name} is taken",
                             errors=[error_item("/username", "user.exists",
                                                "Tên đăng nhập đã có người dùng")]) from None
        return User.from_document(document), password

    def get(self, username: str) -> User | None:
        if not isinstance(username, str):
            return None
        doc = self.collection.find_one({"_id": username.strip().lower()}, {"password_hash": 0})
        return User.from_document(doc) if doc else None

    def authenticate(self, username: str, password: str) -> User | None:
        """The active user whose password this is, or None; the same Argon2 work either way
        (an unknown username costs what a wrong password does).

        Raises:
            gateway.core.errors.RateLimited: the Argon2id pool is busy.
        """
        name = username.strip().lower() if isinstance(username, str) else ""
        doc = (self.collection.find_one({"_id": name})
               if USERNAME.match(name) else None)
        if not self.hasher.verify_password(doc["password_hash"] if doc else None,
                                           password[:PASSWORD_MAX_CHARS]):
            return None
        if doc is None or doc["status"] != "active":
            return None
        changes: dict[str, Any] = {"last_login_at": datetime.now(UTC)}
        if self.hasher.needs_rehash(doc["password_hash"]):
            changes["password_hash"] = self.hasher.hash_password(password)
        self.collection.update_one({"_id": name}, {"$set": changes})
        return User.from_document({**doc, **changes})

    def set_password(self, username: str, password: str) -> None:
        """Store a new password for the user.

        Raises:
            UnknownUser.
        """
        now = datetime.now(UTC)
        result = self.collection.update_one(
            {"_id": username}, {"$set": {"password_hash": self.hasher.hash_password(password),
                                         "password_changed_at": now, "updated_at": now}})
        if result.matched_count == 0:
            raise UnknownUser(f"no user {username}")

    def reset_password(self, username: str) -> str:
        """Give the user a generated password (returned, once).

        Raises:
            UnknownUser.
        """
        password = new_password()
        self.set_password(self._existing(username), password)
        return password

    def set_status(self, username: str, status: str) -> User:
        """Enable or disable a user.

        Raises:
            UnknownUser.
        """
        if status not in STATUSES:
            raise UserError("status is active or disabled")
        name = self._existing(username)
        self.collection.update_one({"_id": name}, {"$set": {"status": status,
                                                            "updated_at": datetime.now(UTC)}})
        user = self.get(name)
        if user is None:
            raise UnknownUser(f"no user {name}")
        return user

    def list(self, party_id: str | None = None) -> list[User]:
        query = {"party_id": party_id} if party_id else {}
        return [User.from_document(doc)
                for doc in self.collection.find(query, {"password_hash": 0}).sort("_id", 1)]

    def _existing(self, username: str) -> str:
        user = self.get(username)
        if user is None:
            raise UnknownUser(f"no user {username}")
        return user.username
