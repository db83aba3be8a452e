"""The drug catalog in the process: the database store and the in-memory catalog over it.

:class:`CatalogService` holds the :class:`drug_catalog.store.CatalogStore` on the gateway's
database and the :class:`drug_catalog.cache.CachedCatalog` over it, which answers
``resolve(identifier) -> Drug``, ``get`` and ``search`` from memory, refreshed within
``ERX_CATALOG_REFRESH_SECONDS`` of any change. ``erx-gateway run`` loads the shipped demo
catalog when the catalog is empty (``ERX_CATALOG_DEMO``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo.database import Database

from drug_catalog.cache import CachedCatalog
from drug_catalog.demo import demo_catalog_path
from drug_catalog.importer import ImportReport, import_file
from drug_catalog.store import CatalogStore


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
    def from_config(cls, database: Database, config: Mapping[str, Any]) -> CatalogService:
        return cls(CatalogStore.from_database(database),
                   refresh_seconds=config["CATALOG_REFRESH_SECONDS"],
                   import_batch=config["CATALOG_IMPORT_BATCH"],
                   search_limit=config["CATALOG_SEARCH_LIMIT"],
                   demo=config["CATALOG_DEMO"], env=config["ENV"])

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
