"""The audit log's operations as the audit tests use them, inside an app context: thin calls
into the services of the current app (gateway.audit.log, .store, .tree)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from pymongo.database import Database

from gateway.audit.log import event_leaf
from gateway.audit.store import COUNTERS, EVENTS, event_from_document, fill_lost
from gateway.audit.store import allocate as allocate_number
from gateway.audit.tree import (
    TREE_HEADS,
    TREE_NODES,
    TREE_STATE,
    PeriodicSealer,
    TreeHead,
    latest_tree_head,
    seal,
    sealed_size,
)
from gateway.core.context import services

__all__ = ["COUNTERS", "EVENTS", "TREE_HEADS", "TREE_NODES", "TREE_STATE", "TreeHead",
           "allocate_number", "event_from_document", "event_leaf", "fill_lost",
           "latest_tree_head", "seal", "sealed_size"]


def get_db() -> Database:
    return services().storage.database


def record(action: str, **kwargs: Any) -> int:
    return services().audit.record(action, **kwargs)


def patient_hash(patient_id: str) -> str:
    return services().audit.patient_hash(patient_id)


def seal_now() -> TreeHead:
    return services().sealer.seal()


def gateway_signer() -> Any:
    return services().signatures.signer()


def periodic_sealer(app: Flask, *, interval: float) -> PeriodicSealer:
    return PeriodicSealer(services(app).sealer, interval=interval)
