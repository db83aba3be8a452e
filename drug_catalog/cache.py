"""The in-process read cache: the whole catalog in memory, refreshed when it changes.

Prescription validation resolves every drug line, and dispensing every scanned pack; a
database round trip each would dominate their cost. :class:`CachedCatalog` answers from a
:class:`~drug_catalog.catalog.CatalogIndex` snapshot and, once ``refresh_seconds`` have passed
since the last check, reads the store's change counter (one small read); when the counter
moved (an import by this or another process, an upsert) it reloads the catalog.

Bound: a change committed at time *t* is answered by every call from *t* +
``refresh_seconds`` + the reload time on (reloading 60,000 products: BENCHMARKS.md). The
counter is read *before* the reload, and writers bump it *after* writing, so a snapshot is
never marked newer than its data.

With ``background=True`` (the gateway's choice) the check and reload run in a background
thread while callers keep getting the previous snapshot, so no request waits for a reload;
with ``background=False`` the calling thread refreshes before answering (tools, tests). Only
the first load always blocks.

If the database does not answer at a check, the current snapshot keeps serving (a warning is
logged) and the check is retried after ``refresh_seconds``; with no snapshot yet,
:class:`~drug_catalog.store.CatalogUnavailable` is raised.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from drug_catalog.catalog import DEFAULT_SEARCH_LIMIT, CatalogIndex
from drug_catalog.model import Drug
from drug_catalog.store import CatalogUnavailable

log = logging.getLogger(__name__)


class CatalogSource(Protocol):
    """Where the cache loads from (``drug_catalog.store.CatalogStore``)."""

    def version(self) -> int: ...

    def load_all(self) -> list[Drug]: ...


class CachedCatalog:
    """A catalog answering from memory, refreshed from ``store`` when its counter moves.

    Thread-safe: readers use the current snapshot without locking; one thread at a time
    reloads, then swaps the snapshot in.
    """

    def __init__(self, *, store: CatalogSource, refresh_seconds: float,
                 background: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """
        Args:
            store: the source of products and of the change counter.
            refresh_seconds: how long a snapshot is used before the counter is checked again
                (0: check on every call).
            background: check and reload in a background thread, answering from the previous
                snapshot meanwhile (see the module docstring); ignored when
                ``refresh_seconds`` is 0.
            clock: seconds, monotonic (tests pass a fake).

        Raises:
            ValueError: ``refresh_seconds`` is negative.
        """
        if refresh_seconds < 0:
            raise ValueError("refresh_seconds must be >= 0")
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._index: CatalogIndex | None = None
        self._version: int | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        self.background = background
        self._refresher: threading.Thread | None = None
        self._refresher_lock = threading.Lock()
        self.reloads = 0

    # ------------------------------------------------------------------ freshness

    def snapshot(self) -> CatalogIndex:
        """The current in-memory catalog, refreshed first if a check is due.

        Raises:
            CatalogUnavailable: no snapshot yet and the database does not answer.
        """
        index = self._index
        if index is not None and self._clock() - self._checked_at < self.refresh_seconds:
            return index
        if index is None or not self.background or self.refresh_seconds == 0:
            return self.refresh()
        self._refresh_in_background()
        return index

    def _refresh_in_background(self) -> None:
        with self._refresher_lock:
            if self._refresher is not None and self._refresher.is_alive():
                return
            self._refresher = threading.Thread(target=self.refresh, name="catalog-refresh",
                                               daemon=True)
            self._refresher.start()

    def wait_for_refresh(self, timeout: float | None = None) -> None:
        """Wait until a background refresh in progress (if any) has finished."""
        refresher = self._refresher
        if refresher is not None:
            refresher.join(timeout)

    def refresh(self, *, force: bool = False) -> CatalogIndex:
        """Check the change counter now and reload if it moved (or if ``force``).

        Raises:
            CatalogUnavailable: no snapshot yet and the database does not answer.
        """
        with self._lock:
            now = self._clock()
            if (not force and self._index is not None
                    and now - self._checked_at < self.refresh_seconds):
                return self._index  # another thread refreshed while this one waited
            try:
                version = self.store.version()
                if force or self._index is None or version != self._version:
                    index = CatalogIndex(self.store.load_all())
                    self._index, self._version = index, version
                    self.reloads += 1
            except CatalogUnavailable:
                if self._index is None:
                    raise
                log.warning("drug catalog: database unavailable, serving the cached catalog "
                            "(version %s)", self._version, exc_info=True)
            self._checked_at = now
            assert self._index is not None
            return self._index

    @property
    def version(self) -> int | None:
        """The change counter of the snapshot in memory (None before the first load)."""
        return self._version

    # ------------------------------------------------------------------ the Catalog protocol

    def resolve(self, identifier: str) -> Drug:
        """The one product named by a national code, registration number or GTIN
        (see :meth:`CatalogIndex.resolve`).

        Raises:
            InvalidIdentifier, BadCheckDigit, UnknownDrug, AmbiguousIdentifier: as
                :meth:`CatalogIndex.resolve`.
            CatalogUnavailable: no snapshot yet and the database does not answer.
        """
        return self.snapshot().resolve(identifier)

    def get(self, national_code: str) -> Drug | None:
        """The product with this national code, or None.

        Raises:
            CatalogUnavailable: no snapshot yet and the database does not answer.
        """
        return self.snapshot().get(national_code)

    def search(self, query: str, limit: int = DEFAULT_SEARCH_LIMIT) -> list[Drug]:
        """Name / active-ingredient search, best first (see :meth:`CatalogIndex.search`).

        Raises:
            ValueError: ``limit`` is out of range.
            CatalogUnavailable: no snapshot yet and the database does not answer.
        """
        return self.snapshot().search(query, limit)

    def by_gtin(self, gtin: str) -> list[Drug]:
        """Products carrying this 14-digit GTIN (normally one)."""
        return self.snapshot().by_gtin(gtin)

    def __len__(self) -> int:
        return len(self.snapshot())
