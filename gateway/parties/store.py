"""The ``parties`` collection (its only owner): parties and their client secrets.

A party is one document in ``parties``; its ``_id`` is the OAuth client id. Secrets are
generated here, shown once, and stored only hashed (:mod:`gateway.parties.secrets`: a fast
keyed hash, since a generated secret has 256 bits; older Argon2id hashes are replaced at the
next login).

``generation`` counts changes of a party's credentials: rotating its secret, disabling it and
enabling it each add one. Tokens and remembered app-keys carry the generation they were issued
under, and every request compares it with the stored one, so all of them end at once, in every
process.

Reads by client id (every authenticated request) go through an in-process
:class:`gateway.core.changes.DocumentCache` of whole party documents (every field but the
secret hash, so ``status`` and ``generation`` are compared through it), which the process's
change feed empties of a party as soon as any process changes it; this store also forgets a
party it changes itself at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from gateway.core.changes import DocumentCache
from gateway.parties.model import (
    FACILITY_CODE,
    PARTY_CODE,
    ROLES,
    LastAdmin,
    Party,
    PartyError,
    PartyExists,
    UnknownParty,
    checked_contact,
    client_id_for,
)
from gateway.parties.secrets import SecretHasher

COLLECTION = "parties"
INDEXES = {COLLECTION: [
    IndexModel([("role", ASCENDING), ("facility", ASCENDING), ("code", ASCENDING)],
               unique=True, name="role_facility_code"),
]}


class PartyStore:
    """Parties in MongoDB; ``hasher`` stores and checks their secrets; ``cache`` (None: none)
    keeps party documents by client id while the change feed says they are current."""

    def __init__(self, database: Database[dict[str, Any]], *, hasher: SecretHasher,
                 cache: DocumentCache | None = None) -> None:
        self.collection = database[COLLECTION]
        self.hasher = hasher
        self.cache = cache

    def _load(self, client_id: Any) -> dict[str, Any] | None:
        return self.collection.find_one({"_id": client_id}, {"secret_hash": 0})

    def _by_id(self, client_id: Any) -> dict[str, Any] | None:
        """The stored party (less its secret hash), from the cache when it is current."""
        if not isinstance(client_id, str):
            return None
        if self.cache is None:
            return self._load(client_id)
        return self.cache.get(client_id, self._load)

    def _changed(self, client_id: str) -> None:
        if self.cache is not None:
            self.cache.invalidate(client_id)

    def create(self, *, role: str, code: str, name: str, facility: str | None = None,
               address: str | None = None, phone: str | None = None) -> tuple[Party, str]:
        """Create a party; returns it with its secret, which is not stored and not shown again.

        Raises:
            PartyError: bad role, code, facility, name, address or phone; PartyExists: the
                code is taken.
        """
        if role not in ROLES:
            raise PartyError(f"role must be one of {', '.join(ROLES)}")
        contact = checked_contact(name=name, address=address, phone=phone)
        if role == "clinic":
            if not FACILITY_CODE.match(code):
                raise PartyError("a clinic code is the 5-character facility code")
            facility = code
        elif role == "doctor":
            if not facility or not FACILITY_CODE.match(facility):
                raise PartyError("a doctor needs --facility, a 5-character facility code")
            if not PARTY_CODE.match(code):
                raise PartyError("code: 1-50 letters, digits, '.', '_' or '-'")
        else:
            if facility:
                raise PartyError(f"a {role} belongs to no facility")
            if not PARTY_CODE.match(code):
                raise PartyError("code: 1-50 letters, digits, '.', '_' or '-'")
        secret = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        party = Party(client_id=client_id_for(role, code, facility), role=role, code=code,
                      name=contact["name"], facility=facility, status="active",
                      address=contact.get("address"), phone=contact.get("phone"))
        document = {"_id": party.client_id, "role": role, "code": code, "name": party.name,
                    "facility": facility, "status": "active",
                    **{key: value for key, value in contact.items() if key != "name"},
                    "secret_hash": self.hasher.hash_generated(secret), "generation": 0,
                    "created_at": now, "updated_at": now}
        try:
            self.collection.insert_one(document)
        except DuplicateKeyError:
            raise PartyExists(f"a {role} with code {code} exists already") from None
        return party, secret

    def get(self, client_id: str) -> Party | None:
        doc = self._by_id(client_id)
        return Party.from_document(doc) if doc else None

    def fresh(self, client_id: str) -> Party | None:
        """The party as stored now, read from the database (never the cache): what a change to
        parties checks its caller against, so that no revocation is late by a cache's delay."""
        doc = self._load(client_id) if isinstance(client_id, str) else None
        return Party.from_document(doc) if doc else None

    def find_national(self, facility: str, doctor: str | None = None) -> Party | None:
        """The party a national login names: the clinic of ``facility``, or its doctor."""
        role, code = ("clinic", facility) if doctor is None else ("doctor", doctor)
        if not isinstance(facility, str) or not isinstance(code, str):
            return None
        doc = self._by_id(client_id_for(role, code, facility))
        if doc is None or (doc.get("role"), doc.get("facility"), doc.get("code")) != (
                role, facility, code):
            return None
        return Party.from_document(doc)

    def authenticate(self, client_id: str, secret: str) -> Party | None:
        """The active party whose secret this is, or None (an unknown client id costs what a
        wrong secret costs).

        Raises:
            gateway.core.errors.RateLimited: a legacy Argon2id check found the pool busy.
        """
        doc = self.collection.find_one({"_id": client_id}) if isinstance(client_id, str) else None
        stored = doc["secret_hash"] if doc else None
        if not self.hasher.verify(stored, secret) or doc is None or doc["status"] != "active":
            return None
        if not self.hasher.is_fast(doc["secret_hash"]):  # a legacy Argon2id hash
            self.collection.update_one({"_id": client_id, "secret_hash": doc["secret_hash"]},
                                       {"$set": {"secret_hash": self.hasher.hash_generated(secret)}})
            self._changed(client_id)
        return Party.from_document(doc)

    def set_status(self, client_id: str, status: str) -> Party:
        """Enable or disable a party; a disabled party's tokens stop working at once.

        Raises:
            UnknownParty: no such client id.
        """
        if status not in ("active", "disabled"):
            raise PartyError("status is active or disabled")
        if status == "disabled":
            self.check_can_disable(client_id)
        # update_one, then read: findAndModify scans the collection on the embedded database.
        result = self.collection.update_one(
            {"_id": client_id},
            {"$set": {"status": status, "updated_at": datetime.now(UTC)},
             "$inc": {"generation": 1}})
        self._changed(client_id)
        party = self.get(client_id) if result.matched_count else None
        if party is None:
            raise UnknownParty(f"no party {client_id}")
        return party

    def check_can_disable(self, client_id: str) -> None:
        """Raises LastAdmin when ``client_id`` is an enabled admin and no other admin is
        enabled (nobody could then administer the gateway over HTTP)."""
        doc = self._load(client_id)
        if doc is None or doc.get("role") != "admin" or doc.get("status") != "active":
            return
        other = self.collection.find_one({"role": "admin", "status": "active",
                                          "_id": {"$ne": client_id}}, {"_id": 1})
        if other is None:
            raise LastAdmin(f"{client_id} is the last enabled admin: enable or create another "
                            "admin first (erx-gateway parties create --role admin)")

    def update(self, client_id: str, *, name: str | None = None, address: str | None = None,
               phone: str | None = None) -> Party:
        """Change a party's name, address or phone (those given).

        Raises:
            PartyError: a value is not acceptable, or nothing is given; UnknownParty.
        """
        changes = checked_contact(name=name, address=address, phone=phone)
        if not changes:
            raise PartyError("give at least one of name, address, phone")
        result = self.collection.update_one(
            {"_id": client_id}, {"$set": {**changes, "updated_at": datetime.now(UTC)}})
        self._changed(client_id)
        party = self.get(client_id) if result.matched_count else None
        if party is None:
            raise UnknownParty(f"no party {client_id}")
        return party

    def rotate_secret(self, client_id: str) -> str:
        """A new secret for the party; every earlier token and app-key ends (generation + 1).

        Raises:
            UnknownParty.
        """
        secret = secrets.token_urlsafe(32)
        result = self.collection.update_one(
            {"_id": client_id},
            {"$set": {"secret_hash": self.hasher.hash_generated(secret),
                      "updated_at": datetime.now(UTC)},
             "$inc": {"generation": 1}})
        self._changed(client_id)
        if result.matched_count == 0:
            raise UnknownParty(f"no party {client_id}")
        return secret

    def list(self, role: str | None = None) -> list[Party]:
        query = {"role": role} if role else {}
        return [Party.from_document(doc)
                for doc in self.collection.find(query, {"secret_hash": 0}).sort("_id", 1)]

    def names(self, client_ids: Iterable[str]) -> dict[str, str]:
        """The names of the given parties, by client id (unknown ids are left out)."""
        wanted = sorted(set(client_ids))
        if not wanted:
            return {}
        return {doc["_id"]: str(doc["name"])  # every stored party has a name (Party.from_document)
                for doc in self.collection.find({"_id": {"$in": wanted}}, {"name": 1})}

    def document(self, role: str, code: str | None) -> dict[str, Any] | None:
        """The stored record (never its secret hash) of the ``role`` party with ``code``
        (not to be changed: it may be the cache's)."""
        if not isinstance(code, str):
            return None
        if role != "doctor":  # a doctor's client id also names its facility
            doc = self._by_id(client_id_for(role, code, None))
            return doc if doc is not None and doc.get("role") == role else None
        return self.collection.find_one({"role": role, "code": code}, {"secret_hash": 0})
