"""Audit storage: the only code that reads or writes the audit events and their counter.

An event gets the next sequence number from a counter document (``$inc``, atomic across
processes), then is inserted with that number as its ``_id``. Events are never updated.
If a process dies between taking a number and inserting its event, the number would be a
hole: :func:`next_run` waits ``AUDIT_GAP_GRACE_SECONDS`` and then fills the hole with an
``audit.sequence_lost`` event, so the sequence stays gap-free and every gap is explained.
Should the slow writer come back after that, its insert hits the unique ``_id``, and it takes
a fresh number (:func:`insert_event`): the event is recorded later, never lost or overwritten.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

log = logging.getLogger(__name__)

EVENTS = "audit_events"
COUNTERS = "audit_counters"
SYSTEM_ROLE = "system"


class AuditError(RuntimeError):
    """The audit log cannot do what was asked (the message says why)."""


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None \
        else value.astimezone(UTC)


def now_millis() -> datetime:
    """Now, truncated to the millisecond BSON keeps, so a stored time hashes as it was."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def format_time(value: datetime) -> str:
    """An event time as the log shows and hashes it: UTC, milliseconds (BSON's precision)."""
    return utc(value).isoformat(timespec="milliseconds")


def event_from_document(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The public form of a stored event: what the API answers, exports carry, and the Merkle
    leaf commits to (its RFC 8785 bytes). Every key is always present, but the actor's
    ``user``: only an event of a person in the console names one (so every event recorded
    before the console hashes as it always did)."""
    actor = {"party_id": doc["actor"].get("party_id"), "role": doc["actor"].get("role")}
    if doc["actor"].get("user") is not None:
        actor["user"] = doc["actor"]["user"]
    return {
        "seq": doc["_id"],
        "time": format_time(doc["time"]),
        "actor": actor,
        "action": doc["action"],
        "object": ({"type": doc["object"]["type"], "id": doc["object"]["id"]}
                   if doc.get("object") else None),
        "outcome": doc["outcome"],
        "request_id": doc.get("request_id"),
        "client_address": doc.get("client_address"),
        "content_sha256": doc.get("content_sha256"),
        "patient_hash": doc.get("patient_hash"),
        "details": doc.get("details"),
    }


def insert_event(database: Database, document: Mapping[str, Any]) -> int:
    """Store one event under the next sequence number and return the number.

    Raises:
        AuditError: no free number after several attempts.
        pymongo.errors.PyMongoError: the event could not be stored.
    """
    for _ in range(5):
        seq = allocate(database)
        try:
            database[EVENTS].insert_one({"_id": seq, **document})
        except DuplicateKeyError:
            # The sealer declared this number lost while we were slow: take another.
            log.warning("audit sequence %s was declared lost; recording under a new number", seq)
            continue
        return seq
    raise AuditError("could not obtain a free audit sequence number")


def allocated(database: Database) -> int:
    """How many sequence numbers were taken: the events recorded, or about to be."""
    counter = database[COUNTERS].find_one({"_id": "events"})
    return int(counter["next"]) if counter else 0


def allocate(database: Database) -> int:
    """The next sequence number (0 first: the Merkle leaf index).

    The counter is incremented only once it exists, and created separately (idempotently,
    ``$setOnInsert``): an upsert that increments, raced by several writers on a new database,
    can consume a number without returning it on the embedded database.

    Raises:
        AuditError: no number after several attempts.
    """
    counters = database[COUNTERS]
    for _ in range(10):
        doc = counters.find_one_and_update(
            {"_id": "events"},
            {"$inc": {"next": 1}, "$set": {"allocated_at": datetime.now(UTC)}},
            return_document=ReturnDocument.AFTER)
        if doc is not None:
            return int(doc["next"]) - 1
        with contextlib.suppress(DuplicateKeyError):  # another writer created it
            counters.update_one({"_id": "events"}, {"$setOnInsert": {"next": 0}}, upsert=True)
    raise AuditError("could not allocate an audit sequence number")


INDEXES = {EVENTS: [
    IndexModel([("time", ASCENDING)], name="time"),
    IndexModel([("actor.party_id", ASCENDING), ("_id", ASCENDING)], name="actor"),
    IndexModel([("actor.user", ASCENDING), ("_id", ASCENDING)], name="actor_user",
               partialFilterExpression={"actor.user": {"$type": "string"}}),
    IndexModel([("action", ASCENDING), ("_id", ASCENDING)], name="action"),
    IndexModel([("object.type", ASCENDING), ("object.id", ASCENDING), ("_id", ASCENDING)],
               name="object"),
    IndexModel([("patient_hash", ASCENDING), ("_id", ASCENDING)], name="patient",
               partialFilterExpression={"patient_hash": {"$type": "string"}}),
]}


def find_page(database: Database, query: Mapping[str, Any], limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` stored events matching ``query``, in sequence order."""
    return list(database[EVENTS].find(dict(query)).sort("_id", 1).limit(limit))


def iterate(database: Database, query: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every stored event matching ``query``, in sequence order (exports)."""
    yield from database[EVENTS].find(dict(query)).sort("_id", 1).batch_size(1000)


def fill_lost(database: Database, first: int, end: int) -> None:
    """Record ``audit.sequence_lost`` for every missing number in ``[first, end)``."""
    now = now_millis()
    for seq in range(first, end):
        try:
            database[EVENTS].insert_one({
                "_id": seq, "time": now, "actor": {"party_id": "sealer", "role": SYSTEM_ROLE},
                "action": "audit.sequence_lost", "object": None, "outcome": "failure",
                "request_id": None, "client_address": None, "content_sha256": None,
                "patient_hash": None,
                "details": {"reason": "the number was taken but its event was not stored "
                                      "within the grace period"}})
            log.warning("audit sequence %s recorded as lost", seq)
        except DuplicateKeyError:
            pass  # the writer made it after all


def next_run(database: Database, start: int, limit: int, grace: timedelta) -> list[dict]:
    """The unsealed events from ``start`` in order, stopping at a hole that is still young;
    holes older than ``grace`` are filled with ``audit.sequence_lost`` first."""
    while True:
        docs = list(database[EVENTS].find({"_id": {"$gte": start}}).sort("_id", 1).limit(limit))
        run: list[dict] = []
        expected = start
        hole_before: dict | None = None
        for doc in docs:
            if doc["_id"] != expected:
                hole_before = doc
                break
            run.append(doc)
            expected += 1
        now = datetime.now(UTC)
        if hole_before is not None:
            if run or now - utc(hole_before["time"]) < grace:
                return run
            fill_lost(database, expected, hole_before["_id"])
            continue
        if len(run) < limit:  # at the end: a hole may hide behind the counter
            counter = database[COUNTERS].find_one({"_id": "events"})
            taken = int(counter["next"]) if counter else 0
            if not run and taken > expected \
                    and now - utc(counter["allocated_at"]) >= grace:
                fill_lost(database, expected, taken)
                continue
        return run
