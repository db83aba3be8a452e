"""MongoDB wiring: one client per process, the database handle, and start-up indexes.

Modules that own a collection declare its indexes with :func:`indexes`; ``ensure_indexes``
creates all of them at start-up (``create_index`` is idempotent). If the database is down at
start-up the app still starts; ``/readyz`` answers 503 and retries until the indexes exist.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import pymongo
from flask import Flask, current_app
from pymongo import IndexModel, WriteConcern
from pymongo.database import Database
from pymongo.errors import PyMongoError

from gateway.embedded import mongodb_uri

log = logging.getLogger(__name__)

IndexProvider = Callable[[], Mapping[str, list[IndexModel]]]
_providers: list[IndexProvider] = []


def indexes(provider: IndexProvider) -> IndexProvider:
    """Register a function returning ``{collection: [IndexModel, ...]}`` (a decorator)."""
    _providers.append(provider)
    return provider


def connect(config: Mapping[str, Any]) -> pymongo.MongoClient:
    timeout = config["MONGODB_TIMEOUT_MS"]
    return pymongo.MongoClient(
        mongodb_uri(config), connect=False, tz_aware=True,
        serverSelectionTimeoutMS=timeout, connectTimeoutMS=timeout,
        w=_write_concern_w(config["WRITE_CONCERN"]), appname="erx-gateway")


def _write_concern_w(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def ensure_indexes(database: Database) -> None:
    """Create every declared index (idempotent).

    Raises:
        pymongo.errors.PyMongoError: the database is unreachable or refuses an index.
    """
    for provider in _providers:
        for collection, models in provider().items():
            if models:
                database[collection].create_indexes(models)


class Storage:
    """The process's client and database, stored in ``app.extensions['erx.storage']``."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.client = connect(config)
        self.database: Database = self.client.get_database(
            config["DB_NAME"], write_concern=WriteConcern(w=_write_concern_w(config["WRITE_CONCERN"])))
        self._indexes_ready = False
        self._lock = threading.Lock()

    def prepare(self) -> bool:
        """Create indexes if not done yet; True when the database is usable."""
        if self._indexes_ready:
            return True
        with self._lock:
            if not self._indexes_ready:
                try:
                    ensure_indexes(self.database)
                except PyMongoError as exc:
                    log.warning("database not ready: %s", exc.__class__.__name__)
                    return False
                self._indexes_ready = True
        return True

    def ping(self) -> bool:
        try:
            self.client.admin.command("ping")
        except PyMongoError:
            return False
        return self.prepare()


def init_app(app: Flask) -> None:
    storage = Storage(app.config)
    app.extensions["erx.storage"] = storage
    storage.prepare()


def get_storage() -> Storage:
    return current_app.extensions["erx.storage"]


def get_db() -> Database:
    return current_app.extensions["erx.storage"].database
