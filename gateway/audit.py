"""The regulators' audit trail: events, the Merkle log that seals them, queries and proofs.

Recording
    Code calls :func:`record` once per security-relevant action. An event gets the next
    sequence number from a counter document (``$inc``, atomic across processes), then is
    inserted with that number as its ``_id``. Events are never updated.

    If a process dies between taking a number and inserting its event, the number would be a
    hole. The sealer waits ``AUDIT_GAP_GRACE_SECONDS`` and then fills the hole with an
    ``audit.sequence_lost`` event, so the sequence stays gap-free and every gap is explained.
    Should the slow writer come back after that, its insert hits the unique ``_id``, and it
    takes a fresh number: the event is recorded later, never lost or overwritten.

    Recording fails closed: if the event cannot be stored, the action's request fails.

    No plain patient identifier is stored: ``patient_hash`` is HMAC-SHA256 under
    ``AUDIT_PATIENT_KEY``, so regulators can still search by a CCCD (hashed server-side).

Sealing
    :func:`seal` appends unsealed events in sequence order to an RFC 9162 Merkle tree
    (:mod:`signing.merkle`, nodes in ``audit_tree_nodes``), leaf ``i`` being the RFC 8785
    form of the event with ``seq`` ``i`` exactly as the API and exports show it, then
    publishes a tree head (size, root, time) signed with the gateway key. Tree nodes are
    deterministic, so two racing sealers write identical nodes; the committed size moves
    only by a compare-and-set on ``audit_tree_state``.

Access: events, exports, reports and patients' access logs are the regulator's; tree heads
and proofs (hashes only, nothing personal) are open to every authenticated party so that
anyone may monitor that the log only grows.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from flask import Flask, Response, current_app, g, has_request_context, request
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from gateway.auth import requires
from gateway.config import secret_setting
from gateway.db import get_db, indexes
from gateway.errors import ApiError
from signing.canonical import canonicalize
from signing.merkle import EMPTY_ROOT, MerkleTree, MongoNodeStore

log = logging.getLogger(__name__)

EVENTS = "audit_events"
COUNTERS = "audit_counters"
TREE_NODES = "audit_tree_nodes"
TREE_STATE = "audit_tree_state"
TREE_HEADS = "audit_tree_heads"

# Every action the log knows, with what it means. record() refuses any other name.
ACTIONS: dict[str, str] = {
    "auth.login": "a party obtained a token (outcome failure: wrong or unknown credentials)",
    "party.created": "a party was created (command line)",
    "party.disabled": "a party was disabled",
    "party.enabled": "a party was enabled again",
    "party.secret_rotated": "a party was given a new secret",
    "key.generated": "the gateway's first signing key was generated",
    "key.rotated": "the gateway's signing key was rotated",
    "catalog.imported": "a drug catalog file was imported (counts in details)",
    "prescription.submitted": "a prescription was accepted, signed and stored",
    "prescription.refused": "a submitted prescription was refused (error codes in details)",
    "prescription.viewed": "a party read a prescription",
    "prescription.dispensed": "a pharmacy recorded a dispense against a prescription",
    "prescription.cancelled": "the issuing facility cancelled a prescription",
    "delivery.delivered": "a prescription was delivered to the national registry or a pharmacy",
    "delivery.failed": "a delivery failed for good",
    "patient.access_log_viewed": "a regulator read a patient's access log",
    "audit.sequence_lost": "the writer of this sequence number died before storing its event",
}
OBJECT_TYPES = ("prescription", "drug", "party", "key", "catalog")
OUTCOMES = ("success", "failure")
# The actions a patient's access log lists: reading or dispensing their prescriptions.
ACCESS_ACTIONS = ("prescription.viewed", "prescription.dispensed")
SYSTEM_ROLE = "system"
_HEX64 = frozenset("0123456789abcdef")


class AuditError(RuntimeError):
    """The audit log cannot do what was asked (the message says why)."""


# --- events -------------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None \
        else value.astimezone(timezone.utc)


def _now() -> datetime:
    """Now, truncated to the millisecond BSON keeps, so a stored time hashes as it was."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def format_time(value: datetime) -> str:
    """An event time as the log shows and hashes it: UTC, milliseconds (BSON's precision)."""
    return _utc(value).isoformat(timespec="milliseconds")


def event_from_document(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The public form of a stored event: what the API answers, exports carry, and the Merkle
    leaf commits to (its RFC 8785 bytes). Every key is always present."""
    return {
        "seq": doc["_id"],
        "time": format_time(doc["time"]),
        "actor": {"party_id": doc["actor"].get("party_id"), "role": doc["actor"].get("role")},
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


def event_leaf(event: Mapping[str, Any]) -> bytes:
    """The Merkle leaf entry of a public event: its RFC 8785 form."""
    return canonicalize(dict(event))


def patient_hash(patient_id: str, key: bytes | None = None) -> str:
    """HMAC-SHA256 (hex) of a patient identifier under ``AUDIT_PATIENT_KEY``; spaces around
    the identifier do not matter."""
    key = key if key is not None else _service().patient_key
    return hmac.new(key, patient_id.strip().encode("utf-8"), hashlib.sha256).hexdigest()


def content_digest(content: Any) -> str:
    """SHA-256 (hex) of the RFC 8785 form of a JSON value, or of ``bytes`` as they are."""
    if isinstance(content, (bytes, bytearray)):
        return hashlib.sha256(bytes(content)).hexdigest()
    return hashlib.sha256(canonicalize(content)).hexdigest()


def _actor(actor: Any) -> dict[str, Any]:
    if actor is not None:
        if isinstance(actor, str):
            return {"party_id": actor, "role": SYSTEM_ROLE}
        return {"party_id": actor.client_id, "role": actor.role}  # a gateway.parties.Party
    if has_request_context():
        party = g.get("party")
        if party is not None:
            return {"party_id": party.client_id, "role": party.role}
        return {"party_id": None, "role": "anonymous"}
    return {"party_id": "cli", "role": SYSTEM_ROLE}


def record(action: str, *, outcome: str = "success", object_type: str | None = None,
           object_id: str | None = None, content_sha256: str | None = None,
           patient_id: str | None = None, details: Mapping[str, Any] | None = None,
           actor: Any = None, database: Database | None = None) -> int:
    """Record one audit event and return its sequence number.

    Call it inside an app context (without one, pass ``database`` and no ``patient_id``,
    whose keyed hash needs the app's key). Inside a request the actor (``g.party``, or
    "anonymous" before authentication), request id and client address come from the
    request; outside one the actor is ``"cli"`` (role ``system``) unless ``actor`` (a Party,
    or a process name such as ``"forwarder"``) is given. ``patient_id`` (a CCCD or health
    id) is stored only as its keyed hash. ``details``: a small JSON object (error codes,
    counts) — never a document or a personal identifier. ``database``: where to write
    without an app context (the forwarder's threads); default: the app's database.

    Raises:
        ValueError: unknown action, object type or outcome, a malformed ``content_sha256``,
            an object id without a type, or ``details`` with no RFC 8785 form.
        pymongo.errors.PyMongoError: the event could not be stored (fail closed).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    if (object_type is None) != (object_id is None):
        raise ValueError("object_type and object_id go together")
    if object_type is not None and object_type not in OBJECT_TYPES:
        raise ValueError(f"object_type must be one of {OBJECT_TYPES}")
    if content_sha256 is not None and (len(content_sha256) != 64
                                       or not set(content_sha256) <= _HEX64):
        raise ValueError("content_sha256 is 64 lowercase hex digits")
    if details is not None:
        details = dict(details)
        canonicalize(details)  # refuse now what could not be hashed at sealing time
    document: dict[str, Any] = {
        "time": _now(),
        "actor": _actor(actor),
        "action": action,
        "object": {"type": object_type, "id": str(object_id)} if object_type else None,
        "outcome": outcome,
        "request_id": g.get("request_id") if has_request_context() else None,
        "client_address": (request.remote_addr or None) if has_request_context() else None,
        "content_sha256": content_sha256,
        "patient_hash": patient_hash(patient_id) if patient_id else None,
        "details": details,
    }
    database = database if database is not None else get_db()
    for _ in range(5):
        seq = _allocate(database)
        try:
            database[EVENTS].insert_one({"_id": seq, **document})
        except DuplicateKeyError:
            # The sealer declared this number lost while we were slow: take another.
            log.warning("audit sequence %s was declared lost; recording under a new number", seq)
            continue
        return seq
    raise AuditError("could not obtain a free audit sequence number")


def record_login(method: str, *, party: Any = None, claimed_id: str = "") -> int:
    """``auth.login``: a success by ``party`` (the authenticated Party), or a failure for the
    client id (or national code) that was claimed, which is recorded as given (cut to 128
    characters), never the secret."""
    if party is not None:
        return record("auth.login", object_type="party", object_id=party.client_id,
                      details={"method": method}, actor=party)
    return record("auth.login", outcome="failure", object_type="party",
                  object_id=str(claimed_id)[:128], details={"method": method})


def _allocate(database: Database) -> int:
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
            {"$inc": {"next": 1}, "$set": {"allocated_at": datetime.now(timezone.utc)}},
            return_document=ReturnDocument.AFTER)
        if doc is not None:
            return int(doc["next"]) - 1
        try:
            counters.update_one({"_id": "events"}, {"$setOnInsert": {"next": 0}}, upsert=True)
        except DuplicateKeyError:
            pass  # another writer created it
    raise AuditError("could not allocate an audit sequence number")


@indexes
def _audit_indexes() -> dict[str, list[IndexModel]]:
    return {EVENTS: [
        IndexModel([("time", ASCENDING)], name="time"),
        IndexModel([("actor.party_id", ASCENDING), ("_id", ASCENDING)], name="actor"),
        IndexModel([("action", ASCENDING), ("_id", ASCENDING)], name="action"),
        IndexModel([("object.type", ASCENDING), ("object.id", ASCENDING), ("_id", ASCENDING)],
                   name="object"),
        IndexModel([("patient_hash", ASCENDING), ("_id", ASCENDING)], name="patient",
                   partialFilterExpression={"patient_hash": {"$type": "string"}}),
    ]}


# --- sealing ------------------------------------------------------------------------------------


class TreeHeadSigner(Protocol):
    """What sealing needs of a signer (``signing.jws.Signer`` is one)."""

    def sign_detached(self, payload: bytes) -> str: ...


@dataclass(frozen=True)
class TreeHead:
    """A signed tree head: the log's commitment to its first ``tree_size`` events."""

    tree_size: int
    root_hash: bytes
    timestamp: datetime
    signature: str  # detached compact JWS over payload()

    @staticmethod
    def signed_fields(tree_size: int, root_hash: bytes, timestamp: datetime) -> bytes:
        return canonicalize({"tree_size": tree_size, "root_hash": root_hash.hex(),
                             "timestamp": format_time(timestamp)})

    def payload(self) -> bytes:
        """The bytes the signature covers: RFC 8785 of ``{tree_size, root_hash, timestamp}``."""
        return self.signed_fields(self.tree_size, self.root_hash, self.timestamp)

    def to_json(self) -> dict[str, Any]:
        return {"tree_size": self.tree_size, "root_hash": self.root_hash.hex(),
                "timestamp": format_time(self.timestamp), "signature": self.signature}

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> TreeHead:
        """Raises ValueError (or KeyError) for a body that is not a tree head."""
        return cls(tree_size=int(body["tree_size"]), root_hash=bytes.fromhex(body["root_hash"]),
                   timestamp=datetime.fromisoformat(body["timestamp"]),
                   signature=str(body["signature"]))

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> TreeHead:
        return cls(tree_size=doc["_id"], root_hash=bytes(doc["root_hash"]),
                   timestamp=_utc(doc["timestamp"]), signature=doc["signature"])


def sealed_size(database: Database) -> int:
    """How many events the Merkle tree holds (the sealer's committed size)."""
    state = database[TREE_STATE].find_one({"_id": "tree"})
    return int(state["size"]) if state else 0


def tree(database: Database, size: int | None = None) -> MerkleTree:
    """The audit Merkle tree in ``database`` (at its committed size unless ``size``)."""
    return MerkleTree(MongoNodeStore(database[TREE_NODES]),
                      size=sealed_size(database) if size is None else size)


def latest_tree_head(database: Database) -> TreeHead | None:
    doc = database[TREE_HEADS].find_one(sort=[("_id", DESCENDING)])
    return TreeHead.from_document(doc) if doc else None


def tree_head_at(database: Database, tree_size: int) -> TreeHead | None:
    doc = database[TREE_HEADS].find_one({"_id": tree_size})
    return TreeHead.from_document(doc) if doc else None


def _fill_lost(database: Database, first: int, end: int) -> None:
    """Record ``audit.sequence_lost`` for every missing number in ``[first, end)``."""
    now = _now()
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


def _next_run(database: Database, start: int, limit: int, grace: timedelta) -> list[dict]:
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
        now = datetime.now(timezone.utc)
        if hole_before is not None:
            if run or now - _utc(hole_before["time"]) < grace:
                return run
            _fill_lost(database, expected, hole_before["_id"])
            continue
        if len(run) < limit:  # at the end: a hole may hide behind the counter
            counter = database[COUNTERS].find_one({"_id": "events"})
            taken = int(counter["next"]) if counter else 0
            if not run and taken > expected \
                    and now - _utc(counter["allocated_at"]) >= grace:
                _fill_lost(database, expected, taken)
                continue
        return run


def _commit_size(database: Database, before: int, after: int) -> bool:
    """Compare-and-set of the committed tree size."""
    if before == 0:
        try:
            database[TREE_STATE].insert_one({"_id": "tree", "size": after})
            return True
        except DuplicateKeyError:
            pass
    result = database[TREE_STATE].update_one({"_id": "tree", "size": before},
                                             {"$set": {"size": after}})
    return result.modified_count == 1


def seal(database: Database, signer: TreeHeadSigner, *, batch_size: int = 10_000,
         gap_grace_seconds: float = 60.0) -> TreeHead:
    """Append every unsealed event to the Merkle tree and publish a signed tree head; return
    the latest tree head (a new one only when the tree grew; the first seal of an empty log
    signs the empty tree). Safe to run from several processes at once.

    Raises:
        signing.merkle.MissingNode: the node store was damaged.
        pymongo.errors.PyMongoError: the database does not answer.
    """
    grace = timedelta(seconds=gap_grace_seconds)
    merkle = tree(database)
    while True:
        run = _next_run(database, merkle.size, batch_size, grace)
        if not run:
            break
        before = merkle.size
        merkle.append(event_leaf(event_from_document(doc)) for doc in run)
        if not _commit_size(database, before, merkle.size):
            merkle = tree(database)  # another sealer got there first: go on from its size
    latest = latest_tree_head(database)
    if latest is not None and latest.tree_size >= merkle.size:
        return latest
    timestamp = _now()
    root = merkle.root() if merkle.size else EMPTY_ROOT
    head = TreeHead(tree_size=merkle.size, root_hash=root, timestamp=timestamp,
                    signature=signer.sign_detached(
                        TreeHead.signed_fields(merkle.size, root, timestamp)))
    try:
        database[TREE_HEADS].insert_one({"_id": head.tree_size, "root_hash": head.root_hash,
                                         "timestamp": head.timestamp,
                                         "signature": head.signature})
    except DuplicateKeyError:
        return tree_head_at(database, head.tree_size) or head
    return head


def gateway_signer() -> TreeHeadSigner:
    """The gateway's signing key (the one place sealing reaches for it)."""
    from gateway.signatures import signer

    return signer()


def seal_now() -> TreeHead:
    """:func:`seal` with this app's database, key and settings (CLI, forwarder)."""
    config = current_app.config
    return seal(get_db(), gateway_signer(), batch_size=config["AUDIT_SEAL_BATCH"],
                gap_grace_seconds=config["AUDIT_GAP_GRACE_SECONDS"])


class PeriodicSealer:
    """Seals the log at once and then every ``AUDIT_SEAL_INTERVAL_SECONDS`` in a daemon thread
    until :meth:`stop` (the forwarder process runs one). Any number may run: sealing is safe
    concurrently."""

    def __init__(self, app: Flask, *, interval: float | None = None) -> None:
        self.app = app
        self.interval = interval if interval is not None \
            else app.config["AUDIT_SEAL_INTERVAL_SECONDS"]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                with self.app.app_context():
                    head = seal_now()
                log.debug("audit sealed", extra={"tree_size": head.tree_size})
            except Exception:  # noqa: BLE001 - keep sealing; the next round retries
                log.exception("sealing the audit log failed")
            self.stopping.wait(self.interval)


# --- the service and its settings ---------------------------------------------------------------


@dataclass(frozen=True)
class AuditService:
    patient_key: bytes


def _service() -> AuditService:
    return current_app.extensions["erx.audit"]


def init_app(app: Flask) -> None:
    app.extensions["erx.audit"] = AuditService(patient_key=secret_setting(
        app.config, "AUDIT_PATIENT_KEY", keep_as="audit-patient-key",
        production_hint="keep it: changing it makes old events unsearchable by patient"))


# --- HTTP -------------------------------------------------------------------------------------

blp = Blueprint("audit", __name__, description="Regulators' audit trail, proofs and reports")

NDJSON = "application/x-ndjson"
CSV_COLUMNS = ("seq", "time", "actor_party_id", "actor_role", "action", "object_type",
               "object_id", "outcome", "request_id", "client_address", "content_sha256",
               "patient_hash", "details")


def _parameter_error(name: str, message: str) -> ApiError:
    return ApiError(422, errors=[{"pointer": f"/{name}", "code": "request.invalid",
                                  "message": message, "parameter": name}])


class EventQuerySchema(Schema):
    actor = fields.String(validate=validate.Length(min=1, max=128),
                          metadata={"description": "the acting party's client id"})
    action = fields.String(validate=validate.Length(min=1, max=64), metadata={
        "description": "an action name, or a family such as `prescription.*`"})
    prescription = fields.String(validate=validate.Length(min=1, max=64),
                                 metadata={"description": "a ma_don_thuoc"})
    patient = fields.String(validate=validate.Regexp(r"^\s*[0-9A-Za-z]{1,32}\s*$"), metadata={
        "description": "a CCCD or health id; hashed on the server before matching"})
    from_ = fields.AwareDateTime(data_key="from", metadata={"description": "inclusive"})
    to = fields.AwareDateTime(metadata={"description": "exclusive"})
    cursor = fields.String(validate=validate.Regexp(r"^[0-9]{1,18}$"),
                           metadata={"description": "next_cursor of the previous page"})
    limit = fields.Integer(validate=validate.Range(min=1),
                           metadata={"description": "page size (default and maximum are "
                                                    "settings); exports ignore it"})

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        if "from_" in data and "to" in data and data["from_"] >= data["to"]:
            raise ValidationError("must be after from", field_name="to")
        action = data.get("action")
        if action is not None and action not in ACTIONS and not (
                action.endswith(".*") and any(name.startswith(action[:-1]) for name in ACTIONS)):
            raise ValidationError("unknown action", field_name="action")


class ActorSchema(Schema):
    party_id = fields.String(allow_none=True)
    role = fields.String(allow_none=True)


class ObjectSchema(Schema):
    type = fields.String()
    id = fields.String()


class EventSchema(Schema):
    seq = fields.Integer(metadata={"description": "sequence number = Merkle leaf index"})
    time = fields.String()
    actor = fields.Nested(ActorSchema)
    action = fields.String()
    object = fields.Nested(ObjectSchema, allow_none=True)
    outcome = fields.String()
    request_id = fields.String(allow_none=True)
    client_address = fields.String(allow_none=True)
    content_sha256 = fields.String(allow_none=True)
    patient_hash = fields.String(allow_none=True)
    details = fields.Dict(allow_none=True)


class EventPageSchema(Schema):
    items = fields.List(fields.Nested(EventSchema))
    next_cursor = fields.String(allow_none=True)


def _event_filter(args: Mapping[str, Any]) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if "actor" in args:
        query["actor.party_id"] = args["actor"]
    if "action" in args:
        action = args["action"]
        if action.endswith(".*"):
            query["action"] = {"$in": [name for name in ACTIONS if name.startswith(action[:-1])]}
        else:
            query["action"] = action
    if "prescription" in args:
        query["object.type"] = "prescription"
        query["object.id"] = args["prescription"]
    if "patient" in args:
        query["patient_hash"] = patient_hash(args["patient"])
    if "from_" in args or "to" in args:
        span = {}
        if "from_" in args:
            span["$gte"] = _utc(args["from_"])
        if "to" in args:
            span["$lt"] = _utc(args["to"])
        query["time"] = span
    if "cursor" in args:
        query["_id"] = {"$gt": int(args["cursor"])}
    return query


EXPORT_RESPONSES = {
    "200": {"description": "a page of events; with `Accept: text/csv` or "
                           "`application/x-ndjson`, every matching event",
            "content": {
                "application/json": {"schema": EventPageSchema},
                "text/csv": {"schema": {"type": "string",
                                        "description": "one row per event, header first"}},
                NDJSON: {"schema": {"type": "string",
                                    "description": "one event per line (what `erx-gateway "
                                                   "audit verify` reads)"}}}},
    "406": {"description": "Accept names none of the three media types"},
}
NOT_SEALED = {"404": {"description": "the log has not been sealed yet (or no tree head was "
                                     "published at that size)"}}


def _csv_row(event: Mapping[str, Any]) -> list[Any]:
    obj = event["object"] or {}
    return [event["seq"], event["time"], event["actor"]["party_id"] or "",
            event["actor"]["role"] or "", event["action"], obj.get("type", ""),
            obj.get("id", ""), event["outcome"], event["request_id"] or "",
            event["client_address"] or "", event["content_sha256"] or "",
            event["patient_hash"] or "",
            json.dumps(event["details"], ensure_ascii=False, sort_keys=True)
            if event["details"] is not None else ""]


def _export(query: dict[str, Any], mimetype: str) -> Response:
    database = get_db()

    def lines() -> Iterator[str]:
        cursor = database[EVENTS].find(query).sort("_id", 1).batch_size(1000)
        if mimetype == NDJSON:
            for doc in cursor:
                yield json.dumps(event_from_document(doc), ensure_ascii=False,
                                 separators=(",", ":")) + "\n"
            return
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for doc in cursor:
            writer.writerow(_csv_row(event_from_document(doc)))
            if buffer.tell() > 65_536:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(lines(), mimetype=mimetype)
    if mimetype == "text/csv":
        response.headers["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
    return response


@blp.route("/v2/audit/events", methods=["GET"])
@requires("regulator")
@blp.arguments(EventQuerySchema, location="query", as_kwargs=False, unknown=RAISE)
@blp.response(200, EventPageSchema)
@blp.doc(responses=EXPORT_RESPONSES)
def list_events(args: dict[str, Any]) -> Any:
    """Audit events, oldest first: filter, page, or export as CSV / NDJSON."""
    wanted = (request.accept_mimetypes.best_match(["application/json", "text/csv", NDJSON])
              if request.accept_mimetypes else "application/json")
    if wanted is None:
        raise ApiError(406, detail="this answers application/json, text/csv or "
                                   "application/x-ndjson")
    query = _event_filter(args)
    if wanted != "application/json":
        return _export(query, wanted)
    config = current_app.config
    limit = min(args.get("limit", config["AUDIT_PAGE_SIZE"]), config["AUDIT_PAGE_MAX"])
    docs = list(get_db()[EVENTS].find(query).sort("_id", 1).limit(limit + 1))
    items = [event_from_document(doc) for doc in docs[:limit]]
    more = len(docs) > limit
    return {"items": items, "next_cursor": str(items[-1]["seq"]) if more else None}


class TreeHeadQuerySchema(Schema):
    tree_size = fields.Integer(validate=validate.Range(min=0), metadata={
        "description": "a tree head published earlier (default: the latest)"})


class TreeHeadSchema(Schema):
    tree_size = fields.Integer()
    root_hash = fields.String(metadata={"description": "hex SHA-256 (RFC 9162 MTH)"})
    timestamp = fields.String()
    signature = fields.String(metadata={"description": "detached compact JWS over the RFC "
                                        "8785 form of {tree_size, root_hash, timestamp}; "
                                        "keys at /.well-known/jwks.json"})


@blp.route("/v2/audit/tree-head", methods=["GET"])
@requires()
@blp.arguments(TreeHeadQuerySchema, location="query", as_kwargs=False, unknown=RAISE)
@blp.response(200, TreeHeadSchema)
@blp.doc(responses=NOT_SEALED)
def get_tree_head(args: dict[str, Any]) -> Any:
    """The latest signed tree head (or the one published at `tree_size`)."""
    database = get_db()
    head = (tree_head_at(database, args["tree_size"]) if "tree_size" in args
            else latest_tree_head(database))
    if head is None:
        raise ApiError(404, detail="no tree head has been published at that size"
                       if "tree_size" in args else "the log has not been sealed yet")
    return head.to_json()


class InclusionQuerySchema(Schema):
    index = fields.Integer(required=True, validate=validate.Range(min=0),
                           metadata={"description": "leaf index = the event's seq"})
    tree_size = fields.Integer(validate=validate.Range(min=1),
                               metadata={"description": "default: the latest tree head's"})


class InclusionProofSchema(Schema):
    index = fields.Integer()
    tree_size = fields.Integer()
    leaf_hash = fields.String()
    audit_path = fields.List(fields.String(), metadata={
        "description": "hex hashes, leaf's sibling first (RFC 9162 2.1.3)"})


class ConsistencyQuerySchema(Schema):
    first = fields.Integer(required=True, validate=validate.Range(min=1))
    second = fields.Integer(validate=validate.Range(min=1),
                            metadata={"description": "default: the latest tree head's"})


class ConsistencyProofSchema(Schema):
    first = fields.Integer()
    second = fields.Integer()
    consistency_path = fields.List(fields.String(), metadata={
        "description": "hex hashes (RFC 9162 2.1.4); empty when first == second"})


def _published_size() -> int:
    head = latest_tree_head(get_db())
    if head is None:
        raise ApiError(404, detail="the log has not been sealed yet")
    return head.tree_size


@blp.route("/v2/audit/proofs/inclusion", methods=["GET"])
@requires()
@blp.arguments(InclusionQuerySchema, location="query", as_kwargs=False, unknown=RAISE)
@blp.response(200, InclusionProofSchema)
@blp.doc(responses=NOT_SEALED)
def inclusion_proof(args: dict[str, Any]) -> Any:
    """Inclusion proof of one event in a published tree (RFC 9162 §2.1.3)."""
    published = _published_size()
    size = args.get("tree_size", published)
    if size > published:
        raise _parameter_error("tree_size", f"the latest tree head has {published} events")
    if args["index"] >= size:
        raise _parameter_error("index", f"must be below tree_size ({size})")
    merkle = tree(get_db(), published)
    path = merkle.inclusion_proof(args["index"], size)
    return {"index": args["index"], "tree_size": size,
            "leaf_hash": merkle.leaf_hash_at(args["index"]).hex(),
            "audit_path": [node.hex() for node in path]}


@blp.route("/v2/audit/proofs/consistency", methods=["GET"])
@requires()
@blp.arguments(ConsistencyQuerySchema, location="query", as_kwargs=False, unknown=RAISE)
@blp.response(200, ConsistencyProofSchema)
@blp.doc(responses=NOT_SEALED)
def consistency_proof(args: dict[str, Any]) -> Any:
    """Consistency proof between two published tree sizes (RFC 9162 §2.1.4)."""
    published = _published_size()
    second = args.get("second", published)
    if second > published:
        raise _parameter_error("second", f"the latest tree head has {published} events")
    if args["first"] > second:
        raise _parameter_error("first", f"must not exceed second ({second})")
    path = tree(get_db(), published).consistency_proof(args["first"], second)
    return {"first": args["first"], "second": second,
            "consistency_path": [node.hex() for node in path]}


class AccessLogQuerySchema(Schema):
    cursor = fields.String(validate=validate.Regexp(r"^[0-9]{1,18}$"))
    limit = fields.Integer(validate=validate.Range(min=1))


class AccessSchema(Schema):
    seq = fields.Integer()
    time = fields.String()
    party_id = fields.String(allow_none=True)
    party_name = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    action = fields.String()
    ma_don_thuoc = fields.String(allow_none=True)
    outcome = fields.String()


class AccessLogSchema(Schema):
    items = fields.List(fields.Nested(AccessSchema))
    next_cursor = fields.String(allow_none=True)


@blp.route("/v2/patients/<cccd>/access-log", methods=["GET"])
@requires("regulator")
@blp.arguments(AccessLogQuerySchema, location="query", as_kwargs=False, unknown=RAISE)
@blp.response(200, AccessLogSchema)
def access_log(args: dict[str, Any], cccd: str) -> Any:
    """Which parties read or dispensed a person's prescriptions, oldest first."""
    if not (len(cccd) == 12 and cccd.isascii() and cccd.isdigit()):
        raise _parameter_error("cccd", "a CCCD is 12 digits")
    hashed = patient_hash(cccd)
    query: dict[str, Any] = {"patient_hash": hashed, "action": {"$in": list(ACCESS_ACTIONS)}}
    if "cursor" in args:
        query["_id"] = {"$gt": int(args["cursor"])}
    config = current_app.config
    limit = min(args.get("limit", config["AUDIT_PAGE_SIZE"]), config["AUDIT_PAGE_MAX"])
    database = get_db()
    docs = list(database[EVENTS].find(query).sort("_id", 1).limit(limit + 1))
    page = docs[:limit]
    names = {doc["_id"]: doc.get("name") for doc in database["parties"].find(
        {"_id": {"$in": sorted({d["actor"].get("party_id") for d in page
                                if d["actor"].get("party_id")})}}, {"name": 1})}
    items = [{"seq": doc["_id"], "time": format_time(doc["time"]),
              "party_id": doc["actor"].get("party_id"),
              "party_name": names.get(doc["actor"].get("party_id")),
              "role": doc["actor"].get("role"), "action": doc["action"],
              "ma_don_thuoc": (doc.get("object") or {}).get("id"), "outcome": doc["outcome"]}
             for doc in page]
    record("patient.access_log_viewed", patient_id=cccd)
    return {"items": items,
            "next_cursor": str(page[-1]["_id"]) if len(docs) > limit else None}
