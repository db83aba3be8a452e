"""The ``webhooks`` collection (its only owner): one webhook per pharmacy code."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from pymongo.database import Database

from gateway.core.changes import DocumentCache
from gateway.parties.model import pharmacy_key

COLLECTION = "webhooks"


class WebhookStore:
    """One webhook per pharmacy in ``webhooks``, its ``_id`` the pharmacy's code compared as
    every pharmacy code is (:func:`gateway.parties.model.pharmacy_key`: a nomination of
    ``nt0001`` reaches the webhook of ``NT0001``); ``cache`` (None: none) keeps them while the
    change feed says they are current. A webhook stored before codes were compared so is
    still found under its code as registered, and moves to its key when registered again."""

    def __init__(self, database: Database[dict[str, Any]], *,
                 cache: DocumentCache | None = None) -> None:
        self.collection = database[COLLECTION]
        self.cache = cache

    def _load(self, key: Any) -> dict[str, Any] | None:
        return self.collection.find_one({"_id": key})

    def get(self, pharmacy: str) -> dict[str, Any] | None:
        key = pharmacy_key(pharmacy)
        found = self._load(key) if self.cache is None else self.cache.get(key, self._load)
        if found is None and key != pharmacy:  # registered under its code as written
            found = self._load(pharmacy)
        return found

    def put(self, pharmacy: str, *, url: str, events: list[str]) -> dict[str, Any]:
        now = datetime.now(UTC)
        key = pharmacy_key(pharmacy)
        stored = self.collection.find_one_and_update(
            {"_id": key},
            {"$set": {"url": url, "events": events, "updated_at": now},
             "$setOnInsert": {"created_at": now}},
            upsert=True, return_document=True)
        if key != pharmacy:
            self.collection.delete_one({"_id": pharmacy})
        if self.cache is not None:
            self.cache.invalidate(key)
        return cast(dict[str, Any], stored)  # upserted: never None
