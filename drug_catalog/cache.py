"""The in-process read cache: the whole catalog in memory, kept current.

Prescription validation resolves every drug line, and dispensing every scanned pack; a
database round trip each would dominate their cost. :class:`CachedCatalog` answers from a
:class:`~drug_catalog.catalog.CatalogIndex` snapshot, kept current in one of two ways:

**Following changes** (:meth:`CachedCatalog.follow`: the gateway's choice wherever MongoDB
has change streams). A change feed hands every change of the ``drugs`` and ``catalog_meta``
collections to :meth:`CachedCatalog.feed_event`; one applier thread applies them in order,
in batches, to the snapshot (:meth:`CatalogIndex.with_changes`: no reload), so a change is
answered within the feed's latency plus milliseconds, with no request needed. A *reset* from
the feed (the first start, or a stream that could not resume) reloads everything: from the
catalog snapshot when it is current (``drug_catalog.store``), the identifier maps first (the
process is ready then: :meth:`ready`), the search structures right after, while changes wait.
The change counter's events tell how far the applied changes go, which :meth:`refresh` uses
as a barrier ("everything written before now is applied").

**Polling** (no feed: tools, tests, a deployment without change streams). Once
``refresh_seconds`` have passed since the last check, the store's change counter is read (one
small read); when it moved, the catalog is reloaded. With ``background=True`` the check and
reload run in a background thread while callers keep the previous snapshot; with
:meth:`start_polling` a thread checks every ``refresh_seconds`` with no request needed. A
change committed at time *t* is answered from *t* + ``refresh_seconds`` + the reload time on.
The counter is read *before* the reload, and writers bump it *after* writing, so a snapshot is
never marked newer than its data.

If the database does not answer, the current snapshot keeps serving (a warning is logged);
with no snapshot yet, :class:`~drug_catalog.store.CatalogUnavailable` is raised.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from drug_catalog.catalog import DEFAULT_SEARCH_LIMIT, CatalogIndex
from drug_catalog.model import Drug
from drug_catalog.store import CATALOG_META, DRUGS, CatalogUnavailable, Loaded

log = logging.getLogger(__name__)

_RESET = ("reset",)


class CatalogSource(Protocol):
    """Where the cache loads from (``drug_catalog.store.CatalogStore``)."""

    def version(self) -> int: ...

    def load(self) -> Loaded: ...


class CachedCatalog:
    """A catalog answering from memory, kept current from ``store`` (see the module
    docstring).

    Thread-safe: readers use the current snapshot without locking; one thread at a time
    reloads or applies changes, then swaps the snapshot in.
    """

    def __init__(self, *, store: CatalogSource, refresh_seconds: float,
                 background: bool = False,
                 clock: Callable[[], float] = time.monotonic,
                 load_timeout: float = 30.0) -> None:
        """
        Args:
            store: the source of products and of the change counter.
            refresh_seconds: when polling, how long a snapshot is used before the counter is
                checked again (0: check on every call).
            background: when polling, check and reload in a background thread, answering
                from the previous snapshot meanwhile; ignored when ``refresh_seconds`` is 0.
            clock: seconds, monotonic (tests pass a fake).
            load_timeout: how long a call waits for the first load when following changes.

        Raises:
            ValueError: ``refresh_seconds`` is negative.
        """
        if refresh_seconds < 0:
            raise ValueError("refresh_seconds must be >= 0")
        self.store = store
        self.refresh_seconds = refresh_seconds
        self.load_timeout = load_timeout
        self._clock = clock
        self._index: CatalogIndex | None = None
        self._version: int | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        self.background = background
        self._refresher: threading.Thread | None = None
        self._refresher_lock = threading.Lock()
        self.reloads = 0
        # Following changes.
        self.following = False
        self._changes: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._applier: threading.Thread | None = None
        self._applied = threading.Condition()
        self._loaded = threading.Event()
        self._searchable = threading.Event()
        self._stopping = threading.Event()
        self._poller: threading.Thread | None = None
        self.applied_changes = 0
        self.last_load: dict[str, Any] | None = None  # source, products, seconds

    # ------------------------------------------------------------------ following a feed

    def follow(self) -> None:
        """Take changes from :meth:`feed_event` / :meth:`feed_reset` from now on (start the
        applier thread); the first load happens at the feed's first reset."""
        if self._applier is not None:
            return
        self.following = True
        self._applier = threading.Thread(target=self._apply_changes, name="catalog-changes",
                                         daemon=True)
        self._applier.start()

    def feed_event(self, change: Mapping[str, Any]) -> None:
        """One change event of ``drugs`` or ``catalog_meta`` (a MongoDB change stream event
        with ``fullDocument``), queued for the applier."""
        collection = (change.get("ns") or {}).get("coll")
        operation = change.get("operationType")
        key = (change.get("documentKey") or {}).get("_id")
        document = change.get("fullDocument")
        if collection == DRUGS:
            if operation == "delete":
                self._changes.put(("delete", key))
            elif isinstance(document, Mapping):
                self._changes.put(("upsert", document))
        elif collection == CATALOG_META and key == "catalog":
            version = (document or {}).get("version") if isinstance(document, Mapping) else None
            if version is None:
                version = ((change.get("updateDescription") or {}).get("updatedFields")
                           or {}).get("version")
            if isinstance(version, int):
                self._changes.put(("version", version))

    def feed_reset(self) -> None:
        """Changes may have been missed: reload everything (queued behind what came before)."""
        self._changes.put(_RESET)

    def poll_instead(self) -> None:
        """Stop following changes (the feed has none to give) and poll the counter instead."""
        if not self.following:
            return
        self.following = False
        self._changes.put(("stop",))
        self.start_polling()

    def stop(self) -> None:
        """Stop the applier and poller threads (they are daemons: no join)."""
        self._stopping.set()
        self._changes.put(("stop",))

    def _apply_changes(self) -> None:
        while not self._stopping.is_set():
            items = [self._changes.get()]
            while len(items) < 50_000:
                try:
                    items.append(self._changes.get_nowait())
                except queue.Empty:
                    break
            if any(item[0] == "stop" for item in items):
                return
            resets = [position for position, item in enumerate(items) if item is _RESET]
            if resets:
                items = items[resets[-1] + 1:]
                if not self._load_until_done():
                    return
            self._apply(items)
            index = self._index
            if index is not None and not index.has_search:
                started = time.perf_counter()
                self._index = index.with_search()
                self._searchable.set()
                if self.last_load is not None:
                    self.last_load["search_seconds"] = round(time.perf_counter() - started, 3)

    def _load_until_done(self) -> bool:
        while not self._stopping.is_set():
            try:
                self._load()
                return True
            except CatalogUnavailable:
                log.warning("drug catalog: database unavailable, retrying the load",
                            exc_info=True)
                self._stopping.wait(1.0)
        return False

    def _load(self) -> None:
        started = time.perf_counter()
        loaded = self.store.load()
        if loaded.rows is not None:
            index = CatalogIndex.from_rows(loaded.rows)
        else:
            index = CatalogIndex(loaded.drugs or (), search=False)
        with self._applied:
            self._index, self._version = index, loaded.version
            self.reloads += 1
            self._applied.notify_all()
        self._loaded.set()
        self.last_load = {"source": loaded.source, "products": len(index),
                          "seconds": round(time.perf_counter() - started, 3)}
        log.info("drug catalog loaded", extra=self.last_load)

    def _apply(self, items: list[tuple[Any, ...]]) -> None:
        changed: dict[str, Drug | None] = {}
        version = None
        for item in items:
            if item[0] == "upsert":
                try:
                    drug = Drug.from_stored(item[1])
                except (KeyError, TypeError, ValueError):
                    log.warning("drug catalog: a changed product is not a stored drug "
                                "record; ignored", extra={"_id": item[1].get("_id")})
                    continue
                changed[drug.national_code] = drug
            elif item[0] == "delete" and isinstance(item[1], str):
                changed[item[1]] = None
            elif item[0] == "version":
                version = item[1] if version is None else max(version, item[1])
        index = self._index
        if index is None:
            return
        if changed:
            index = index.with_changes(
                [drug for drug in changed.values() if drug is not None],
                [code for code, drug in changed.items() if drug is None])
            self.applied_changes += len(changed)
        with self._applied:
            self._index = index
            if version is not None and (self._version is None or version > self._version):
                self._version = version
            self._applied.notify_all()

    def wait_for_version(self, version: int, timeout: float | None = None) -> bool:
        """Wait until every change up to the change counter ``version`` is applied."""
        with self._applied:
            return self._applied.wait_for(
                lambda: self._version is not None and self._version >= version, timeout)

    # ------------------------------------------------------------------ polling

    def start_polling(self) -> None:
        """Load now and check the change counter every ``refresh_seconds`` in a daemon thread
        (the fallback where there is no change feed): no request is needed for a change to
        be seen."""
        if self._poller is not None or self.following:
            return
        self._poller = threading.Thread(target=self._poll, name="catalog-poll", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stopping.is_set():
            try:
                self._refresh(force=False, if_due=False)
            except CatalogUnavailable:
                log.warning("drug catalog: database unavailable at the first load")
            self._stopping.wait(max(self.refresh_seconds, 0.1))

    # ------------------------------------------------------------------ freshness

    def ready(self) -> bool:
        """True once a catalog is in memory (``/readyz``)."""
        return self._index is not None

    def snapshot(self) -> CatalogIndex:
        """The current in-memory catalog, refreshed first if a check is due (polling).

        Raises:
            CatalogUnavailable: no snapshot yet and the database does not answer (or, when
                following changes, the first load did not finish within ``load_timeout``).
        """
        index = self._index
        if self.following:
            if index is None:
                if not self._loaded.wait(self.load_timeout) or self._index is None:
                    raise CatalogUnavailable("the drug catalog is still loading")
                index = self._index
            return index
        if index is not None and self._clock() - self._checked_at < self.refresh_seconds:
            return index
        if index is None or not self.background or self.refresh_seconds == 0:
            return self._refresh(force=False, if_due=True)
        self._refresh_in_background()
        return index

    def _refresh_in_background(self) -> None:
        with self._refresher_lock:
            if self._refresher is not None and self._refresher.is_alive():
                return
            self._refresher = threading.Thread(
                target=lambda: self._refresh(force=False, if_due=True), name="catalog-refresh",
                daemon=True)
            self._refresher.start()

    def wait_for_refresh(self, timeout: float | None = None) -> None:
        """Wait until a background refresh in progress (if any) has finished."""
        refresher = self._refresher
        if refresher is not None:
            refresher.join(timeout)

    def refresh(self, *, force: bool = False) -> CatalogIndex:
        """Make the snapshot reflect every change written before this call, and return it.

        Following changes: read the change counter and wait until the applier has applied
        that far (``force``: reload everything first). Polling: read the counter now and
        reload if it moved (or if ``force``).

        Raises:
            CatalogUnavailable: no snapshot yet and the database does not answer, or (when
                following) the changes were not applied within ``load_timeout``.
        """
        if self.following:
            if force:
                reloads = self.reloads + 1
                self.feed_reset()
                with self._applied:
                    if not self._applied.wait_for(lambda: self.reloads >= reloads,
                                                  self.load_timeout):
                        raise CatalogUnavailable("the drug catalog did not reload")
            version = self.store.version()
            if not self.wait_for_version(version, self.load_timeout) or self._index is None:
                raise CatalogUnavailable(f"the drug catalog did not reach version {version}")
            return self._index
        return self._refresh(force=force, if_due=False)

    def _refresh(self, *, force: bool, if_due: bool) -> CatalogIndex:
        """Polling: check the counter (``if_due``: only when ``refresh_seconds`` have passed
        since the last check, which another thread may have made meanwhile) and reload if it
        moved."""
        with self._lock:
            now = self._clock()
            if (if_due and not force and self._index is not None
                    and now - self._checked_at < self.refresh_seconds):
                return self._index  # another thread refreshed while this one waited
            try:
                version = self.store.version()
                if force or self._index is None or version != self._version:
                    loaded = self.store.load()
                    index = (CatalogIndex.from_rows(loaded.rows) if loaded.rows is not None
                             else CatalogIndex(loaded.drugs or (), search=False))
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
        """The change counter the snapshot in memory is current at (None before the first
        load)."""
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
        Right after a cold start it waits for the search structures the applier is building
        (seconds), rather than building them a second time.

        Raises:
            ValueError: ``limit`` is out of range.
            CatalogUnavailable: no snapshot yet and the database does not answer.
        """
        index = self.snapshot()
        if self.following and not index.has_search:
            self._searchable.wait(self.load_timeout)
            index = self._index or index
        return index.search(query, limit)

    def by_gtin(self, gtin: str) -> list[Drug]:
        """Products carrying this 14-digit GTIN (normally one)."""
        return self.snapshot().by_gtin(gtin)

    def __len__(self) -> int:
        return len(self.snapshot())
