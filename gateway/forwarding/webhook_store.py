"""The ``webhooks`` collection (its only owner): one webhook per pharmacy code."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from pymongo.database import Database

from gateway.core.changes import DocumentCache

COLLECTION = "webhooks"


class WebhookStore:
    """One webhook per pharmacy code in ``webhooks`` (``_id`` = pharmacy code); ``cache``
    (None: none) keeps them while the change feed says they are current."""

    def __init__(self, database: Database[dict[str, Any]], *, cache: DocumentCache | None = None) -> None:
        self.collection = database[COLLECTION]
        self.cache = cache

    def _load(self, pharmacy: Any) -> dict[str, Any] | None:
        return self.collection.find_one({"_id": pharmacy})

    def get(self, pharmacy: str) -> dict[str, Any] | None:
        if self.cache is None:
            return self._load(pharmacy)
        return self.cache.get(pharmacy, self._load)

    def put(self, pharmacy: str, *, url: str, events: list[str]) -> dict[str, Any]:
        now = datetime.now(UTC)
        stored = self.collection.find_one_and_update(
            {"_id": pharmacy},
            {"$set": {"url": url, "events": events, "updated_at": now},
             "$setOnInsert": {"created_at": now}},
            upsert=True, return_document=True)
        if self.cache is not None:
            self.cache.invalidate(pharmacy)
        return cast(dict[str, Any], stored)  # upserted: never None
