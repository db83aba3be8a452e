"""MongoDB wiring: one client per process, the database handle, and start-up indexes.

Each store that owns a collection declares its indexes as ``{collection: [IndexModel, ...]}``,
and the names of indexes it no longer wants as ``{collection: [name, ...]}``; the composition
root hands both lists to :class:`Storage`, which drops the retired ones where they exist and
creates the declared ones at start-up (both idempotent, and safe from several processes at
once). If the database is down at start-up the app
still starts; ``/readyz`` answers 503 and retries until the indexes exist.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pymongo
from pymongo import IndexModel, WriteConcern
from pymongo.database import Database
from pymongo.errors import OperationFailure, PyMongoError

from gateway.core.settings import Settings

log = logging.getLogger(__name__)

IndexDeclaration = Mapping[str, Sequence[IndexModel]]
RetiredIndexes = Mapping[str, Sequence[str]]

# Another process dropped it first (IndexNotFound), or the namespace is gone.
_ALREADY_GONE = frozenset({27, 26})


def embedded_uri(host: str, port: int) -> str:
    """The embedded database's address. Retryable writes are off for it: SecantusDB keeps a
    record of every retryable write for 30 minutes and walks all of them on each write (and
    sorts them once 10,000 are kept), so a busy embedded database spent more of each write
    on that table than on the write (BENCHMARKS.md, lifecycle). A single node on loopback
    has no failover for the driver to retry across, and every write of the gateway is safe
    to repeat by design (unique keys, conditional updates, idempotency keys). A production
    ``ERX_MONGODB_URI`` keeps the driver's default (on) unless it says otherwise."""
    return f"mongodb://{host}:{port}/?directConnection=true&retryWrites=false"


def mongodb_uri(settings: Settings) -> str:
    """The URI in force: ``MONGODB_URI``, or the embedded database's loopback address."""
    return settings.mongodb_uri or embedded_uri(settings.embedded_db_host,
                                                 settings.embedded_db_port)


def write_concern(settings: Settings) -> WriteConcern:
    """The write concern of every write: ``w`` of ``WRITE_CONCERN`` (``majority``) and
    ``j: true``, so that a write is acknowledged only once it is in the journal on disk
    (docs/durability.md). It is given to the client as keyword arguments, which pymongo puts
    above the URI's own options: a ``w=1`` or ``journal=false`` in ``MONGODB_URI`` cannot
    weaken it."""
    value = settings.write_concern
    return WriteConcern(w=int(value) if value.isdigit() else value, j=True)


def connect(settings: Settings, **options: Any) -> pymongo.MongoClient[dict[str, Any]]:
    """A client of the configured database; ``options`` add to or override pymongo's
    (``event_listeners`` for command monitoring, ``appname``)."""
    timeout = settings.mongodb_timeout_ms
    concern = write_concern(settings)
    client_options: dict[str, Any] = {
        "connect": False, "tz_aware": True, "serverSelectionTimeoutMS": timeout,
        "connectTimeoutMS": timeout, "socketTimeoutMS": settings.mongodb_socket_timeout_ms,
        "w": concern.document["w"], "journal": concern.document["j"], "appname": "erx-gateway"}
    client_options.update(options)
    return pymongo.MongoClient(mongodb_uri(settings), **client_options)


def drop_retired_indexes(database: Database[dict[str, Any]], retired: Sequence[RetiredIndexes]) -> None:
    """Drop the retired indexes that exist (one ``listIndexes`` a collection; idempotent).

    Raises:
        pymongo.errors.PyMongoError: the database is unreachable or refuses.
    """
    for declaration in retired:
        for collection, names in declaration.items():
            present = set(database[collection].index_information()) & set(names)
            for name in sorted(present):
                try:
                    database[collection].drop_index(name)
                except OperationFailure as exc:
                    if exc.code not in _ALREADY_GONE:
                        raise
                log.info("dropped the retired index %s.%s", collection, name)


def ensure_indexes(database: Database[dict[str, Any]], declarations: Sequence[IndexDeclaration],
                   retired: Sequence[RetiredIndexes] = ()) -> None:
    """Drop the ``retired`` indexes that exist, then create every declared index (idempotent).
    Retired ones go first: a declared index may reuse the fields of one it replaces.

    Raises:
        pymongo.errors.PyMongoError: the database is unreachable or refuses an index.
    """
    drop_retired_indexes(database, retired)
    for declaration in declarations:
        for collection, models in declaration.items():
            if models:
                database[collection].create_indexes(list(models))


class Storage:
    """The process's client and database, and the indexes its stores declared."""

    def __init__(self, settings: Settings,
                 indexes: Sequence[IndexDeclaration] = (), *,
                 retired: Sequence[RetiredIndexes] = (),
                 listeners: Sequence[Any] = ()) -> None:
        self.client = connect(settings, event_listeners=list(listeners))
        self.indexes = list(indexes)
        self.retired = list(retired)
        self.database: Database[dict[str, Any]] = self.client.get_database(
            settings.db_name, write_concern=write_concern(settings))
        self._indexes_ready = False
        self._lock = threading.Lock()

    def prepare(self) -> bool:
        """Create indexes if not done yet; True when the database is usable."""
        if self._indexes_ready:
            return True
        with self._lock:
            if not self._indexes_ready:
                try:
                    ensure_indexes(self.database, self.indexes, self.retired)
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
