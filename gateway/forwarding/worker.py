"""The forwarder: sends every delivery in the prescriptions' outboxes, durably and in order.

Any number of forwarders may run, on any number of machines, against one database:

- **Find.** New work is pushed by the process's change feed; later work (retries, a dead
  forwarder's claims) is found by one query and slept until: see
  gateway/forwarding/schedule.py. A forwarder with nothing due costs no database operation.
- **Claim.** Each one is claimed with a conditional single-document update: the lease must be
  absent or expired and the delivery about to be sent must still be in the state the snapshot
  shows; the same write sets ``forward_lease_owner`` / ``forward_lease_until`` and marks the
  delivery ``in_flight``. Only the lease holder sends that prescription's deliveries, so two
  forwarders never send the same delivery at once; a crashed forwarder's claim is taken again
  once its lease has run out (at most one duplicate, carrying the same delivery id).
  (``find_one_and_update`` would do too; on the embedded database it is far slower.)
- **Send in order.** Within the claimed prescription, deliveries go in ``seq`` order; one waits
  while an earlier delivery to the same target is not ``delivered`` (a cancellation never
  overtakes its prescription). Before each later send the delivery is marked ``in_flight`` and
  the lease renewed, in one write (with the previous outcome) that proves the lease is ours.
- **Record.** Delivered → ``delivered``; refused content → ``failed_permanent`` (kept with the
  receiver's answer); anything transient → ``pending`` again after exponential backoff with
  full jitter (``random(0, min(cap, base * 2**(attempts-1)))``), or ``dead`` once the first
  attempt is older than the maximum age.
- **Release.** One update writes the last outcome (with its audit event), clears the lease and
  sets ``forward_due_at``: the earliest ``next_attempt_at`` of an open delivery not held back
  by an earlier one. The forwarder computes it from the outbox it holds, and the update lands
  only if ``forward_rev`` still has the snapshot's value (nothing was appended or made due
  again meanwhile: a plain ``$set``); otherwise a pipeline update recomputes it inside the
  database from the array as it is then, so deliveries appended meanwhile are not missed.
  A prescription with one delivery costs two writes: the claim, and the outcome with the
  release.
- **Parked.** Without ``ERX_REGISTRY_BASE_URL`` (development) a registry delivery is parked
  (``pending`` with no ``next_attempt_at``, its reason in ``last_error``) instead of being
  retried: it waits, costing nothing, until a forwarder with a configured registry starts and
  makes every parked delivery due (:meth:`OutboxStore.unpark`).

Concurrency: a bounded thread pool (``FORWARDER_CONCURRENCY``) processes claimed prescriptions,
so a slow receiver holds one worker (for at most the request timeout), not the others.
SIGTERM stops claiming, lets the current sends finish, and releases.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter, Histogram
from pymongo.errors import PyMongoError

from gateway.audit.log import AuditLog
from gateway.core.changes import ChangeFeed
from gateway.core.config import ConfigError, check_registry_url
from gateway.core.settings import Settings
from gateway.forwarding.registry import (
    HttpRegistryClient,
    RegistryClient,
    UnconfiguredRegistry,
    national_cancellation,
    national_dispense_report,
    national_document,
)
from gateway.forwarding.schedule import Schedule, parse_partition
from gateway.forwarding.webhooks import PharmacyWebhookClient
from gateway.parties.store import PartyStore
from gateway.prescriptions.model import DeliveryEvent, DeliveryState
from gateway.prescriptions.outbox import (
    OPEN,
    REGISTRY,
    REVISION,
    Outcome,
    SendResult,
    pharmacy_code,
    target_kind,
    waiting_for,
)
from gateway.prescriptions.outbox_store import WORK_EVENTS, OutboxStore, Outcomes
from gateway.prescriptions.store import PRESCRIPTIONS

log = logging.getLogger(__name__)

# Registered by the composition root (gateway.web.metrics.init_app), not on import.
REFUSED = Counter("erx_forward_refused_total", "Deliveries the receiver refused for good "
                  "(failed_permanent), by target", ["target"], registry=None)
ATTEMPTS = Counter("erx_forward_attempts_total", "Send attempts by the forwarder, by result",
                   ["target", "event", "result"], registry=None)
SEND_SECONDS = Histogram("erx_forward_send_duration_seconds", "Duration of one send attempt",
                         ["target"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
                         registry=None)
METRICS = (REFUSED, ATTEMPTS, SEND_SECONDS)


@dataclass(frozen=True)
class ForwardingPolicy:
    """Numbers of the forwarder, read from the settings by :meth:`from_settings` (their
    defaults are the settings' own)."""

    backoff_base: float
    backoff_cap: float
    max_age: timedelta
    lease: timedelta
    concurrency: int
    poll_seconds: float
    claim_batch: int
    utc_offset_minutes: int  # local time of the national document (ERX_RX_UTC_OFFSET_MINUTES)
    partition: tuple[int, int]  # ERX_FORWARDER_PARTITION

    @classmethod
    def from_settings(cls, settings: Settings) -> ForwardingPolicy:
        """Raises ConfigError when the lease could run out during one send, or for a
        malformed partition."""
        try:
            partition = parse_partition(settings.forwarder_partition)
        except ValueError as exc:
            raise ConfigError(f"ERX_FORWARDER_PARTITION: {exc}") from None
        policy = cls(backoff_base=settings.forward_backoff_base_seconds,
                     backoff_cap=settings.forward_backoff_cap_seconds,
                     max_age=timedelta(hours=settings.forward_max_age_hours),
                     lease=timedelta(seconds=settings.forwarder_lease_seconds),
                     concurrency=settings.forwarder_concurrency,
                     poll_seconds=settings.forwarder_poll_seconds,
                     claim_batch=settings.forwarder_claim_batch,
                     utc_offset_minutes=settings.rx_utc_offset_minutes, partition=partition)
        one_send = settings.forward_connect_timeout_seconds + settings.forward_timeout_seconds
        if policy.lease.total_seconds() < 2 * one_send:
            raise ConfigError(
                "ERX_FORWARDER_LEASE_SECONDS must be at least twice the connect plus read "
                f"timeout ({2 * one_send:g} s), or a slow send could outlive the lease")
        return policy


def backoff_delay(attempts: int, *, base: float, cap: float,
                  rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**(attempts-1)))."""
    exponent = min(max(attempts - 1, 0), 60)
    ceiling = min(cap, base * (2 ** exponent))
    return (rng or random).uniform(0, ceiling)


def utcnow() -> datetime:
    return datetime.now(UTC)


class LeaseLost(Exception):
    """Another forwarder holds the prescription now (ours ran out)."""


class Forwarder:
    """Claims due prescriptions and sends their deliveries (see the module docstring)."""

    def __init__(self, *, outbox: OutboxStore, parties: PartyStore, audit: AuditLog,
                 registry: RegistryClient, pharmacies: PharmacyWebhookClient,
                 pharmacy_view: Callable[[Mapping[str, Any], str], dict[str, Any]],
                 policy: ForwardingPolicy, owner: str | None = None,
                 feed: ChangeFeed | None = None,
                 clock: Callable[[], datetime] = utcnow, rng: random.Random | None = None) -> None:
        """``pharmacy_view(doc, pharmacy_code)``: the prescription resource as that pharmacy
        sees it (the webhook body); ``feed``: the process's change feed, which pushes new work
        while :meth:`run` runs (None: look every ``poll_seconds``)."""
        self.outbox = outbox
        self.parties = parties
        self.audit = audit
        self.pharmacy_view = pharmacy_view
        self.registry = registry
        self.pharmacies = pharmacies
        self.policy = policy
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self.rng = rng or random.Random()
        self.stopping = threading.Event()
        self.feed = feed
        self.schedule = Schedule(outbox, owner=self.owner, lease=policy.lease,
                                 batch=policy.claim_batch, poll_seconds=policy.poll_seconds,
                                 partition=policy.partition,
                                 live=feed.live if feed is not None else lambda: False,
                                 clock=clock, rng=self.rng)
        self.parked = isinstance(registry, UnconfiguredRegistry)

    # --- finding work ---------------------------------------------------------------------
    def candidates(self) -> list[dict[str, Any]]:
        """Up to ``claim_batch`` due, unleased prescriptions, most overdue first, shuffled so
        that forwarders reading the same batch rarely race for the same one. A snapshot only:
        each is claimed with a conditional update before anything is sent."""
        docs = self.outbox.due(self.clock(), self.policy.claim_batch)
        self.rng.shuffle(docs)
        return docs

    def _next_index(self, deliveries: list[dict[str, Any]], tried: set[int],
                    now: datetime) -> int | None:
        order = sorted(range(len(deliveries)), key=lambda i: (deliveries[i].get("seq", i), i))
        for index in order:
            entry = deliveries[index]
            if (index in tried or entry.get("state") not in OPEN
                    or waiting_for(deliveries, index) is not None):
                continue
            # in_flight while nobody holds the lease: the holder died mid-send; due now.
            if entry["state"] == DeliveryState.PENDING:
                due = entry.get("next_attempt_at")
                if due is None:  # parked: due as soon as the registry is configured
                    if self._parks(entry):
                        continue
                elif due > now:
                    continue
            return index
        return None

    def _parks(self, entry: Mapping[str, Any]) -> bool:
        """A delivery this forwarder parks rather than sends (the registry is unconfigured)."""
        return self.parked and entry.get("target") == REGISTRY

    # --- one prescription -------------------------------------------------------------------
    def process(self, doc: dict[str, Any], *, fresh: bool = False) -> bool:
        """Claim ``doc`` (a snapshot: from :meth:`candidates`, the schedule, or the feed when
        ``fresh``) and send its due deliveries in order, then release it. False when another
        forwarder has it or it changed meanwhile.

        Writes per delivery: one (marking it in flight, together with the claim or with the
        previous delivery's outcome); the last outcome goes with the release, and each
        outcome's audit event with the write of that outcome.
        """
        code = doc["_id"]
        deliveries: list[dict[str, Any]] = doc.get("deliveries") or []
        tried: set[int] = set()
        index = self._next_index(deliveries, tried, self.clock())
        if index is None:
            return False if fresh else self._recompute(code)
        doc = self.outbox.opened(doc)  # patient fields in plain text for the receivers
        unwritten: Outcomes = {}  # the previous delivery's outcome: index -> fields
        events: list[dict[str, Any]] = []  # the audit events of the unwritten outcome
        claimed = False
        try:
            while index is not None:
                entry = deliveries[index]
                tried.add(index)
                seen = (entry["state"], entry.get("attempts", 0))  # as the snapshot shows it
                now = self.clock()
                first = entry.get("first_attempt_at") or now
                if self._parks(entry):
                    parked = {"state": DeliveryState.PENDING, "next_attempt_at": None,
                              "last_error": UnconfiguredRegistry.REASON}
                    entry.update(state=DeliveryState.PENDING, next_attempt_at=None)
                    if claimed:
                        unwritten[index] = parked
                    else:
                        self._write(doc, index, seen, claimed, {index: parked}, False, now)
                        claimed = True
                elif now - first >= self.policy.max_age:
                    gave_up = self._outcome_fields(code, entry, None, first, now, events)
                    self._write(doc, index, seen, claimed, {**unwritten, index: gave_up}, False,
                                now, events)
                    claimed, unwritten, events = True, {}, []
                else:
                    self._write(doc, index, seen, claimed, {
                        **unwritten, index: {"state": DeliveryState.IN_FLIGHT,
                                             "last_attempt_at": now,
                                             "first_attempt_at": first}}, True, now, events)
                    claimed, events = True, []
                    attempt = entry.get("attempts", 0) + 1
                    entry.update(state=DeliveryState.IN_FLIGHT, attempts=attempt, first_attempt_at=first)
                    with SEND_SECONDS.labels(target_kind(entry["target"])).time():
                        outcome = self.deliver(doc, entry, attempt)
                    unwritten = {index: self._outcome_fields(code, entry, outcome, first,
                                                             self.clock(), events)}
                if self.stopping.is_set():
                    break
                index = self._next_index(deliveries, tried, self.clock())
        except LeaseLost:
            if claimed:
                log.warning("lease lost while forwarding", extra={"ma_don_thuoc": code})
            self._keep_events(events)
            return False
        self._finish(code, unwritten, events,
                     known={"revision": doc.get(REVISION), "deliveries": deliveries})
        # Released: wake for the earliest retry (not before: a look while this forwarder
        # still held the prescription would take its lease for the next due time).
        retries = [deliveries[i]["next_attempt_at"] for i in tried
                   if deliveries[i].get("state") == DeliveryState.PENDING
                   and deliveries[i].get("next_attempt_at")]
        if retries:
            self.schedule.retry_at(min(retries))
        return True

    def _keep_events(self, events: list[dict[str, Any]]) -> None:
        """Audit events whose outcome could not be written with them: what the receiver did is
        a fact as soon as it answered, so they are recorded on their own."""
        for event in events:
            self.audit.store(event)

    def _write(self, doc: dict[str, Any], index: int, seen: tuple[str, int], claimed: bool,
               outcomes: Outcomes, attempted: bool, now: datetime,
               events: list[dict[str, Any]] | None = None) -> None:
        """The first write claims the prescription, on condition that the lease is free and
        the delivery is still as the snapshot shows it; later writes need our lease.
        ``outcomes``: the fields to write, by delivery index; ``attempted``: delivery
        ``index`` is being sent (its attempts count one more)."""
        claim = None if claimed else {"index": index, "id": doc["deliveries"][index]["id"],
                                      "state": seen[0], "attempts": seen[1]}
        if not self.outbox.write(doc["_id"], owner=self.owner,
                                 lease_until=now + self.policy.lease, outcomes=outcomes,
                                 attempted=index if attempted else None,
                                 claim=claim, now=now, audit_events=events):
            raise LeaseLost(doc["_id"])

    def _outcome_fields(self, code: str, entry: dict[str, Any], outcome: Outcome | None,
                        first: datetime, now: datetime,
                        events: list[dict[str, Any]]) -> dict[str, Any]:
        """The fields of the delivery recording ``outcome`` (None: given up unsent, too old);
        updates ``entry`` to match, counts the result, and adds a final outcome's audit event
        to ``events``."""
        fields: dict[str, Any] = {}
        if outcome is None:
            state, result = DeliveryState.DEAD, "dead"
            fields["last_error"] = (f"gave up: first attempt more than "
                                             f"{self.policy.max_age} ago; last error: "
                                             f"{entry.get('last_error')}")
        else:
            fields["last_error"] = outcome.error
            fields["response"] = outcome.response
            if outcome.kind == SendResult.DELIVERED:
                state, result = DeliveryState.DELIVERED, "delivered"
                fields["delivered_at"] = now
            elif outcome.kind == SendResult.PERMANENT:
                state, result = DeliveryState.FAILED_PERMANENT, "failed_permanent"
            elif outcome.kind == SendResult.SKIPPED:
                state, result = DeliveryState.SKIPPED, "skipped"
            elif now - first >= self.policy.max_age:
                state, result = DeliveryState.DEAD, "dead"
                fields["last_error"] = (f"gave up after {self.policy.max_age}: "
                                                 f"{outcome.error}")
            else:
                state, result = DeliveryState.PENDING, "retry"
                delay = backoff_delay(entry.get("attempts", 1), base=self.policy.backoff_base,
                                      cap=self.policy.backoff_cap, rng=self.rng)
                entry["next_attempt_at"] = fields["next_attempt_at"] = \
                    now + timedelta(seconds=delay)
        fields["state"] = entry["state"] = state
        ATTEMPTS.labels(target_kind(entry["target"]), entry["event"], result).inc()
        if state == DeliveryState.FAILED_PERMANENT:
            REFUSED.labels(target_kind(entry["target"])).inc()
        if state in (DeliveryState.DELIVERED, DeliveryState.FAILED_PERMANENT, DeliveryState.DEAD,
                     DeliveryState.SKIPPED):
            events.append(self._audit_event(code, entry, state))
        return fields

    def _audit_event(self, code: str, entry: Mapping[str, Any], state: str) -> dict[str, Any]:
        """A terminal outcome's audit event, written with the outcome (or on its own if that
        write fails: :meth:`_keep_events`)."""
        return self.audit.prepare(
            {DeliveryState.DELIVERED.value: "delivery.delivered",
             DeliveryState.SKIPPED.value: "delivery.skipped"}.get(state, "delivery.failed"),
            outcome="success" if state in (DeliveryState.DELIVERED, DeliveryState.SKIPPED) else "failure",
            object_type="prescription", object_id=code, actor="forwarder",
            details={"delivery": entry["id"], "target": entry["target"], "event": entry["event"],
                     "attempts": entry.get("attempts", 0), "state": state})

    def _finish(self, code: str, unwritten: Outcomes,
                events: list[dict[str, Any]] | None = None,
                known: Mapping[str, Any] | None = None) -> None:
        """Record the last outcome, set ``forward_due_at``, release. ``known``: the outbox as
        this lease holder has kept it (:meth:`OutboxStore.release`); without it the due time
        is recomputed in the database."""
        try:
            released = self.outbox.release(code, owner=self.owner, outcomes=unwritten,
                                           audit_events=events, known=known)
        except PyMongoError:
            self._keep_events(events or [])  # it may or may not have been written: keep it
            raise
        if not released:
            self._keep_events(events or [])

    def _recompute(self, code: str) -> bool:
        """Due, yet nothing in it can go now (e.g. a new delivery waits behind one in
        backoff): claim it only to recompute ``forward_due_at``."""
        now = self.clock()
        if self.outbox.claim_to_recompute(code, owner=self.owner, now=now,
                                          lease_until=now + self.policy.lease):
            self._finish(code, {})
        return False

    def deliver(self, doc: Mapping[str, Any], entry: Mapping[str, Any], attempt: int) -> Outcome:
        """Send one delivery to its receiver; never raises (a bug becomes a retried outcome)."""
        try:
            return self._send(doc, entry, attempt)
        except Exception as exc:
            log.exception("sending a delivery failed", extra={"delivery": entry.get("id")})
            return Outcome.retry(f"internal error: {type(exc).__name__}")

    def _send(self, doc: Mapping[str, Any], entry: Mapping[str, Any], attempt: int) -> Outcome:
        target, event, delivery_id = entry["target"], entry["event"], entry["id"]
        if target == REGISTRY:
            if event == DeliveryEvent.PRESCRIPTION_ISSUED:
                body = national_document(doc, utc_offset_minutes=self.policy.utc_offset_minutes)
                return self.registry.send_prescription(body, delivery_id=delivery_id)
            if event == DeliveryEvent.PRESCRIPTION_CANCELLED:
                return self.registry.send_cancellation(national_cancellation(doc),
                                                       delivery_id=delivery_id)
            if event == DeliveryEvent.DISPENSE_RECORDED:
                dispense = next((d for d in doc.get("dispenses") or []
                                 if d.get("id") == entry.get("ref")), None)
                if dispense is None:
                    return Outcome.permanent(f"dispense {entry.get('ref')} is not in the "
                                             f"prescription")
                pharmacy = self.parties.document("pharmacy", dispense.get("pharmacy"))
                return self.registry.send_dispense(
                    national_dispense_report(doc, dispense, pharmacy), delivery_id=delivery_id)
        code = pharmacy_code(target)
        if code is not None:
            return self.pharmacies.send(code, event=event,
                                        resource=self.pharmacy_view(doc, code),
                                        delivery_id=delivery_id, attempt=attempt)
        return Outcome.permanent(f"unknown target {target!r} or event {event!r}")

    # --- the loop -------------------------------------------------------------------------------
    def _process_guarded(self, doc: dict[str, Any], fresh: bool = False) -> None:
        try:
            self.process(doc, fresh=fresh)
        except PyMongoError as exc:
            # The lease runs out and the prescription is claimed again: nothing is lost.
            log.warning("database error while forwarding; the lease will expire",
                        extra={"ma_don_thuoc": doc.get("_id"), "error": type(exc).__name__})
            self.schedule.retry_at(self.clock() + self.policy.lease)
        except Exception:
            log.exception("forwarding a prescription failed",
                          extra={"ma_don_thuoc": doc.get("_id")})
        finally:
            self.schedule.released(doc["_id"])

    def unpark(self) -> int:
        """With a configured registry: make every parked registry delivery due now (run once
        when the forwarder starts); how many prescriptions had some."""
        if self.parked:
            return 0
        count = self.outbox.unpark(self.clock())
        if count:
            log.info("registry configured: %s prescriptions' parked deliveries are due", count)
        return count

    def run(self) -> None:
        """Process what is due and what the feed pushes until :meth:`stop`, sleeping in
        between (gateway/forwarding/schedule.py); then finish the current sends and return."""
        slots = threading.BoundedSemaphore(self.policy.concurrency)
        log.info("forwarder started", extra={"owner": self.owner,
                                             "concurrency": self.policy.concurrency,
                                             "partition": "/".join(map(str, self.policy.partition))})
        if self.feed is not None:
            self.feed.subscribe(PRESCRIPTIONS, self.schedule, match=WORK_EVENTS)
        try:
            self.unpark()
        except PyMongoError as exc:
            log.warning("cannot unpark deliveries: database error",
                        extra={"error": type(exc).__name__})
        with ThreadPoolExecutor(self.policy.concurrency, thread_name_prefix="forward") as pool:
            while not self.stopping.is_set():
                try:
                    taken = self.schedule.next()
                except PyMongoError as exc:
                    log.warning("cannot look for work: database error",
                                extra={"error": type(exc).__name__})
                    self.stopping.wait(self.policy.poll_seconds)
                    continue
                if taken is None:
                    self.schedule.sleep(self.stopping)
                    continue
                while not slots.acquire(timeout=self.policy.poll_seconds):
                    if self.stopping.is_set():
                        break
                else:
                    future = pool.submit(self._process_guarded, *taken)
                    future.add_done_callback(lambda _: slots.release())
        if self.feed is not None:
            self.feed.unsubscribe(self.schedule)
        log.info("forwarder stopped", extra={"owner": self.owner})

    def run_until_idle(self, *, rounds: int = 1000) -> int:
        """In this thread: process batches until none is due now (or ``rounds`` batches);
        the number of prescriptions processed."""
        processed = 0
        for _ in range(rounds):
            batch = self.candidates()
            if not batch:
                break
            for doc in batch:
                processed += self.process(doc)
        return processed

    def stop(self) -> None:
        self.stopping.set()
        self.schedule.wake()


# --- wiring ---------------------------------------------------------------------------------------
def registry_client(settings: Settings) -> RegistryClient:
    """The registry client the settings describe.

    Raises:
        ConfigError: in production, ``REGISTRY_BASE_URL`` is empty or not https.
    """
    check_registry_url(settings)
    if not settings.registry_base_url:
        if settings.env == "production":
            raise ConfigError("ERX_REGISTRY_BASE_URL is required in production "
                              "(the national registry the forwarder sends to)")
        return UnconfiguredRegistry()
    return HttpRegistryClient(
        base_url=settings.registry_base_url, facility_code=settings.registry_facility_code,
        password=settings.registry_password,
        connect_timeout=settings.forward_connect_timeout_seconds,
        read_timeout=settings.forward_timeout_seconds,
        cancel_path=settings.registry_cancel_path,
        token_ttl_seconds=settings.registry_token_ttl_seconds,
        already_exists=settings.registry_already_exists_pattern)


def forwarder_argv() -> list[str]:
    """How ``erx-gateway run`` starts a forwarder beside gunicorn (gateway/runtime/supervisor.py)."""
    return [sys.executable, "-m", "gateway.cli", "forwarder"]
