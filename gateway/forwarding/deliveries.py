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
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from pymongo.errors import PyMongoError

from gateway.core.errors import Conflict, Forbidden, NotFound, error_item
from gateway.parties.model import Party, Role
from gateway.prescriptions.model import PRESCRIBERS, DeliveryState
from gateway.prescriptions.outbox import OPEN, RETRYABLE_BY_ADMIN, waiting_for
from gateway.prescriptions.outbox_store import OutboxStore

log = logging.getLogger(__name__)

COUNTED_STATES = (DeliveryState.PENDING, DeliveryState.IN_FLIGHT, DeliveryState.FAILED_PERMANENT, DeliveryState.DEAD)
TARGET_KINDS = ("registry", "pharmacy")
# What a delivery shows, in this order (the deliveries view's schema has the same fields).
PUBLIC_FIELDS = ("id", "seq", "target", "event", "ref", "state", "attempts", "created_at",
                 "next_attempt_at", "last_attempt_at", "delivered_at", "last_error", "response",
                 "retried_at", "retried_by")


def refusal_errors(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    """The receiver's error map of a refused delivery (the national ``error`` object, or the
    pharmacy answer's body), or None when it was not refused."""
    if entry.get("state") != DeliveryState.FAILED_PERMANENT:
        return None
    body = (entry.get("response") or {}).get("body")
    if isinstance(body, dict):
        errors = body.get("error") or body.get("danh_sach_cac_loi")
        if errors:
            return errors if isinstance(errors, dict) else {"": errors}
    return {"": [entry.get("last_error") or "refused"]}


def _utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def public_delivery(deliveries: list[Mapping[str, Any]], index: int) -> dict[str, Any]:
    entry = deliveries[index]
    shown = {name: _utc(entry.get(name)) for name in PUBLIC_FIELDS}
    if entry.get("state") != DeliveryState.PENDING:
        shown["next_attempt_at"] = None
    shown["waiting_for"] = waiting_for(deliveries, index) if entry.get("state") == DeliveryState.PENDING else None
    shown["refusal"] = refusal_errors(entry)
    return shown


def deliveries_for(outbox: OutboxStore, code: str, party: Party) -> list[dict[str, Any]]:
    """The deliveries of a prescription as ``party`` may see them, in outbox order.

    Raises:
        gateway.core.errors.NotFound: no such prescription.
        gateway.core.errors.Forbidden: a pharmacy, or another facility.
    """
    doc = outbox.deliveries_of(code)
    if doc is None:
        raise NotFound(f"no prescription {code}")
    if not (party.role in (Role.REGULATOR, Role.ADMIN)
            or (party.role in PRESCRIBERS and party.facility == doc.get("facility"))):
        raise Forbidden("only the issuing facility, regulators and admins see deliveries")
    deliveries = doc.get("deliveries") or []
    order = sorted(range(len(deliveries)), key=lambda i: (deliveries[i].get("seq", i), i))
    return [public_delivery(deliveries, index) for index in order]


def retry_delivery(outbox: OutboxStore, delivery_id: str, *, by: str,
                   now: datetime | None = None) -> dict[str, Any]:
    """Put a dead or failed_permanent delivery back to pending, due now.

    Raises:
        gateway.core.errors.NotFound: unknown delivery.
        gateway.core.errors.Conflict: a delivery in another state.
    """
    changed = outbox.retry(delivery_id, by=by, now=now or datetime.now(UTC))
    doc = outbox.containing(delivery_id)
    if doc is None:
        raise NotFound(f"no delivery {delivery_id}")
    deliveries = doc.get("deliveries") or []
    index = next(i for i, entry in enumerate(deliveries) if entry["id"] == delivery_id)
    if not changed:
        raise Conflict(f"the delivery is {deliveries[index]['state']}; only "
                       f"{' or '.join(RETRYABLE_BY_ADMIN)} deliveries are retried",
                       errors=[error_item("/state", "delivery.state",
                                          "Chỉ gửi lại được khi đã thất bại")])
    return public_delivery(deliveries, index)


def _kind(row: Mapping[str, Any]) -> str:
    return "registry" if row["_id"]["registry"] else "pharmacy"


def count_table(rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Deliveries by (state, target kind), every counted state and kind present, from the rows
    of :meth:`OutboxStore.count_by_state`."""
    table: dict[tuple[str, str], int] = {(state, kind): 0 for state in COUNTED_STATES
                                         for kind in TARGET_KINDS}
    for row in rows:
        key = (row["_id"]["state"], _kind(row))
        table[key] = table.get(key, 0) + row["count"]
    return table


def delivery_report(outbox: OutboxStore, *, limit: int) -> dict[str, Any]:
    """For regulators: open and failed deliveries counted by state and target, and the refused
    ones (oldest first, at most ``limit``) with the receiver's error map."""
    counts = count_table(outbox.count_by_state(COUNTED_STATES))
    refused = []
    for row in outbox.refused(limit):
        entry = row["delivery"]
        refused.append({"ma_don_thuoc": row["_id"], "delivery": entry.get("id"),
                        "target": entry.get("target"), "event": entry.get("event"),
                        "created_at": _utc(entry.get("created_at")),
                        "last_attempt_at": _utc(entry.get("last_attempt_at")),
                        "attempts": entry.get("attempts", 0), "last_error": entry.get("last_error"),
                        "refusal": refusal_errors(entry)})
    return {"counts": [{"state": state, "target": kind, "count": count}
                       for (state, kind), count in counts.items()],
            "refused": refused}


class DeliveryMetrics:
    """``erx_deliveries`` and ``erx_delivery_oldest_pending_age_seconds``, read from MongoDB."""

    def __init__(self, outbox: OutboxStore, *, cache_seconds: float) -> None:
        self.outbox = outbox
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._cached: tuple[float, list[dict[str, Any]]] | None = None

    def _rows(self) -> list[dict[str, Any]]:
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self.cache_seconds:
                return self._cached[1]
            rows = self.outbox.count_by_state(COUNTED_STATES)
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
        refused = GaugeMetricFamily("erx_deliveries_refused", "Deliveries the receiver refused "
                                    "(failed_permanent: they wait for an operator)",
                                    labels=["target"])
        ages = GaugeMetricFamily("erx_delivery_oldest_pending_age_seconds",
                                 "Age of the oldest pending or in-flight delivery",
                                 labels=["target"])
        oldest: dict[str, datetime] = {}
        for row in rows:
            if row["_id"]["state"] in OPEN and row.get("oldest") is not None:
                created = _utc(row["oldest"])
                oldest[_kind(row)] = min(created, oldest.get(_kind(row), created))
        for (state, kind), count in count_table(rows).items():
            counts.add_metric([state, kind], count)
            if state == DeliveryState.FAILED_PERMANENT:
                refused.add_metric([kind], count)
        now = datetime.now(UTC)
        for kind in TARGET_KINDS:
            age = (now - oldest[kind]).total_seconds() if kind in oldest else 0.0
            ages.add_metric([kind], max(age, 0.0))
        yield counts
        yield refused
        yield ages
