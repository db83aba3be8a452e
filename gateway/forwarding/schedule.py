"""When a forwarder looks for work, and which prescriptions it takes: no polling.

- **New work is pushed.** A forwarder subscribes to the process's change feed
  (gateway/core/changes.py) for prescriptions that were inserted or got new deliveries
  (``forward_queued_at`` is set by those changes and never by a forwarder, so a forwarder's
  own writes do not wake it). An insert's event carries the whole document, which is the
  snapshot the forwarder claims with: no query to find it. An update's event (a dispense or a
  cancellation queued deliveries) carries no document (the feed asks for no post-image, which
  every process would pay for every write): the forwarder reads the ones that arrived since
  its last read in ONE query by ``_id``, those of its own partition only.
- **Later work is scheduled.** One query (:meth:`OutboxStore.upcoming`) returns the open
  prescriptions earliest due first; those due now are taken, and the forwarder sleeps until the
  next one is due (a retry in backoff, a lease of a forwarder that may have died) or until the
  feed wakes it. With nothing open it sleeps until woken: an idle forwarder, or one whose
  registry deliveries wait for ``ERX_REGISTRY_BASE_URL`` (they are parked, not due), costs no
  database operation.
- **Without a live feed** (polling mode, or while the stream reconnects) it looks every
  ``ERX_FORWARDER_POLL_SECONDS``, as forwarders did before.
- **Several forwarders** may split the work pushed by the feed with ``ERX_FORWARDER_PARTITION``
  (``k/n``: this one takes the codes whose CRC-32 is k-1 modulo n, and looks a lease later
  whether another's were taken). Without partitions every forwarder races for each new
  prescription and all but one lose a claim (one wasted write each). A look takes what it
  finds due of its own partition first (shuffled), and looks again after them; another
  partition's due prescriptions are taken from a look that finds none of its own, so a
  partition without a forwarder is served late, never lost, and two healthy forwarders
  draining one backlog seldom race.
"""

from __future__ import annotations

import collections
import heapq
import random
import threading
import zlib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from gateway.prescriptions.outbox_store import OutboxStore


def parse_partition(value: str) -> tuple[int, int]:
    """``"k/n"`` (1 <= k <= n) as ``(k, n)``.

    Raises:
        ValueError: not of that form.
    """
    try:
        k, n = (int(part) for part in value.strip().split("/"))
    except (ValueError, AttributeError):
        raise ValueError(f"expected k/n such as 1/2, got {value!r}") from None
    if not 1 <= k <= n:
        raise ValueError(f"expected 1 <= k <= n, got {value!r}")
    return k, n


class Schedule:
    """The work queue of one forwarder (see the module docstring)."""

    def __init__(self, outbox: OutboxStore, *, owner: str, lease: timedelta, batch: int,
                 poll_seconds: float, partition: tuple[int, int] = (1, 1),
                 live: Callable[[], bool] = lambda: False,
                 clock: Callable[[], datetime], rng: random.Random) -> None:
        self.outbox = outbox
        self.owner = owner
        self.lease = lease
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.partition = partition
        self.live = live
        self.clock = clock
        self.rng = rng
        self._fresh: collections.deque[dict[str, Any]] = collections.deque()
        self._due: list[dict[str, Any]] = []
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._look = True  # look for due work at the next chance
        self._next_wake: datetime | None = None  # from the last look
        self._timers: list[datetime] = []  # retries and leases noted since (a heap)
        self._active: set[str] = set()  # taken by this forwarder, not yet released
        self._held_changed: set[str] = set()  # changed while this forwarder had them
        self._to_read: set[str] = set()  # announced by the feed without their document
        self.looks = 0  # upcoming() queries made (tests and benchmarks read it)

    # --- what is whose ---------------------------------------------------------------------
    def mine(self, code: str) -> bool:
        k, n = self.partition
        return n == 1 or zlib.crc32(code.encode()) % n == k - 1

    @staticmethod
    def _when(doc: Mapping[str, Any]) -> datetime | None:
        """When ``doc`` can be taken (None: never, nothing open): when it is due, or when the
        lease on it runs out."""
        due = doc.get("forward_due_at")
        if due is None or not doc.get("forward_open"):
            return None
        leased = doc.get("forward_lease_until")
        if leased is not None and leased > due:
            due = leased
        return due

    def _wake_at(self, when: datetime) -> None:
        with self._lock:
            heapq.heappush(self._timers, when)
        self._wake.set()

    def _earliest(self) -> datetime | None:
        with self._lock:
            times = [t for t in (self._next_wake, self._timers[0] if self._timers else None)
                     if t is not None]
        return min(times) if times else None

    # --- the feed's subscriber protocol -------------------------------------------------------
    def feed_event(self, change: Mapping[str, Any]) -> None:
        doc = change.get("fullDocument")
        if isinstance(doc, Mapping):
            self._consider(doc)
            return
        code = (change.get("documentKey") or {}).get("_id")
        if not isinstance(code, str):
            return
        if not self.mine(code):
            self._wake_at(self.clock() + self.lease)  # its partition's forwarder may be down
            return
        with self._lock:  # read by next(), with the others that arrive meanwhile
            self._to_read.add(code)
        self._wake.set()

    def _consider(self, doc: Mapping[str, Any]) -> None:
        """Take a snapshot announced by the feed (or read for it) as fresh work, or note when
        to look at it."""
        if not doc.get("forward_open"):
            return
        code = doc.get("_id")
        now = self.clock()
        leased = doc.get("forward_lease_until")
        if leased is not None and leased > now:
            if doc.get("forward_lease_owner") != self.owner:
                self._wake_at(leased)  # in case its holder dies
                return
            with self._lock:
                if code in self._active:  # look at it again once this forwarder releases it
                    self._held_changed.add(code)
                    return
            # Released since the event's document was read: what it shows is stale.
            self._look = True
            self._wake.set()
            return
        if not isinstance(code, str) or not self.mine(code):
            self._wake_at(now + self.lease)  # its partition's forwarder may be down
            return
        with self._lock:
            self._fresh.append(dict(doc))
        self._wake.set()

    def feed_reset(self) -> None:
        """Events may have been missed: look for due work now."""
        self._look = True
        self._wake.set()

    # --- taking work --------------------------------------------------------------------------
    def next(self) -> tuple[dict[str, Any], bool] | None:
        """The next snapshot to process and whether it came from the feed; None when nothing
        is due now (then :meth:`sleep`)."""
        with self._lock:
            codes, self._to_read = self._to_read, set()
        if codes:
            for doc in self.outbox.snapshots(sorted(codes)):
                self._consider(doc)
        with self._lock:
            while self._fresh:
                doc = self._fresh.popleft()
                if self._take(doc["_id"]):
                    return doc, True
        if not self._due and self._look:
            self._lookup()
        with self._lock:
            while self._due:
                doc = self._due.pop()
                if self._take(doc["_id"]):
                    return doc, False
        return None

    def _take(self, code: str) -> bool:
        """Mark ``code`` taken (the lock is held); a prescription this forwarder is already
        working on is looked at again once it is released, not processed twice at once."""
        if code in self._active:
            self._held_changed.add(code)
            return False
        self._active.add(code)
        return True

    def _lookup(self) -> None:
        now = self.clock()
        self._look = False
        self.looks += 1
        docs = self.outbox.upcoming(self.batch)
        due: list[dict[str, Any]] = []
        later: list[datetime] = []
        for doc in docs:
            when = self._when(doc)
            if when is None:
                continue
            if when <= now:
                due.append(doc)
            else:
                later.append(when)
        # A full batch whose last one is due: more may be due behind it. Look again after
        # this batch, if it gave work (else a batch of leased ones would be read in a loop:
        # their leases' ends are among the wake-up times).
        last = docs[-1].get("forward_due_at") if docs else None
        if len(docs) >= self.batch and due and last is not None and last <= now:
            self._look = True
        # This partition's first. Another partition's due prescriptions are taken only from a
        # look that finds none of this one's: its forwarder is most likely taking them right
        # now, and a claim from a snapshot it has overtaken is a wasted write (with two
        # forwarders draining one backlog, half of all claims were).
        mine = [doc for doc in due if isinstance(doc.get("_id"), str) and self.mine(doc["_id"])]
        if mine and len(mine) < len(due):
            due = mine
            self._look = True  # after these, look again for the others' still left
        self.rng.shuffle(due)
        self._due = due
        with self._lock:
            self._next_wake = min(later) if later else None

    def sleep(self, stopping: threading.Event) -> None:
        """Wait until the next due time, a feed event, or :meth:`wake`; without a live feed
        at most ``poll_seconds``."""
        now = self.clock()
        wake = self._earliest()
        timeout = None if wake is None else max(0.0, (wake - now).total_seconds())
        live = self.live()
        if not live:
            timeout = self.poll_seconds if timeout is None else min(timeout, self.poll_seconds)
        if stopping.is_set():
            return
        woken = self._wake.wait(timeout)
        self._wake.clear()
        now = self.clock()
        due = False
        with self._lock:
            while self._timers and self._timers[0] <= now:
                heapq.heappop(self._timers)
                due = True
            if self._next_wake is not None and self._next_wake <= now:
                self._next_wake = None
                due = True
        if not live or due or not woken:
            self._look = True

    def sleeping_forever(self) -> bool:
        """True when the next :meth:`sleep` would wait for an event with no time limit."""
        with self._lock:
            return (self._next_wake is None and not self._timers and not self._fresh
                    and not self._to_read and not self._due and not self._look and self.live())

    def wake(self) -> None:
        self._wake.set()

    # --- after processing ------------------------------------------------------------------
    def retry_at(self, when: datetime) -> None:
        """A delivery of a prescription this forwarder released is due again at ``when``."""
        self._wake_at(when)

    def released(self, code: str) -> None:
        """This forwarder is done with ``code``: if work was queued on it meanwhile, look
        again."""
        with self._lock:
            self._active.discard(code)
            changed = code in self._held_changed
            self._held_changed.discard(code)
        if changed:
            self._look = True
            self._wake.set()
