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

The number of enabled admins is also kept in ``party_counts`` (this store owns it too), so
that disabling an admin is decided one after the other in one conditional write: the count
is taken down by one only while it is above one, *before* the admin's status changes, and an
admin's count goes up only *after* it is created or enabled. Each step is one single-document
write (no transaction, so the same on a standalone server, a replica set and the embedded
database); a crash between the two writes of a change leaves the count low, never high, so it
can refuse a disable it need not have, never allow the last one.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError
from pymongo.results import UpdateResult

from gateway.core.changes import DocumentCache
from gateway.parties.model import (
    FACILITY_CODE,
    PARTY_CODE,
    ROLES,
    LastAdmin,
    Party,
    PartyConflict,
    PartyError,
    PartyExists,
    Role,
    UnknownParty,
    checked_contact,
    client_id_for,
)
from gateway.parties.secrets import SecretHasher

COLLECTION = "parties"
#: per-role counts of enabled parties; one document, ``{_id: "admin", enabled: n}``
COUNTS = "party_counts"
ADMIN = "admin"
#: how often a change of an admin's status is tried again when another change of the same
#: admin crosses it
STATUS_ATTEMPTS = 5
INDEXES = {COLLECTION: [
    IndexModel([("role", ASCENDING), ("facility", ASCENDING), ("code", ASCENDING)],
               unique=True, name="role_facility_code"),
]}


def _last_admin(client_id: str) -> LastAdmin:
    return LastAdmin(f"{client_id} is the last enabled admin: enable or create another admin "
                     "first (erx-gateway parties create --role admin)")


class PartyStore:
    """Parties in MongoDB; ``hasher`` stores and checks their secrets; ``cache`` (None: none)
    keeps party documents by client id while the change feed says they are current."""

    def __init__(self, database: Database[dict[str, Any]], *, hasher: SecretHasher,
                 cache: DocumentCache | None = None) -> None:
        self.collection = database[COLLECTION]
        self.counts = database[COUNTS]
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
        if role == Role.CLINIC:
            if not FACILITY_CODE.match(code):
                raise PartyError("a clinic code is the 5-character facility code")
            facility = code
        elif role == Role.DOCTOR:
            if not facility or not FACILITY_CODE.match(facility):
                raise PartyError("a doctor needs --facility, a 5-character facility code")
            if not PARTY_CODE.match(code):
                raise PartyError("code: 1-50 letters, digits, '.', '_' or '-'")
        else:
            if facility:
                raise PartyError(f"a {role} belongs to no facility")
            if not PARTY_CODE.match(code):
                raise PartyError("code: 1-50 letters, digits, '.', '_' or '-'")
        if role == Role.PHARMACY and self._pharmacy_twin(code):
            raise PartyExists(f"a pharmacy with code {code} exists already (pharmacy codes "
                              "compare case-insensitively)")
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
        if role == ADMIN:
            self._admin_count()
        try:
            self.collection.insert_one(document)
        except DuplicateKeyError:
            raise PartyExists(f"a {role} with code {code} exists already") from None
        if role == ADMIN:
            self._count_admins(+1)
        return party, secret

    def _pharmacy_twin(self, code: str) -> bool:
        """A pharmacy whose code is ``code`` as ``pharmacy_key`` compares codes (a
        nomination, a webhook and the dispenses shown as its own could not tell them apart)."""
        return self.collection.find_one(
            {"role": "pharmacy", "code": {"$regex": f"^{re.escape(code)}$", "$options": "i"}},
            {"_id": 1}) is not None

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
        role, code = (Role.CLINIC, facility) if doctor is None else (Role.DOCTOR, doctor)
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
            UnknownParty: no such client id; LastAdmin: it is the last enabled admin;
            PartyConflict: an admin's status kept changing under this change.
        """
        if status not in ("active", "disabled"):
            raise PartyError("status is active or disabled")
        doc = self._load(client_id)
        if doc is None:
            raise UnknownParty(f"no party {client_id}")
        if doc.get("role") == ADMIN:
            self._set_admin_status(client_id, status)
        else:
            # update_one, then read: findAndModify scans the collection on the embedded database.
            self.collection.update_one({"_id": client_id}, self._status_change(status))
        self._changed(client_id)
        party = self.get(client_id)
        if party is None:
            raise UnknownParty(f"no party {client_id}")
        return party

    @staticmethod
    def _status_change(status: str) -> dict[str, Any]:
        return {"$set": {"status": status, "updated_at": datetime.now(UTC)},
                "$inc": {"generation": 1}}

    def _set_admin_status(self, client_id: str, status: str) -> None:
        """Change an admin's status, keeping the count of enabled admins (never below one).

        Every write is conditional on the status it changes from, so that a change counts
        only when it happened, whatever other change crosses it.
        """
        self._admin_count()
        other = "disabled" if status == "active" else "active"
        for _ in range(STATUS_ATTEMPTS):
            if status == "disabled" and self._matches(client_id, other):
                taken = self.counts.update_one({"_id": ADMIN, "enabled": {"$gt": 1}},
                                               {"$inc": {"enabled": -1}})
                if not taken.matched_count:
                    raise _last_admin(client_id)
                if self._changed_from(client_id, other, status).matched_count:
                    return
                self._count_admins(+1)  # disabled by another change meanwhile: give it back
            elif status == "active" and self._changed_from(client_id, other, status).matched_count:
                self._count_admins(+1)
                return
            # already in that status: a new generation all the same, as for any party
            if self._changed_from(client_id, status, status).matched_count:
                return
        raise PartyConflict(f"{client_id} kept changing; try again")

    def _matches(self, client_id: str, status: str) -> bool:
        return self.collection.find_one({"_id": client_id, "status": status}, {"_id": 1}) is not None

    def _changed_from(self, client_id: str, before: str, status: str) -> UpdateResult:
        return self.collection.update_one({"_id": client_id, "status": before},
                                          self._status_change(status))

    def _admin_count(self) -> None:
        """Make sure the count of enabled admins exists; the first time, count them.

        Called before any change of an admin, so that a count taken here never includes a
        change whose own count comes after it.
        """
        if self.counts.find_one({"_id": ADMIN}, {"_id": 1}) is not None:
            return
        enabled = self.collection.count_documents({"role": ADMIN, "status": "active"})
        with contextlib.suppress(DuplicateKeyError):  # counted by another process first
            self.counts.insert_one({"_id": ADMIN, "enabled": enabled})

    def _count_admins(self, change: int) -> None:
        self.counts.update_one({"_id": ADMIN}, {"$inc": {"enabled": change}})

    def enabled_admins(self) -> int:
        """The count of enabled admins that disabling one is decided on (never above the true
        number; below it only after a crash in the middle of a change)."""
        self._admin_count()
        doc = self.counts.find_one({"_id": ADMIN}) or {}
        return int(doc.get("enabled", 0))

    def check_can_disable(self, client_id: str) -> None:
        """Raises LastAdmin when ``client_id`` is an enabled admin that :meth:`set_status` would
        not disable now (an early answer: the decision is the conditional write there)."""
        doc = self._load(client_id)
        if doc is None or doc.get("role") != ADMIN or doc.get("status") != "active":
            return
        if self.enabled_admins() <= 1:
            raise _last_admin(client_id)

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
        if role != Role.DOCTOR:  # a doctor's client id also names its facility
            doc = self._by_id(client_id_for(role, code, None))
            return doc if doc is not None and doc.get("role") == role else None
        return self.collection.find_one({"role": role, "code": code}, {"secret_hash": 0})
