"""Brute-force protection for every way of presenting a secret (token endpoint, national
logins, pharmacy ``app-key``): failed attempts are counted per client id and address
(``LOGIN_FAILURE_LIMIT``) and per address alone (``LOGIN_ADDRESS_FAILURE_LIMIT``, so fresh
client ids from one address do not escape), and past either the answer is 429 with
``Retry-After`` until the window passes. Successful logins are not counted.

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
    def __init__(self, *, client: pymongo.MongoClient, database: str, limit: str,
                 address_limit: str = "") -> None:
        self.item: RateLimitItem | None = parse(limit) if limit else None
        self.address_item: RateLimitItem | None = parse(address_limit) if address_limit else None
        self.limiter = FixedWindowRateLimiter(SharedClientStorage(client, database))

    def _counters(self, client_id: str, address: str) -> list[tuple[RateLimitItem, str]]:
        counters = []
        if self.address_item is not None:
            counters.append((self.address_item, f"login-address\x1f{address}"))
        if self.item is not None:
            counters.append((self.item, f"login\x1f{address}\x1f{client_id[:200]}"))
        return counters

    def check(self, client_id: str, address: str) -> None:
        """Refuse the attempt if this address, or this client id from it, failed too often.

        Raises:
            gateway.core.errors.RateLimited: with the seconds until the window passes.
        """
        for item, key in self._counters(client_id, address):
            if not self.limiter.test(item, key):
                reset = self.limiter.get_window_stats(item, key).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                raise RateLimited("too many failed logins; try again later", retry_after=wait)

    def failed(self, client_id: str, address: str) -> None:
        for item, key in self._counters(client_id, address):
            self.limiter.hit(item, key)


def parse_limit(limit: str, name: str = "LOGIN_FAILURE_LIMIT") -> str:
    """Check a login-limit setting at start-up, not at the first login.

    Raises:
        ConfigError: not in the ``limits`` notation.
    """
    if limit:
        try:
            parse(limit)
        except ValueError as exc:
            raise ConfigError(f"ERX_{name}: {exc}") from None
    return limit
