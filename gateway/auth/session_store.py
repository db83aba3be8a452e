"""The ``console_sessions`` collection (its only owner): one document per console session,
keyed by the SHA-256 of its id (:mod:`gateway.auth.sessions`)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.database import Database

from gateway.auth.users import User

COLLECTION = "console_sessions"


INDEXES = {COLLECTION: [
    IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at_ttl"),
    IndexModel([("username", ASCENDING)], name="username"),
]}


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


class SessionStore:
    def __init__(self, database: Database[dict[str, Any]]) -> None:
        self.collection = database[COLLECTION]

    def create(self, user: User, *, now: datetime, absolute: timedelta, address: str) -> str:
        session_id = secrets.token_urlsafe(32)
        self.collection.insert_one({"_id": _digest(session_id), "username": user.username,
                                    "party_id": user.party_id, "created_at": now,
                                    "seen_at": now, "expires_at": now + absolute,
                                    "address": address[:64]})
        return session_id

    def get(self, session_id: str) -> dict[str, Any] | None:
        return self.collection.find_one({"_id": _digest(session_id)})

    def touch(self, session_id: str, now: datetime) -> None:
        self.collection.update_one({"_id": _digest(session_id)}, {"$set": {"seen_at": now}})

    def end(self, session_id: str) -> bool:
        return self.collection.delete_one({"_id": _digest(session_id)}).deleted_count == 1

    def end_user(self, username: str, *, keep: str | None = None) -> int:
        """End every session of ``username`` (but ``keep``); how many ended."""
        query: dict[str, Any] = {"username": username}
        if keep is not None:
            query["_id"] = {"$ne": _digest(keep)}
        return self.collection.delete_many(query).deleted_count
