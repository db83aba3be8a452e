"""The ``users`` collection (its only owner): the console's people (:mod:`gateway.auth.users`),
one document per user: ``{_id: username (lower case), party_id, status, password_hash,
created_at, updated_at, password_changed_at, last_login_at}``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from gateway.auth.users import (
    CONSOLE_ROLES,
    PASSWORD_MAX_CHARS,
    STATUSES,
    USERNAME,
    UnknownUser,
    User,
    UserError,
    UserExists,
    new_password,
    normalise_username,
)
from gateway.core.errors import error_item
from gateway.parties.secrets import SecretHasher

COLLECTION = "users"


INDEXES = {COLLECTION: [IndexModel([("party_id", ASCENDING), ("_id", ASCENDING)], name="party")]}

#: 3-64 characters: letters, digits, ".", "_", "-", "@" (an e-mail address is fine), starting
#: with a letter or digit; stored and compared in lower case.


class UserStore:
    """Users in MongoDB; ``hasher`` is the party store's: passwords are Argon2id in its
    bounded pool (a person may choose one), never its fast form for generated secrets."""

    def __init__(self, database: Database[dict[str, Any]], *, hasher: SecretHasher) -> None:
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
