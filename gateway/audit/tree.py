"""The Merkle log that seals the audit events, and its signed tree heads.

:func:`seal` first sequences the events still waiting in their sources
(:func:`gateway.audit.store.sequence`), then appends unsealed events in sequence order to an
RFC 9162 Merkle tree (:mod:`signing.merkle`, nodes in ``audit_tree_nodes``), leaf ``i`` being
the RFC 8785 form of the event with ``seq`` ``i`` exactly as the API and exports show it,
then publishes a tree head (size, root, time) signed with the gateway key, which the caller
passes in. Tree nodes are deterministic, so two racing sealers write identical nodes; the
committed size moves only by a compare-and-set on ``audit_tree_state``. This module is the
only code touching the three tree collections.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pymongo.database import Database

from gateway.audit.log import event_leaf
from gateway.audit.store import (
    UnsequencedSource,
    commit_tree_size,
    committed_tree_size,
    event_from_document,
    format_time,
    insert_tree_head,
    next_run,
    now_millis,
    sequence,
    tree_head_document,
    tree_head_documents_before,
    tree_nodes,
    utc,
)
from gateway.core.settings import Settings
from signing.canonical import canonicalize
from signing.merkle import EMPTY_ROOT, MerkleTree

log = logging.getLogger(__name__)



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
                   timestamp=utc(doc["timestamp"]), signature=doc["signature"])


def sealed_size(database: Database[dict[str, Any]]) -> int:
    """How many events the Merkle tree holds (the sealer's committed size)."""
    return committed_tree_size(database)


def tree(database: Database[dict[str, Any]], size: int | None = None) -> MerkleTree:
    """The audit Merkle tree in ``database`` (at its committed size unless ``size``)."""
    return MerkleTree(tree_nodes(database), size=sealed_size(database) if size is None else size)


def latest_tree_head(database: Database[dict[str, Any]]) -> TreeHead | None:
    doc = tree_head_document(database)
    return TreeHead.from_document(doc) if doc else None


def tree_heads_before(database: Database[dict[str, Any]], tree_size: int,
                      limit: int) -> list[TreeHead]:
    """Up to ``limit`` tree heads published at smaller sizes than ``tree_size``, latest first."""
    return [TreeHead.from_document(doc)
            for doc in tree_head_documents_before(database, tree_size, limit)]


def tree_head_at(database: Database[dict[str, Any]], tree_size: int) -> TreeHead | None:
    doc = tree_head_document(database, tree_size)
    return TreeHead.from_document(doc) if doc else None


def sequence_all(database: Database[dict[str, Any]], sources: Sequence[UnsequencedSource], *,
                 batch_size: int = 10_000) -> int:
    """Sequence every event waiting in ``sources``, ``batch_size`` a round trip; how many.

    Raises:
        pymongo.errors.PyMongoError: the database does not answer.
    """
    total = 0
    while True:
        stored = sequence(database, sources, limit=batch_size)
        total += len(stored)
        if len(stored) < batch_size:
            return total


def seal(database: Database[dict[str, Any]], signer: TreeHeadSigner, *, batch_size: int = 10_000,
         gap_grace_seconds: float = 60.0,
         sources: Sequence[UnsequencedSource] = ()) -> TreeHead:
    """Sequence the events waiting in ``sources``, append every unsealed event to the Merkle
    tree and publish a signed tree head; return the latest tree head (a new one only when the
    tree grew; the first seal of an empty log signs the empty tree). Safe to run from several
    processes at once.

    Raises:
        signing.merkle.MissingNode: the node store was damaged.
        pymongo.errors.PyMongoError: the database does not answer.
    """
    grace = timedelta(seconds=gap_grace_seconds)
    merkle = tree(database)
    while True:
        run = next_run(database, merkle.size, batch_size, grace)
        if len(run) < batch_size and sources:
            # At the end of what is numbered: number what waits right after it (the size is
            # known, so no read of the end), and seal it in the same round.
            run += sequence(database, sources, limit=batch_size - len(run),
                            start=merkle.size + len(run))
        if not run:
            break
        before = merkle.size
        merkle.append(event_leaf(event_from_document(doc)) for doc in run)
        if not commit_tree_size(database, before, merkle.size):
            merkle = tree(database)  # another sealer got there first: go on from its size
        elif len(run) < batch_size:
            break  # everything numbered is sealed, and nothing more was waiting
    latest = latest_tree_head(database)
    if latest is not None and latest.tree_size >= merkle.size:
        return latest
    timestamp = now_millis()
    root = merkle.root() if merkle.size else EMPTY_ROOT
    head = TreeHead(tree_size=merkle.size, root_hash=root, timestamp=timestamp,
                    signature=signer.sign_detached(
                        TreeHead.signed_fields(merkle.size, root, timestamp)))
    if not insert_tree_head(database, {"_id": head.tree_size, "root_hash": head.root_hash,
                                       "timestamp": head.timestamp,
                                       "signature": head.signature}):
        return tree_head_at(database, head.tree_size) or head
    return head


@dataclass(frozen=True)
class SealPolicy:
    """How sealing runs: events per database round trip, and how long a hole may stay."""

    batch_size: int  # the settings' defaults (from_settings), not repeated here
    gap_grace_seconds: float
    interval_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> SealPolicy:
        return cls(batch_size=settings.audit_seal_batch,
                   gap_grace_seconds=settings.audit_gap_grace_seconds,
                   interval_seconds=settings.audit_seal_interval_seconds)


class Sealer:
    """Sequences and seals one database's audit log, with the signer ``signer()`` returns at
    each seal; ``sources`` are where events wait for their numbers (the queue, the
    prescriptions' outboxes: the composition root lists them)."""

    def __init__(self, database: Database[dict[str, Any]], *, signer: Callable[[], TreeHeadSigner],
                 policy: SealPolicy, sources: Sequence[UnsequencedSource] = ()) -> None:
        self.database = database
        self.signer = signer
        self.policy = policy
        self.sources = tuple(sources)

    def sequence(self) -> int:
        """Number every waiting event now (the log's readers call this first, so that they
        see every event recorded before their request); how many were numbered.

        Raises:
            pymongo.errors.PyMongoError: the database does not answer.
        """
        return sequence_all(self.database, self.sources, batch_size=self.policy.batch_size)

    def seal(self) -> TreeHead:
        """:func:`seal` with this sealer's database, key, policy and sources."""
        return seal(self.database, self.signer(), batch_size=self.policy.batch_size,
                    gap_grace_seconds=self.policy.gap_grace_seconds, sources=self.sources)


class PeriodicSealer:
    """Seals the log at once and then every ``AUDIT_SEAL_INTERVAL_SECONDS`` in a daemon thread
    until :meth:`stop` (the forwarder process runs one). Any number may run: sealing is safe
    concurrently."""

    def __init__(self, sealer: Sealer, *, interval: float | None = None) -> None:
        self.sealer = sealer
        self.interval = interval if interval is not None else sealer.policy.interval_seconds
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
                head = self.sealer.seal()
                log.debug("audit sealed", extra={"tree_size": head.tree_size})
            except Exception:
                log.exception("sealing the audit log failed")
            self.stopping.wait(self.interval)
