"""Delivery status anyone entitled can see, an administrator's retry, and delivery metrics.

- ``GET /v2/prescriptions/{ma_don_thuoc}/deliveries``: the issuing facility's clinic and
  doctors, regulators and admins; pharmacies get 403 (they see no delivery details).
- ``POST /v2/deliveries/{id}/retry``: admin; a ``dead`` or ``failed_permanent`` delivery goes
  back to ``pending``, due now, with a fresh attempt count and age window.
- ``/metrics`` gains, read from the database at scrape time (cached
  ``DELIVERY_METRICS_CACHE_SECONDS``, so every gunicorn worker answers alike):
  ``erx_deliveries{state,target}`` for the open and failed states (pending, in_flight,
  failed_permanent, dead; delivered ones are counted by the forwarder's
  ``erx_forward_attempts_total{result="delivered"}`` instead of scanning every document) and
  ``erx_delivery_oldest_pending_age_seconds{target}``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from flask import Flask, current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from prometheus_client.core import GaugeMetricFamily
from pymongo import ASCENDING, IndexModel
from pymongo.database import Database
from pymongo.errors import PyMongoError

from gateway import metrics
from gateway.auth import current_party, requires
from gateway.db import get_db, indexes
from gateway.errors import ApiError, error_item
from gateway.outbox import (DEAD, FAILED_PERMANENT, IN_FLIGHT, PENDING, REGISTRY,
                            RETRYABLE_BY_ADMIN, waiting_for)

log = logging.getLogger(__name__)

blp = Blueprint("deliveries", __name__, description="Where each prescription was forwarded, "
                                                     "and sending failed deliveries again")

COLLECTION = "prescriptions"
COUNTED_STATES = (PENDING, IN_FLIGHT, FAILED_PERMANENT, DEAD)
TARGET_KINDS = ("registry", "pharmacy")


@indexes
def _forwarding_indexes() -> dict[str, list[IndexModel]]:
    return {COLLECTION: [
        # The forwarder's query for due documents, earliest first (forward_open: see
        # gateway/outbox.py).
        IndexModel([("forward_open", ASCENDING), ("forward_due_at", ASCENDING)],
                   name="forward_due"),
        # POST /v2/deliveries/{id}/retry and the delivery metrics.
        IndexModel([("deliveries.id", ASCENDING)], name="delivery_id"),
        IndexModel([("deliveries.state", ASCENDING)], name="delivery_state"),
    ]}


class DeliverySchema(Schema):
    id = fields.String()
    seq = fields.Integer(metadata={"description": "order within the prescription"})
    target = fields.String(metadata={"example": "registry", "description":
                                     "registry, or pharmacy:<pharmacy code>"})
    event = fields.String(metadata={"example": "prescription.issued"})
    ref = fields.String(allow_none=True, metadata={"description": "dispense id"})
    state = fields.String(metadata={"description": "pending, in_flight, delivered, "
                                                   "failed_permanent or dead"})
    attempts = fields.Integer()
    created_at = fields.DateTime()
    next_attempt_at = fields.DateTime(allow_none=True)
    last_attempt_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    response = fields.Dict(allow_none=True, metadata={
        "description": "the receiver's last answer: {status, body} (the registry's error map "
                       "for a refusal)"})
    waiting_for = fields.String(allow_none=True, metadata={
        "description": "id of the earlier delivery to the same target this one waits for"})
    retried_at = fields.DateTime(allow_none=True)
    retried_by = fields.String(allow_none=True)


class DeliveriesSchema(Schema):
    ma_don_thuoc = fields.String()
    deliveries = fields.List(fields.Nested(DeliverySchema))


def _utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def public_delivery(deliveries: list[Mapping[str, Any]], index: int) -> dict[str, Any]:
    entry = deliveries[index]
    shown = {name: _utc(entry.get(name)) for name in DeliverySchema._declared_fields
             if name != "waiting_for"}
    if entry.get("state") != PENDING:
        shown["next_attempt_at"] = None
    shown["waiting_for"] = waiting_for(deliveries, index) if entry.get("state") == PENDING else None
    return shown


def _may_see(doc: Mapping[str, Any]) -> None:
    party = current_party()
    if party.role in ("regulator", "admin"):
        return
    if party.role in ("clinic", "doctor") and party.facility == doc.get("facility"):
        return
    raise ApiError(403, detail="only the issuing facility, regulators and admins see deliveries")


@blp.route("/v2/prescriptions/<string:code>/deliveries")
@blp.doc(responses={"403": {"description": "a pharmacy, or another facility"},
                    "404": {"description": "no such prescription"}})
@blp.response(200, DeliveriesSchema)
@requires("clinic", "doctor", "regulator", "admin")
def list_deliveries(code: str) -> Any:
    """Where this prescription, its cancellation and its dispenses were sent, and how it went."""
    doc = get_db()[COLLECTION].find_one({"_id": code}, {"facility": 1, "deliveries": 1})
    if doc is None:
        raise ApiError(404, detail=f"no prescription {code}")
    _may_see(doc)
    deliveries = doc.get("deliveries") or []
    order = sorted(range(len(deliveries)), key=lambda i: (deliveries[i].get("seq", i), i))
    return {"ma_don_thuoc": code,
            "deliveries": [public_delivery(deliveries, index) for index in order]}


def retry_delivery(database: Database, delivery_id: str, *, by: str,
                   now: datetime | None = None) -> dict[str, Any]:
    """Put a dead or failed_permanent delivery back to pending, due now.

    Raises:
        ApiError: 404 unknown delivery, 409 a delivery in another state.
    """
    now = now or datetime.now(timezone.utc)
    collection = database[COLLECTION]
    retryable = {"$in": list(RETRYABLE_BY_ADMIN)}
    changed = collection.update_one(
        {"deliveries": {"$elemMatch": {"id": delivery_id, "state": retryable}}},
        {"$set": {"deliveries.$[d].state": PENDING, "deliveries.$[d].next_attempt_at": now,
                  "deliveries.$[d].attempts": 0, "deliveries.$[d].first_attempt_at": None,
                  "deliveries.$[d].retried_at": now, "deliveries.$[d].retried_by": by,
                  "forward_due_at": now, "forward_open": True}},
        # The state condition is in the query (on the embedded database an array filter on a
        # field this update changes stops matching halfway through the $set).
        array_filters=[{"d.id": delivery_id}])
    doc = collection.find_one({"deliveries.id": delivery_id}, {"deliveries": 1})
    if doc is None:
        raise ApiError(404, detail=f"no delivery {delivery_id}")
    deliveries = doc.get("deliveries") or []
    index = next(i for i, entry in enumerate(deliveries) if entry["id"] == delivery_id)
    if changed.matched_count == 0:
        raise ApiError(409, detail=f"the delivery is {deliveries[index]['state']}; only "
                                   f"{' or '.join(RETRYABLE_BY_ADMIN)} deliveries are retried",
                       errors=[error_item("/state", "delivery.state",
                                          "Chỉ gửi lại được khi đã thất bại")])
    return public_delivery(deliveries, index)


@blp.route("/v2/deliveries/<string:delivery_id>/retry", methods=["POST"])
@blp.doc(responses={"404": {"description": "no such delivery"},
                    "409": {"description": "the delivery is neither dead nor failed_permanent"}})
@blp.response(200, DeliverySchema)
@requires("admin")
def retry(delivery_id: str) -> Any:
    """Send a dead or permanently failed delivery again (409 in any other state)."""
    return retry_delivery(get_db(), delivery_id, by=current_party().client_id)


class DeliveryMetrics:
    """``erx_deliveries`` and ``erx_delivery_oldest_pending_age_seconds``, read from MongoDB."""

    def __init__(self, database: Database, *, cache_seconds: float) -> None:
        self.database = database
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._cached: tuple[float, list[dict[str, Any]]] | None = None

    def _rows(self) -> list[dict[str, Any]]:
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self.cache_seconds:
                return self._cached[1]
            open_states = {"deliveries.state": {"$in": list(COUNTED_STATES)}}
            rows = list(self.database[COLLECTION].aggregate([
                {"$match": open_states}, {"$project": {"deliveries": 1}},
                {"$unwind": "$deliveries"}, {"$match": open_states},
                {"$group": {"_id": {"state": "$deliveries.state", "registry": {
                    "$eq": ["$deliveries.target", REGISTRY]}},
                    "count": {"$sum": 1}, "oldest": {"$min": "$deliveries.created_at"}}}]))
            self._cached = (time.monotonic(), rows)
            return rows

    def collect(self) -> Any:
        try:
            rows = self._rows()
        except PyMongoError as exc:
            log.warning("delivery metrics unavailable", extra={"error": type(exc).__name__})
            return
        counts = GaugeMetricFamily("erx_deliveries", "Deliveries by state and target "
                                   "(open and failed states)", labels=["state", "target"])
        ages = GaugeMetricFamily("erx_delivery_oldest_pending_age_seconds",
                                 "Age of the oldest pending or in-flight delivery",
                                 labels=["target"])
        table = {(state, kind): 0 for state in COUNTED_STATES for kind in TARGET_KINDS}
        oldest: dict[str, datetime] = {}
        for row in rows:
            kind = "registry" if row["_id"]["registry"] else "pharmacy"
            state = row["_id"]["state"]
            table[(state, kind)] = table.get((state, kind), 0) + row["count"]
            if state in (PENDING, IN_FLIGHT) and row.get("oldest") is not None:
                created = _utc(row["oldest"])
                oldest[kind] = min(created, oldest.get(kind, created))
        for (state, kind), count in table.items():
            counts.add_metric([state, kind], count)
        now = datetime.now(timezone.utc)
        for kind in TARGET_KINDS:
            age = (now - oldest[kind]).total_seconds() if kind in oldest else 0.0
            ages.add_metric([kind], max(age, 0.0))
        yield counts
        yield ages


def init_app(app: Flask) -> None:
    metrics.add_scrape_collector(app, DeliveryMetrics(
        app.extensions["erx.storage"].database,
        cache_seconds=app.config["DELIVERY_METRICS_CACHE_SECONDS"]))


def delivery_metrics() -> DeliveryMetrics:
    return next(c for c in current_app.extensions["erx.scrape_collectors"]
                if isinstance(c, DeliveryMetrics))
