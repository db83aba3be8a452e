"""The forwarder: sends every delivery in the prescriptions' outboxes, durably and in order.

Any number of forwarders may run, on any number of machines, against one database:

- **Claim.** A forwarder takes one prescription at a time with an atomic find-and-modify on
  ``forward_due_at <= now`` and an absent or expired lease, setting ``forward_lease_owner`` and
  ``forward_lease_until``. Only the lease holder sends that prescription's deliveries, so two
  forwarders never send the same delivery at once; a crashed forwarder's claim is taken again
  once its lease has run out (at most one duplicate, carrying the same delivery id).
- **Send in order.** Within the claimed prescription, deliveries go in ``seq`` order; one waits
  while an earlier delivery to the same target is not ``delivered`` (a cancellation never
  overtakes its prescription). Before each send the delivery is marked ``in_flight`` and the
  lease is renewed, in one write that also proves the lease is still ours.
- **Record.** Delivered → ``delivered``; refused content → ``failed_permanent`` (kept with the
  receiver's answer); anything transient → ``pending`` again after exponential backoff with
  full jitter (``random(0, min(cap, base * 2**(attempts-1)))``), or ``dead`` once the first
  attempt is older than the maximum age.
- **Release.** One pipeline update clears the lease and recomputes ``forward_due_at`` inside the
  database from the array as it is then (so deliveries appended meanwhile are not missed): the
  earliest ``next_attempt_at`` of an open delivery not held back by an earlier one.

Concurrency: a bounded thread pool (``FORWARDER_CONCURRENCY``) processes claimed prescriptions,
so a slow receiver holds one worker (for at most the request timeout), not the others.
SIGTERM stops claiming, lets the current sends finish, and releases.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Flask
from prometheus_client import Counter, Histogram
from pymongo import ASCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import PyMongoError

from gateway.config import ConfigError
from gateway.outbox import (CANCELLED, DEAD, DELIVERED, DISPENSED, FAILED_PERMANENT, IN_FLIGHT,
                            ISSUED, OPEN, PENDING, REGISTRY, RESULT_DELIVERED,
                            RESULT_PERMANENT, Outcome, pharmacy_code, target_kind)
from gateway.registry import (HttpRegistryClient, RegistryClient, UnconfiguredRegistry,
                              national_cancellation, national_dispense_report,
                              national_document)
from gateway.webhooks import PharmacyWebhookClient, WebhookStore, pharmacy_resource

log = logging.getLogger(__name__)

COLLECTION = "prescriptions"

ATTEMPTS = Counter("erx_forward_attempts_total", "Send attempts by the forwarder, by result",
                   ["target", "event", "result"])
SEND_SECONDS = Histogram("erx_forward_send_duration_seconds", "Duration of one send attempt",
                         ["target"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


@dataclass(frozen=True)
class ForwardingPolicy:
    """Numbers of the forwarder; ``from_config`` reads them from the settings."""

    backoff_base: float = 2.0
    backoff_cap: float = 900.0
    max_age: timedelta = timedelta(hours=72)
    lease: timedelta = timedelta(seconds=60)
    concurrency: int = 8
    poll_seconds: float = 1.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ForwardingPolicy:
        """Raises ConfigError when the lease could run out during one send."""
        policy = cls(backoff_base=config["FORWARD_BACKOFF_BASE_SECONDS"],
                     backoff_cap=config["FORWARD_BACKOFF_CAP_SECONDS"],
                     max_age=timedelta(hours=config["FORWARD_MAX_AGE_HOURS"]),
                     lease=timedelta(seconds=config["FORWARDER_LEASE_SECONDS"]),
                     concurrency=config["FORWARDER_CONCURRENCY"],
                     poll_seconds=config["FORWARDER_POLL_SECONDS"])
        one_send = config["FORWARD_CONNECT_TIMEOUT_SECONDS"] + config["FORWARD_TIMEOUT_SECONDS"]
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
    return datetime.now(timezone.utc)


def _held_back(deliveries: list[dict[str, Any]], index: int) -> bool:
    entry = deliveries[index]
    key = (entry.get("seq", index), index)
    return any(other.get("target") == entry.get("target") and other.get("state") != DELIVERED
               and (other.get("seq", position), position) < key
               for position, other in enumerate(deliveries))


# forward_due_at recomputed in the database: the earliest next_attempt_at of an open delivery
# not held back by an earlier undelivered delivery to the same target.
_SENDABLE = {"$filter": {"input": {"$ifNull": ["$deliveries", []]}, "as": "d", "cond": {"$and": [
    {"$in": ["$$d.state", list(OPEN)]},
    {"$eq": [{"$size": {"$filter": {"input": "$deliveries", "as": "e", "cond": {"$and": [
        {"$eq": ["$$e.target", "$$d.target"]}, {"$lt": ["$$e.seq", "$$d.seq"]},
        {"$ne": ["$$e.state", DELIVERED]}]}}}}, 0]}]}}}
RECOMPUTE_DUE = {"$min": {"$map": {"input": _SENDABLE, "as": "p", "in": "$$p.next_attempt_at"}}}
RELEASE = [{"$set": {"forward_due_at": RECOMPUTE_DUE, "forward_lease_until": None,
                     "forward_lease_owner": None}}]


class Forwarder:
    """Claims due prescriptions and sends their deliveries (see the module docstring)."""

    def __init__(self, *, database: Database, registry: RegistryClient,
                 pharmacies: PharmacyWebhookClient, policy: ForwardingPolicy,
                 owner: str | None = None, clock: Callable[[], datetime] = utcnow,
                 rng: random.Random | None = None) -> None:
        self.database = database
        self.prescriptions: Collection = database[COLLECTION]
        self.registry = registry
        self.pharmacies = pharmacies
        self.policy = policy
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self.rng = rng or random.Random()
        self.stopping = threading.Event()

    # --- claiming ---------------------------------------------------------------------------
    def claim(self) -> dict[str, Any] | None:
        """Lease the most overdue prescription with something to send, or None."""
        now = self.clock()
        return self.prescriptions.find_one_and_update(
            {"forward_due_at": {"$lte": now},
             "$or": [{"forward_lease_until": None}, {"forward_lease_until": {"$lte": now}}]},
            {"$set": {"forward_lease_owner": self.owner,
                      "forward_lease_until": now + self.policy.lease}},
            sort=[("forward_due_at", ASCENDING)], return_document=ReturnDocument.AFTER)

    def release(self, code: str) -> None:
        self.prescriptions.update_one({"_id": code, "forward_lease_owner": self.owner}, RELEASE)

    # --- one prescription -------------------------------------------------------------------
    def process(self, doc: dict[str, Any]) -> None:
        """Send the claimed prescription's due deliveries in order, then release it."""
        deliveries: list[dict[str, Any]] = doc.get("deliveries") or []
        order = sorted(range(len(deliveries)), key=lambda i: (deliveries[i].get("seq", i), i))
        for index in order:
            if self.stopping.is_set():
                break
            entry = deliveries[index]
            if entry.get("state") not in OPEN or _held_back(deliveries, index):
                continue
            # in_flight with our fresh lease means a previous holder died mid-send: due now.
            if entry["state"] == PENDING and entry["next_attempt_at"] > self.clock():
                continue
            if not self._attempt(doc, index):
                return  # the lease is no longer ours: the new holder carries on
        self.release(doc["_id"])

    def _attempt(self, doc: dict[str, Any], index: int) -> bool:
        entry = doc["deliveries"][index]
        now = self.clock()
        first = entry.get("first_attempt_at") or now
        prefix = f"deliveries.{index}."
        ours = {"_id": doc["_id"], "forward_lease_owner": self.owner}
        if now - first >= self.policy.max_age:
            return self._record(doc, index, DEAD, {
                prefix + "last_error": f"gave up: first attempt older than "
                                       f"{self.policy.max_age}; last error: "
                                       f"{entry.get('last_error')}"}, result="dead")
        marked = self.prescriptions.update_one(ours, {
            "$set": {prefix + "state": IN_FLIGHT, prefix + "last_attempt_at": now,
                     prefix + "first_attempt_at": first,
                     "forward_lease_until": now + self.policy.lease},
            "$inc": {prefix + "attempts": 1}})
        if marked.matched_count == 0:
            return False
        attempt = entry.get("attempts", 0) + 1
        entry.update(state=IN_FLIGHT, attempts=attempt, first_attempt_at=first)
        timer = SEND_SECONDS.labels(target_kind(entry["target"])).time()
        with timer:
            outcome = self.deliver(doc, entry, attempt)
        now = self.clock()
        fields: dict[str, Any] = {prefix + "last_error": outcome.error,
                                  prefix + "response": outcome.response}
        if outcome.kind == RESULT_DELIVERED:
            fields[prefix + "delivered_at"] = now
            return self._record(doc, index, DELIVERED, fields, result="delivered")
        if outcome.kind == RESULT_PERMANENT:
            return self._record(doc, index, FAILED_PERMANENT, fields, result="failed_permanent")
        if now - first >= self.policy.max_age:
            fields[prefix + "last_error"] = f"gave up after {self.policy.max_age}: {outcome.error}"
            return self._record(doc, index, DEAD, fields, result="dead")
        delay = backoff_delay(attempt, base=self.policy.backoff_base,
                              cap=self.policy.backoff_cap, rng=self.rng)
        fields[prefix + "next_attempt_at"] = now + timedelta(seconds=delay)
        return self._record(doc, index, PENDING, fields, result="retry")

    def _record(self, doc: dict[str, Any], index: int, state: str, fields: dict[str, Any],
                *, result: str) -> bool:
        entry = doc["deliveries"][index]
        ATTEMPTS.labels(target_kind(entry["target"]), entry["event"], result).inc()
        fields[f"deliveries.{index}.state"] = state
        written = self.prescriptions.update_one(
            {"_id": doc["_id"], "forward_lease_owner": self.owner}, {"$set": fields})
        if written.matched_count == 0:
            log.warning("lease lost before recording a delivery",
                        extra={"delivery": entry["id"], "outcome": state})
            return False
        entry["state"] = state
        if state == PENDING:
            entry["next_attempt_at"] = fields[f"deliveries.{index}.next_attempt_at"]
        return True

    def deliver(self, doc: Mapping[str, Any], entry: Mapping[str, Any], attempt: int) -> Outcome:
        """Send one delivery to its receiver; never raises (a bug becomes a retried outcome)."""
        try:
            return self._send(doc, entry, attempt)
        except Exception as exc:  # noqa: BLE001 - one bad delivery must not stop the others
            log.exception("sending a delivery failed", extra={"delivery": entry.get("id")})
            return Outcome.retry(f"internal error: {type(exc).__name__}")

    def _send(self, doc: Mapping[str, Any], entry: Mapping[str, Any], attempt: int) -> Outcome:
        target, event, delivery_id = entry["target"], entry["event"], entry["id"]
        if target == REGISTRY:
            if event == ISSUED:
                return self.registry.send_prescription(national_document(doc),
                                                       delivery_id=delivery_id)
            if event == CANCELLED:
                return self.registry.send_cancellation(national_cancellation(doc),
                                                       delivery_id=delivery_id)
            if event == DISPENSED:
                dispense = next((d for d in doc.get("dispenses") or []
                                 if d.get("id") == entry.get("ref")), None)
                if dispense is None:
                    return Outcome.permanent(f"dispense {entry.get('ref')} is not in the "
                                             f"prescription")
                pharmacy = self.database["parties"].find_one(
                    {"role": "pharmacy", "code": dispense.get("pharmacy")}, {"secret_hash": 0})
                return self.registry.send_dispense(
                    national_dispense_report(doc, dispense, pharmacy), delivery_id=delivery_id)
        code = pharmacy_code(target)
        if code is not None:
            return self.pharmacies.send(code, event=event, resource=pharmacy_resource(doc),
                                        delivery_id=delivery_id, attempt=attempt)
        return Outcome.permanent(f"unknown target {target!r} or event {event!r}")

    # --- the loop -------------------------------------------------------------------------------
    def _process_guarded(self, doc: dict[str, Any]) -> None:
        try:
            self.process(doc)
        except PyMongoError as exc:
            # The lease runs out and the prescription is claimed again: nothing is lost.
            log.warning("database error while forwarding; the lease will expire",
                        extra={"ma_don_thuoc": doc.get("_id"), "error": type(exc).__name__})
        except Exception:  # noqa: BLE001 - keep the worker thread alive
            log.exception("forwarding a prescription failed", extra={"ma_don_thuoc": doc.get("_id")})

    def run(self) -> None:
        """Claim and process until :meth:`stop`; then finish the current sends and return."""
        slots = threading.BoundedSemaphore(self.policy.concurrency)
        log.info("forwarder started", extra={"owner": self.owner,
                                             "concurrency": self.policy.concurrency})
        with ThreadPoolExecutor(self.policy.concurrency, thread_name_prefix="forward") as pool:
            while not self.stopping.is_set():
                if not slots.acquire(timeout=self.policy.poll_seconds):
                    continue
                try:
                    doc = self.claim()
                except PyMongoError as exc:
                    slots.release()
                    log.warning("cannot claim: database error", extra={"error": type(exc).__name__})
                    self.stopping.wait(self.policy.poll_seconds)
                    continue
                if doc is None:
                    slots.release()
                    self.stopping.wait(self.policy.poll_seconds)
                    continue
                future = pool.submit(self._process_guarded, doc)
                future.add_done_callback(lambda _: slots.release())
        log.info("forwarder stopped", extra={"owner": self.owner})

    def run_until_idle(self) -> int:
        """Claim and process in this thread until nothing is due now; the number processed."""
        processed = 0
        while (doc := self.claim()) is not None:
            self.process(doc)
            processed += 1
        return processed

    def stop(self) -> None:
        self.stopping.set()


# --- wiring ---------------------------------------------------------------------------------------
def _gateway_signer(app: Flask) -> Any:
    """The gateway's signer: the one place the forwarder reaches the signing key."""
    from gateway.signatures import signer

    with app.app_context():
        return signer()


def registry_client(config: Mapping[str, Any]) -> RegistryClient:
    """The registry client the settings describe.

    Raises:
        ConfigError: in production, ``REGISTRY_BASE_URL`` is empty.
    """
    if not config["REGISTRY_BASE_URL"]:
        if config["ENV"] == "production":
            raise ConfigError("ERX_REGISTRY_BASE_URL is required in production "
                              "(the national registry the forwarder sends to)")
        return UnconfiguredRegistry()
    return HttpRegistryClient(
        base_url=config["REGISTRY_BASE_URL"], facility_code=config["REGISTRY_FACILITY_CODE"],
        password=config["REGISTRY_PASSWORD"],
        connect_timeout=config["FORWARD_CONNECT_TIMEOUT_SECONDS"],
        read_timeout=config["FORWARD_TIMEOUT_SECONDS"],
        cancel_path=config["REGISTRY_CANCEL_PATH"],
        token_ttl_seconds=config["REGISTRY_TOKEN_TTL_SECONDS"],
        already_exists=config["REGISTRY_ALREADY_EXISTS_PATTERN"])


def build_forwarder(app: Flask, *, registry: RegistryClient | None = None,
                    owner: str | None = None, **policy_overrides: Any) -> Forwarder:
    """A forwarder wired from the app's settings (``registry`` replaces the configured one).

    Raises:
        ConfigError: see :meth:`ForwardingPolicy.from_config` and :func:`registry_client`.
    """
    config = app.config
    policy = ForwardingPolicy.from_config(config)
    if policy_overrides:
        policy = ForwardingPolicy(**{**policy.__dict__, **policy_overrides})
    database = app.extensions["erx.storage"].database
    pharmacies = PharmacyWebhookClient(
        store=WebhookStore(database), signer=lambda: _gateway_signer(app),
        connect_timeout=config["FORWARD_CONNECT_TIMEOUT_SECONDS"],
        read_timeout=config["FORWARD_TIMEOUT_SECONDS"])
    return Forwarder(database=database, registry=registry or registry_client(config),
                     pharmacies=pharmacies, policy=policy, owner=owner)


def forwarder_argv(values: Mapping[str, Any]) -> list[str]:
    """How ``erx-gateway run`` starts a forwarder beside gunicorn (gateway/supervisor.py)."""
    import sys

    return [sys.executable, "-m", "gateway.cli", "forwarder"]
