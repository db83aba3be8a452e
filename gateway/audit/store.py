"""Audit storage: the only code that reads or writes the audit events, their queue and
their sequence numbers.

Trillian-style (google/trillian: a log's leaves are queued, and the *sequencer* later gives
queued leaves their indices in batches): recording an event is ONE insert, into the queue
``audit_queue`` (or, for an event about a prescription, a ``$push`` inside the very update
that changes the prescription: see :mod:`gateway.prescriptions.audit_outbox_store`). No counter is
read or incremented on the request path. The sequencer (:func:`sequence`, run by the sealer
and before every read of the log) takes a batch of queued events from every source, orders
them by time, and inserts them into ``audit_events`` under the next numbers ``0, 1, 2, ...``
(the Merkle leaf index) with ONE ordered ``insert_many``, then removes them from their
sources.

Guarantees, whatever crashes and however many sequencers run at once:

- **gap-free**: a number is only ever written right after the previous one exists (an
  ordered insert starting at the end), and ``_id`` is unique, so two sequencers racing for
  the same number cannot both have it: the loser stops and leaves its events queued;
- **every event exactly once**: each event carries an ``event_id`` with a unique index, so
  an event sequenced by a sequencer that died before removing it from its source is
  recognised and removed, never given a second number;
- **nothing lost**: an event leaves its source only after it is in the log.

A hole can only come from a database written by an earlier version (whose writers took
numbers from a counter): :func:`next_run` still fills one older than
``AUDIT_GAP_GRACE_SECONDS`` with ``audit.sequence_lost``, so the log stays gap-free and every
gap explained.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from signing.merkle_store import MongoNodeStore

log = logging.getLogger(__name__)

EVENTS = "audit_events"
QUEUE = "audit_queue"

#: The filter of the partial indexes on fields that only some events have (``event_id``,
#: ``actor.user``, ``patient_hash``). mongod uses a partial index only for a query that implies
#: its filter, and it does not infer a ``$type`` from an equality (its expression_algo has no
#: rule for it): a query on one of these fields names the type too, or it scans the whole log.
STRING = {"$type": "string"}

#: How far back from its refused number a sequencer that lost a race looks for its events: the
#: winner stored them in one batch (``AUDIT_SEAL_BATCH``, 10,000 by default) and may have
#: removed them from their sources only after the loser read them. An event further back (or a
#: larger batch) is still found, by a read by id each: slower, never wrong.
RACE_WINDOW = 10_000

# The Merkle tree of the sealed events (gateway/audit/tree.py).
TREE_NODES = "audit_tree_nodes"
TREE_STATE = "audit_tree_state"
TREE_HEADS = "audit_tree_heads"
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


def new_event_id() -> str:
    """A unique event id, roughly in time order (a BSON ObjectId as 24 hex digits)."""
    return str(ObjectId())


def queue_event(database: Database[dict[str, Any]], event: Mapping[str, Any]) -> str:
    """Queue one prepared event (it carries its ``event_id``) for the sequencer; its id.

    Raises:
        pymongo.errors.PyMongoError: the event could not be stored.
    """
    database[QUEUE].insert_one({"_id": event["event_id"], "event": dict(event)})
    return str(event["event_id"])


class UnsequencedSource(Protocol):
    """Where events wait for their number: the queue, and the prescriptions' own outboxes."""

    def pending(self, limit: int) -> list[dict[str, Any]]:
        """Up to about ``limit`` waiting events (prepared documents with an ``event_id``)."""
        ...

    def acknowledge(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Forget these events (as :meth:`pending` gave them): they are in the log."""
        ...


QUEUE_ACKNOWLEDGE_CHUNK = 200  # queued events per removal (see QueueSource.acknowledge)


class QueueSource:
    """The ``audit_queue`` collection as a source of the sequencer."""

    def __init__(self, database: Database[dict[str, Any]]) -> None:
        self.queue = database[QUEUE]

    def pending(self, limit: int) -> list[dict[str, Any]]:
        return [doc["event"] for doc in self.queue.find({}).sort("_id", ASCENDING).limit(limit)]

    def acknowledge(self, events: Sequence[Mapping[str, Any]]) -> None:
        # In chunks: the embedded database matches each candidate against the whole $in list
        # (gateway/prescriptions/audit_outbox_store.py measures it).
        ids = [event["event_id"] for event in events]
        for start in range(0, len(ids), QUEUE_ACKNOWLEDGE_CHUNK):
            self.queue.delete_many({"_id": {"$in": ids[start:start + QUEUE_ACKNOWLEDGE_CHUNK]}})


def next_number(database: Database[dict[str, Any]]) -> int:
    """The number the next sequenced event gets (the log's size, holes included)."""
    last = database[EVENTS].find_one({}, {"_id": 1}, sort=[("_id", DESCENDING)])
    return int(last["_id"]) + 1 if last else 0


def allocated(database: Database[dict[str, Any]]) -> int:
    """How many sequence numbers are taken: the events numbered so far (events still waiting
    for the sequencer have none yet)."""
    return next_number(database)


def sequence(database: Database[dict[str, Any]], sources: Sequence[UnsequencedSource], *,
             limit: int = 10_000, start: int | None = None) -> list[dict[str, Any]]:
    """Give up to ``limit`` waiting events of ``sources`` the next sequence numbers (in time
    order) and remove them from their sources; the stored documents, in number order.
    ``start``: the log's size when the caller knows it (the sealer does), else it is read.

    Safe to run in several processes at once (see the module docstring): a sequencer that
    finds its first number taken returns what it stored, and the rest waits for the next run.

    Raises:
        pymongo.errors.PyMongoError: the database does not answer (nothing is lost: events
            leave their source only once stored).
    """
    owners: dict[str, list[UnsequencedSource]] = {}
    waiting: dict[str, dict[str, Any]] = {}
    for source in sources:
        for event in source.pending(limit):
            event_id = str(event["event_id"])
            owners.setdefault(event_id, []).append(source)
            waiting.setdefault(event_id, event)
    if not waiting:
        return []
    pending = sorted(waiting.values(), key=lambda e: (e["time"], str(e["event_id"])))[:limit]

    def acknowledge(events: Sequence[Mapping[str, Any]]) -> None:
        by_source: dict[int, tuple[UnsequencedSource, list[Mapping[str, Any]]]] = {}
        for event in events:
            for source in owners[str(event["event_id"])]:
                by_source.setdefault(id(source), (source, []))[1].append(event)
        for source, acknowledged in by_source.values():
            source.acknowledge(acknowledged)

    stored: list[dict[str, Any]] = []
    if start is None:
        start = next_number(database)
    while pending:
        docs = [{**event, "_id": start + offset} for offset, event in enumerate(pending)]
        try:
            database[EVENTS].insert_many(docs, ordered=True)
        except BulkWriteError as exc:
            done = int(exc.details.get("nInserted", 0))
        else:
            done = len(docs)
        stored += docs[:done]
        acknowledge(pending[:done])
        if done == len(docs):
            break
        # Refused: its number is taken, or the event itself is already in the log. Mostly both:
        # a sequencer that read the same events stored them first, close before or after the
        # numbers this one tried (within a batch of them), so one read of that end of the log by
        # number (the primary key, on any engine) finds every one of them.
        rest, first = pending[done:], start + done
        back = max(limit, len(rest), RACE_WINDOW)
        logged = {doc.get("event_id") for doc in database[EVENTS].find(
            {"_id": {"$gte": max(0, first - back)}}, {"event_id": 1, "_id": 0})}
        refused = str(rest[0]["event_id"])
        if refused not in logged:
            # Or it has an earlier number: a sequencer died before removing it from its source.
            if database[EVENTS].find_one({"event_id": {"$eq": refused, **STRING}},
                                         {"_id": 1}) is None:
                break  # the number is another sequencer's: it goes on from there
            logged.add(refused)
        acknowledge([event for event in rest if str(event["event_id"]) in logged])
        pending, start = [event for event in rest if str(event["event_id"]) not in logged], first
    return stored


INDEXES = {EVENTS: [
    # Each event once: an event the sequencer stored but could not yet remove from its
    # source is recognised by its id (partial: events of earlier versions have none).
    IndexModel([("event_id", ASCENDING)], name="event_id", unique=True,
               partialFilterExpression={"event_id": STRING}),
    IndexModel([("time", ASCENDING)], name="time"),
    IndexModel([("actor.party_id", ASCENDING), ("_id", ASCENDING)], name="actor"),
    IndexModel([("actor.user", ASCENDING), ("_id", ASCENDING)], name="actor_user",
               partialFilterExpression={"actor.user": STRING}),
    IndexModel([("action", ASCENDING), ("_id", ASCENDING)], name="action"),
    IndexModel([("object.type", ASCENDING), ("object.id", ASCENDING), ("_id", ASCENDING)],
               name="object"),
    IndexModel([("patient_hash", ASCENDING), ("_id", ASCENDING)], name="patient",
               partialFilterExpression={"patient_hash": STRING}),
]}


def event_filter(*, actor: str | None = None, user: str | None = None,
                 actions: Sequence[str] | None = None, prescription: str | None = None,
                 patient_hash: str | None = None, since: datetime | None = None,
                 until: datetime | None = None, after: int | None = None) -> dict[str, Any]:
    """The filter of the events by ``actor`` (party id), ``user`` (a person of the console),
    one of ``actions`` (a single one: an equality), about ``prescription``, about the person
    ``patient_hash``, recorded in ``[since, until)``, numbered after ``after``."""
    query: dict[str, Any] = {}
    if actor is not None:
        query["actor.party_id"] = actor
    if user is not None:
        query["actor.user"] = {"$eq": user, **STRING}  # STRING: so mongod uses its index
    if actions is not None:
        query["action"] = actions[0] if len(actions) == 1 else {"$in": list(actions)}
    if prescription is not None:
        query["object.type"] = "prescription"
        query["object.id"] = prescription
    if patient_hash is not None:
        query["patient_hash"] = {"$eq": patient_hash, **STRING}
    if since is not None or until is not None:
        span = {}
        if since is not None:
            span["$gte"] = since
        if until is not None:
            span["$lt"] = until
        query["time"] = span
    if after is not None:
        query["_id"] = {"$gt": after}
    return query


def committed_tree_size(database: Database[dict[str, Any]]) -> int:
    """How many events the Merkle tree holds (the sealer's committed size)."""
    state = database[TREE_STATE].find_one({"_id": "tree"})
    return int(state["size"]) if state else 0


def tree_nodes(database: Database[dict[str, Any]]) -> MongoNodeStore:
    """The stored nodes of the audit Merkle tree."""
    return MongoNodeStore(database[TREE_NODES])


def tree_head_document(database: Database[dict[str, Any]],
                       tree_size: int | None = None) -> dict[str, Any] | None:
    """The stored tree head of ``tree_size`` (None: the latest), or None."""
    if tree_size is None:
        return database[TREE_HEADS].find_one(sort=[("_id", DESCENDING)])
    return database[TREE_HEADS].find_one({"_id": tree_size})


def insert_tree_head(database: Database[dict[str, Any]], document: Mapping[str, Any]) -> bool:
    """Publish a tree head; False when one of its size exists already."""
    try:
        database[TREE_HEADS].insert_one(dict(document))
    except DuplicateKeyError:
        return False
    return True


def tree_head_documents_before(database: Database[dict[str, Any]], tree_size: int,
                               limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` stored tree heads of smaller sizes than ``tree_size``, latest first."""
    return list(database[TREE_HEADS].find({"_id": {"$lt": tree_size}})
                .sort("_id", DESCENDING).limit(limit))


def commit_tree_size(database: Database[dict[str, Any]], before: int, after: int) -> bool:
    """Compare-and-set of the sealer's committed tree size."""
    if before == 0:
        try:
            database[TREE_STATE].insert_one({"_id": "tree", "size": after})
            return True
        except DuplicateKeyError:
            pass
    result = database[TREE_STATE].update_one({"_id": "tree", "size": before},
                                             {"$set": {"size": after}})
    return result.modified_count == 1


def find_page(database: Database[dict[str, Any]], query: Mapping[str, Any], limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` stored events matching ``query``, in sequence order."""
    return list(database[EVENTS].find(dict(query)).sort("_id", 1).limit(limit))


def iterate(database: Database[dict[str, Any]], query: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every stored event matching ``query``, in sequence order (exports)."""
    yield from database[EVENTS].find(dict(query)).sort("_id", 1).batch_size(1000)


def fill_lost(database: Database[dict[str, Any]], first: int, end: int) -> None:
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


def next_run(database: Database[dict[str, Any]], start: int, limit: int, grace: timedelta) -> list[dict[str, Any]]:
    """The unsealed events from ``start`` in order, stopping at a hole that is still young;
    holes older than ``grace`` are filled with ``audit.sequence_lost`` first."""
    while True:
        docs = list(database[EVENTS].find({"_id": {"$gte": start}}).sort("_id", 1).limit(limit))
        run: list[dict[str, Any]] = []
        expected = start
        hole_before: dict[str, Any] | None = None
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
        return run
