"""The audit log's operations as the audit tests use them, inside an app context: thin calls
into the services of the current app (gateway.audit.log, .store, .tree)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from pymongo.collection import Collection
from pymongo.database import Database

from gateway.audit.log import event_leaf
from gateway.audit.store import (
    EVENTS,
    QUEUE,
    TREE_HEADS,
    TREE_NODES,
    TREE_STATE,
    QueueSource,
    event_from_document,
    fill_lost,
)
from gateway.audit.tree import (
    PeriodicSealer,
    TreeHead,
    latest_tree_head,
    sealed_size,
    sequence_all,
)
from gateway.audit.tree import seal as seal_tree
from gateway.prescriptions.audit_outbox_store import PrescriptionAuditOutbox
from gateway.web.context import services

__all__ = ["EVENTS", "QUEUE", "TREE_HEADS", "TREE_NODES", "TREE_STATE", "TreeHead",
           "event_from_document", "event_leaf", "fill_lost", "latest_tree_head", "seal",
           "sealed_size"]


def sources(database: Database) -> tuple[QueueSource, PrescriptionAuditOutbox]:
    """Where events wait for their numbers, as the gateway wires them."""
    return QueueSource(database), PrescriptionAuditOutbox(database)


def seal(database: Database, signer: Any, **kwargs: Any) -> TreeHead:
    """:func:`gateway.audit.tree.seal` with the gateway's sources of waiting events."""
    return seal_tree(database, signer, sources=sources(database), **kwargs)


def audit_log(database: Database) -> Collection:
    """The ``audit_events`` collection once every waiting event has its number (what a
    regulator's read of the log shows)."""
    sequence_all(database, sources(database))
    return database[EVENTS]


def get_db() -> Database:
    return services().storage.database


def record(action: str, **kwargs: Any) -> str:
    return services().audit.record(action, **kwargs)


def patient_hash(patient_id: str) -> str:
    return services().audit.patient_hash(patient_id)


def seal_now() -> TreeHead:
    return services().sealer.seal()


def gateway_signer() -> Any:
    return services().signatures.signer()


def periodic_sealer(app: Flask, *, interval: float) -> PeriodicSealer:
    return PeriodicSealer(services(app).sealer, interval=interval)
