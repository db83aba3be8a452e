"""Brute-force protection for every way of presenting a secret (token endpoint, national
logins, pharmacy ``app-key``): failed attempts per client id and address are counted, and
past ``LOGIN_FAILURE_LIMIT`` the answer is 429 with ``Retry-After`` until the window passes.
Successful logins are not counted.

Counters live in MongoDB (collections ``ratelimit_counters`` / ``ratelimit_windows`` of the
gateway's database, through the ``limits`` library, on the process's one client) so the limit
holds across every worker and machine.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pymongo
from limits import RateLimitItem, parse
from limits.storage import MongoDBStorage
from limits.strategies import FixedWindowRateLimiter

from gateway.core.config import ConfigError
from gateway.core.errors import RateLimited


class SharedClientStorage(MongoDBStorage):
    """limits' MongoDB storage on the gateway's own client: one client per process, which
    the storage neither creates nor closes."""

    STORAGE_SCHEME = ["erx-shared-mongodb"]

    def __init__(self, client: pymongo.MongoClient, database: str) -> None:
        self._shared_client = client
        super().__init__("erx-shared-mongodb://", database_name=database,
                         counter_collection_name="ratelimit_counters",
                         window_collection_name="ratelimit_windows")

    def _init_mongo_client(self, uri: str | None, **options: Any) -> pymongo.MongoClient:
        return self._shared_client

    def __del__(self) -> None:
        pass  # the client belongs to the app (gateway.core.db), which closes it


class LoginLimiter:
    def __init__(self, *, client: pymongo.MongoClient, database: str, limit: str) -> None:
        self.item: RateLimitItem | None = parse(limit) if limit else None
        self.limiter = FixedWindowRateLimiter(SharedClientStorage(client, database))

    @staticmethod
    def _key(client_id: str, address: str) -> str:
        return f"login\x1f{address}\x1f{client_id[:200]}"

    def check(self, client_id: str, address: str) -> None:
        """Refuse the attempt if this client id and address failed too often.

        Raises:
            gateway.core.errors.RateLimited: with the seconds until the window passes.
        """
        if self.item is None:
            return
        key = self._key(client_id, address)
        if not self.limiter.test(self.item, key):
            reset = self.limiter.get_window_stats(self.item, key).reset_time
            wait = max(1, math.ceil(reset - time.time()))
            raise RateLimited("too many failed logins; try again later", retry_after=wait)

    def failed(self, client_id: str, address: str) -> None:
        if self.item is not None:
            self.limiter.hit(self.item, self._key(client_id, address))


def parse_limit(limit: str) -> str:
    """Check a ``LOGIN_FAILURE_LIMIT`` setting at start-up, not at the first login.

    Raises:
        ConfigError: not in the ``limits`` notation.
    """
    if limit:
        try:
            parse(limit)
        except ValueError as exc:
            raise ConfigError(f"ERX_LOGIN_FAILURE_LIMIT: {exc}") from None
    return limit
