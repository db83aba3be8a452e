"""The change feed: one MongoDB change stream per process that keeps in-process caches current.

Parties, signing keys, webhooks and the drug catalog are read on (almost) every request but
change rarely. Each process keeps them in memory and learns of every change from ONE change
stream over the gateway's database (``db.watch`` with a ``$match`` on the collections some
cache subscribed to), so a change made by any process (disabling a party, rotating a key,
registering a webhook, importing the catalog) reaches every process within the stream's
latency, with no request needed to trigger it and no polling.

- **Resume.** The feed keeps the stream's resume token; after a network error or a database
  restart it reopens the stream after that token, so nothing is missed. When that is
  impossible (the history is gone, the stream was invalidated, it is the first start) every
  subscriber is told to *reset*: drop what it holds and reload.
- **While not live** (starting, reconnecting) caches must not trust what they hold:
  :meth:`ChangeFeed.live` is False, and :class:`DocumentCache` then reads through.
- **Polling fallback.** Where change streams are unavailable (a standalone ``mongod``, or
  ``ERX_CHANGE_STREAMS=off``) the feed reports ``polling``: caches keep entries for at most
  ``ERX_CACHE_POLL_SECONDS`` and the catalog re-reads its change counter on that period.
  ``/readyz`` says which mode is in force.
- **Idle cost.** The stream waits on the server (``maxAwaitTimeMS``,
  ``ERX_CHANGE_STREAM_AWAIT_MS``): an idle process costs one ``getMore`` per wait, and a
  change is answered at once, not at the end of the wait.
- **Events.** Inserts and replacements carry ``fullDocument``; updates carry their
  ``updateDescription`` only (no ``updateLookup``: on the embedded database reading the
  document for every update of the database, in every process's stream, cost more than the
  rest of the feed).
- **Busy cost.** Two ``getMore`` of the stream are at least
  ``ERX_CHANGE_STREAM_MIN_INTERVAL_MS`` apart: under load a process's feed costs at most one
  operation per interval whatever the rate of changes (they arrive in batches), and a change
  waits at most that long. It matters twice over on the embedded database (SecantusDB 0.7),
  which ends a waiting ``getMore`` at every write to any collection and answers an empty batch
  after its ``$match`` (mongod keeps waiting for a matching change).

Subscribers are called in the feed's thread and must return quickly (the catalog hands its
events to its own applier thread).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pymongo.database import Database
from pymongo.errors import OperationFailure, PyMongoError

log = logging.getLogger(__name__)

LIVE = "change_streams"
POLLING = "polling"
STARTING = "starting"
RECONNECTING = "reconnecting"
STOPPED = "stopped"

# Server answers meaning "this deployment has no change streams": not a replica set (40573),
# command not supported (115), the $changeStream stage unknown (40324).
_UNSUPPORTED = frozenset({40573, 115, 40324})
# The resume point is gone or unusable: reopen from now and reset every subscriber.
_HISTORY_LOST = frozenset({286, 260, 280, 136})
# Events ending a stream or a whole database: everything cached may be stale.
_RESET_EVENTS = frozenset({"invalidate", "dropDatabase"})
_COLLECTION_RESET_EVENTS = frozenset({"drop", "rename"})


class Subscriber(Protocol):
    """What the feed calls: ``feed_event`` for each change of a subscribed collection,
    ``feed_reset`` when changes may have been missed (drop and reload everything)."""

    def feed_event(self, change: Mapping[str, Any]) -> None: ...

    def feed_reset(self) -> None: ...


@dataclass(frozen=True)
class _Subscription:
    collection: str
    subscriber: Subscriber
    match: Mapping[str, Any] | None
    since: Any = None  # a subscription made while running sees changes after this time only


class ChangeFeed:
    """One change stream over ``database`` fanned out to subscribers (see the module
    docstring). ``enabled=False`` gives the polling mode from the start."""

    def __init__(self, database: Database[dict[str, Any]], *, enabled: bool = True, max_await_ms: int = 5000,
                 min_interval_ms: int = 0, retry_seconds: float = 1.0) -> None:
        self.database = database
        self.enabled = enabled
        self.max_await_ms = max_await_ms
        self.min_interval = min_interval_ms / 1000.0
        self.retry_seconds = retry_seconds
        self._subscriptions: list[_Subscription] = []
        self._lock = threading.Lock()
        self._mode = STARTING if enabled else POLLING
        self._live = threading.Event()
        self._settled = threading.Event()  # live or polling: the mode is known
        if not enabled:
            self._settled.set()
        self._stopping = threading.Event()
        self._reopen = threading.Event()
        self._thread: threading.Thread | None = None
        self._token: Mapping[str, Any] | None = None
        self._replay_from: Mapping[str, Any] | None = None
        self.events = 0  # changes dispatched (tests and /metrics read it)
        self.resets = 0
        self._dispatched = threading.Condition()
        # Incremented each time a stream opens: what a cache read during one stream session
        # is worth nothing in the next (changes in between may not have been dispatched yet).
        self.session = 0

    # --- subscriptions ---------------------------------------------------------------------
    def subscribe(self, collection: str, subscriber: Subscriber, *,
                  match: Mapping[str, Any] | None = None) -> None:
        """Deliver changes of ``collection`` (those matching ``match``, a ``$match`` on the
        change events, when given) to ``subscriber``. A running stream is reopened after its
        resume token with the new filter, so nothing is missed meanwhile; a subscriber added
        while it runs gets the changes made after it subscribed (one ``ping`` reads the
        time)."""
        since = None
        if self._thread is not None:
            # Changes before now are in the database already (the subscriber reads them
            # itself); the stream may still have some of them to deliver. Unknown time: they
            # are delivered (twice does no harm).
            with contextlib.suppress(PyMongoError):
                since = self.database.command("ping").get("operationTime")
        with self._lock:
            self._subscriptions.append(_Subscription(collection, subscriber, match, since))
        self._reopen_from_here()

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop delivering to ``subscriber`` (the stream is reopened without its filter)."""
        with self._lock:
            self._subscriptions = [s for s in self._subscriptions if s.subscriber is not subscriber]
        self._reopen_from_here()

    def _reopen_from_here(self) -> None:
        """Reopen the stream with the new filter from where it stood when the subscriptions
        changed: the stream in use may already be past a change the new filter wants (it
        read and dropped it), so those are delivered again (subscribers take a change
        twice without harm)."""
        if self._thread is None:
            return
        with self._lock:
            if self._replay_from is None:
                self._replay_from = self._token
        self._reopen.set()

    def _pipeline(self) -> list[dict[str, Any]]:
        with self._lock:
            subscriptions = list(self._subscriptions)
        wanted: list[dict[str, Any]] = [{"operationType": {"$in": sorted(_RESET_EVENTS)}}]
        plain = sorted({s.collection for s in subscriptions if s.match is None})
        if plain:
            wanted.append({"ns.coll": {"$in": plain}})
        for subscription in subscriptions:
            if subscription.match is not None and subscription.collection not in plain:
                wanted.append({"ns.coll": subscription.collection, **subscription.match})
        return [{"$match": {"$or": wanted}}]

    # --- state -------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        """``change_streams`` (live), ``polling``, ``starting``, ``reconnecting`` or
        ``stopped``."""
        return self._mode

    def live(self) -> bool:
        """True while the stream is open: caches may trust what they hold."""
        return self._live.is_set()

    def polling(self) -> bool:
        return self._mode == POLLING

    def wait_settled(self, timeout: float | None = None) -> bool:
        """Wait until the feed is live or known to be polling; True if it is."""
        return self._settled.wait(timeout)

    # --- running -------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the stream in a daemon thread (no-op when disabled or started)."""
        if not self.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="change-feed", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 0.0) -> None:
        """Stop; the thread ends at its next server answer (at most ``maxAwaitTimeMS``)."""
        self._stopping.set()
        self._live.clear()
        if self._mode != POLLING:
            self._mode = STOPPED
        thread = self._thread
        if thread is not None and timeout:
            thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._follow()
            except OperationFailure as exc:
                if exc.code in _UNSUPPORTED or "only supported on replica sets" in str(exc):
                    log.warning("change streams are not available (%s): caches fall back to "
                                "polling", exc)
                    self._go_polling()
                    return
                if exc.code in _HISTORY_LOST or exc.has_error_label(
                        "NonResumableChangeStreamError"):
                    log.warning("change stream cannot resume (%s): caches reload", exc)
                    self._token = None
                else:
                    log.warning("change stream failed: %s", exc)
                self._down()
            except PyMongoError as exc:
                if self._stopping.is_set():
                    return
                log.warning("change stream interrupted (%s): reconnecting",
                            exc.__class__.__name__)
                self._down()
            except Exception:
                if self._stopping.is_set():
                    return
                log.exception("change feed subscriber failed: caches reload")
                self._token = None
                self._down()

    def _down(self) -> None:
        self._live.clear()
        if self._mode != POLLING and not self._stopping.is_set():
            self._mode = RECONNECTING
        self._stopping.wait(self.retry_seconds)

    def _go_polling(self) -> None:
        self._mode = POLLING
        self._live.clear()
        self._settled.set()
        self._reset_all()

    def _follow(self) -> None:
        with self._lock:
            self._reopen.clear()
            if self._replay_from is not None:
                self._token, self._replay_from = self._replay_from, None
        resuming = self._token is not None
        # No ``fullDocument: updateLookup``: the server would read the whole document of
        # every update in the database for every process's stream, before the ``$match``
        # (SecantusDB does, for events nobody subscribed to as well). Inserts and
        # replacements carry their document anyway; an update event carries its
        # ``updateDescription``, and the one subscriber that needs an updated document (the
        # forwarder's schedule) reads it itself (docs/performance.md).
        with self.database.watch(self._pipeline(),
                                 max_await_time_ms=self.max_await_ms,
                                 resume_after=self._token) as stream:
            self._token = stream.resume_token
            if not resuming:
                self._reset_all()
            self._mode = LIVE
            self._live.set()
            self._settled.set()
            with self._dispatched:
                self.session += 1
                self._dispatched.notify_all()
            fetched = float("-inf")
            while not self._stopping.is_set() and not self._reopen.is_set():
                if not _buffered(stream):  # the next try_next asks the server
                    wait = self.min_interval - (time.monotonic() - fetched)
                    if wait > 0 and self._stopping.wait(wait):
                        break
                    fetched = time.monotonic()
                change = stream.try_next()
                self._token = stream.resume_token
                if change is not None:
                    self._dispatch(change)
                    self._token = stream.resume_token

    def wait_for(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        """Wait until ``predicate()`` holds, checking it after each change the feed dispatches
        and each time its stream (re)opens (tests synchronise on the feed this way, not on
        time)."""
        with self._dispatched:
            return self._dispatched.wait_for(predicate, timeout)

    def _dispatch(self, change: Mapping[str, Any]) -> None:
        try:
            self._deliver(change)
        finally:
            with self._dispatched:
                self.events += 1
                self._dispatched.notify_all()

    def _deliver(self, change: Mapping[str, Any]) -> None:
        operation = change.get("operationType")
        if operation in _RESET_EVENTS:
            self._token = None
            self._reopen.set()
            self._reset_all()
            return
        collection = (change.get("ns") or {}).get("coll")
        at = change.get("clusterTime")
        with self._lock:
            subscribers = [s.subscriber for s in self._subscriptions
                           if s.collection == collection
                           and (s.since is None or at is None or at > s.since)]
        for subscriber in dict.fromkeys(subscribers):
            if operation in _COLLECTION_RESET_EVENTS:
                subscriber.feed_reset()
            else:
                subscriber.feed_event(change)

    def _reset_all(self) -> None:
        with self._lock:
            subscribers = [s.subscriber for s in self._subscriptions]
        for subscriber in dict.fromkeys(subscribers):
            try:
                subscriber.feed_reset()
            except Exception:
                log.exception("a cache failed to reset")
        with self._dispatched:
            self.resets += 1
            self._dispatched.notify_all()


class DocumentCache:
    """Documents by ``_id``, kept only while they are known current.

    An entry is dropped when the feed reports a change of its document (the next read loads
    it again); everything is dropped when the feed resets. A value read from the database is
    kept only if no change arrived while it was being read, so a slow read can never put back
    a document older than one the feed already announced. While the feed is not live the
    cache reads through; in polling mode an entry is kept ``ttl_seconds`` at most. Misses
    (None) are not kept.
    """

    def __init__(self, feed: ChangeFeed | None, *, ttl_seconds: float = 1.0,
                 max_entries: int = 200_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.feed = feed
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, int, dict[str, Any]]] = {}
        self._generation = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _trusted(self) -> tuple[bool, bool, int]:
        """(keep entries at all, without expiry, the feed's stream session)."""
        if self.feed is None:
            return True, False, 0
        session = self.feed.session
        if self.feed.live():
            return True, True, session
        return self.feed.polling(), False, session

    def get(self, key: Hashable, load: Callable[[Hashable], dict[str, Any] | None]
            ) -> dict[str, Any] | None:
        """The document under ``key``: from memory when current, else ``load(key)``.

        Raises:
            whatever ``load`` raises (pymongo.errors.PyMongoError).
        """
        keep, forever, session = self._trusted()
        if not keep:
            return load(key)
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and entry[1] == session and (
                forever or now - entry[0] < self.ttl_seconds):
            self.hits += 1
            return entry[2]
        self.misses += 1
        generation = self._generation
        value = load(key)
        if value is not None:
            with self._lock:
                if self._generation == generation:
                    if len(self._entries) >= self.max_entries:
                        self._entries.clear()
                    self._entries[key] = (now, session, value)
        return value

    def invalidate(self, key: Hashable | None = None) -> None:
        """Forget ``key`` (None: everything), and refuse values being read meanwhile."""
        with self._lock:
            self._generation += 1
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)

    # --- the feed's subscriber protocol ------------------------------------------------------
    def feed_event(self, change: Mapping[str, Any]) -> None:
        key = (change.get("documentKey") or {}).get("_id")
        self.invalidate(key)

    def feed_reset(self) -> None:
        self.invalidate()

    def __len__(self) -> int:
        return len(self._entries)


def _buffered(stream: Any) -> int:
    """Changes the stream holds already (0: its next ``try_next`` asks the server). pymongo
    has no public call for it; an unknown layout counts as empty (then every call is
    spaced)."""
    data = getattr(getattr(stream, "_cursor", None), "_data", None)
    try:
        return len(data) if data is not None else 0
    except TypeError:
        return 0
