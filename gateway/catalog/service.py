"""The drug catalog in the process: the database store and the in-memory catalog over it.

:class:`CatalogService` holds the :class:`drug_catalog.store.CatalogStore` on the gateway's
database and the :class:`drug_catalog.cache.CachedCatalog` over it, which answers
``resolve(identifier) -> Drug``, ``get`` and ``search`` from memory. A serving process
(:meth:`CatalogService.start`) loads it at once and then follows every change through the
process's change feed (gateway/core/changes.py), or, where there are no change streams,
re-reads the change counter every ``ERX_CATALOG_REFRESH_SECONDS``; ``/readyz`` fails until
the first load is done. Command-line tools load it on first use. ``erx-gateway run`` loads
the shipped demo catalog when the catalog is empty (``ERX_CATALOG_DEMO``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo.database import Database

from drug_catalog.cache import CachedCatalog
from drug_catalog.demo import demo_catalog_path
from drug_catalog.importer import ImportReport, import_file
from drug_catalog.store import CATALOG_META, DRUGS, CatalogStore
from gateway.core.changes import ChangeFeed
from gateway.core.settings import Settings


class CatalogService:
    def __init__(self, store: CatalogStore, *, refresh_seconds: float, import_batch: int,
                 search_limit: int, demo: str, env: str) -> None:
        self.store = store
        self.catalog = CachedCatalog(store=store, refresh_seconds=refresh_seconds,
                                     background=True)
        self.import_batch = import_batch
        self.search_limit = search_limit
        self.demo = demo
        self.env = env

    @classmethod
    def from_settings(cls, database: Database, settings: Settings) -> CatalogService:
        return cls(CatalogStore.from_database(database),
                   refresh_seconds=settings.catalog_refresh_seconds,
                   import_batch=settings.catalog_import_batch,
                   search_limit=settings.catalog_search_limit,
                   demo=settings.catalog_demo, env=settings.env)

    def start(self, feed: ChangeFeed) -> None:
        """Serve from memory kept current by ``feed`` (or by polling when it has no change
        streams); the first load starts at once, in the background."""
        if feed.enabled:
            adapter = _FeedAdapter(self.catalog, feed)
            feed.subscribe(DRUGS, adapter)
            feed.subscribe(CATALOG_META, adapter, match={"documentKey._id": "catalog"})
            self.catalog.follow()
        else:
            self.catalog.start_polling()

    def ready(self) -> bool:
        """The catalog is in memory (readiness)."""
        return self.catalog.ready()

    def stop(self) -> None:
        self.catalog.stop()

    def import_catalog(self, path: str, fmt: str | None = None) -> ImportReport:
        """Import a catalog file (``erx-gateway catalog import``).

        Raises:
            drug_catalog.errors.ImportFormatError: unknown format, not UTF-8, no header.
            OSError: the file cannot be read.
            drug_catalog.store.CatalogUnavailable: the database did not answer.
        """
        return import_file(self.store, path, fmt, batch_size=self.import_batch)

    def load_demo_if_empty(self) -> ImportReport | None:
        """Bootstrap step of ``erx-gateway run``: an empty catalog gets the shipped demo
        catalog (``ERX_CATALOG_DEMO``: ``auto`` only in development, ``yes``, ``no``); the
        import report, or None when nothing was loaded."""
        if self.demo == "no" or (self.demo == "auto" and self.env != "development"):
            return None
        if self.store.count() > 0:
            return None
        return import_file(self.store, demo_catalog_path(), "ndjson",
                           batch_size=self.import_batch)


class _FeedAdapter:
    """Hands the feed's catalog changes to the cached catalog; when the feed turns out to have
    no change streams, switches the catalog to polling."""

    def __init__(self, catalog: CachedCatalog, feed: ChangeFeed) -> None:
        self.catalog = catalog
        self.feed = feed

    def feed_event(self, change: Mapping[str, Any]) -> None:
        self.catalog.feed_event(change)

    def feed_reset(self) -> None:
        if self.feed.polling():
            self.catalog.poll_instead()
        else:
            self.catalog.feed_reset()
