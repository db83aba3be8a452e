"""The regulators' summary over the ``prescriptions`` collection as aggregations (read only;
the collection is :mod:`gateway.prescriptions.store`'s): one pass per report, no copies.
The rows are shaped into the report by :mod:`gateway.prescriptions.reports`.

Fields read: ``issued_at``, ``facility``, ``status``, ``document.loai_don_thuoc``, and per line
of ``lines``: ``ma_thuoc``, ``prescribed``, ``dispensed``, ``control_class``
(:class:`gateway.prescriptions.model.StoredPrescription`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.prescriptions.model import Status
from gateway.prescriptions.store import PrescriptionStore


def _is_controlled(line_field: str) -> dict[str, Any]:
    return {"$not": [{"$in": [{"$ifNull": [line_field, "none"]}, ["none", ""]]}]}


def summary_rows(store: PrescriptionStore, *, group_by: str, start: datetime | None,
                 end: datetime | None, utc_offset: str
                 ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The rows of the prescriptions issued in ``[start, end)`` by ``group_by`` (``facility``,
    ``drug``, ``type`` or ``day`` in ``utc_offset``), each with its counts and sums, and the
    row of their totals (None when there are none); each prescription counts once in the
    totals, even when it has several of the grouped drugs."""
    match: dict[str, Any] = {}
    if start is not None or end is not None:
        match["issued_at"] = {**({"$gte": start} if start else {}),
                              **({"$lt": end} if end else {})}
    key = {
        "facility": "$facility",
        "drug": "$lines.ma_thuoc",
        "type": "$document.loai_don_thuoc",
        "day": {"$dateToString": {"format": "%Y-%m-%d", "date": "$issued_at",
                                  "timezone": utc_offset}},
    }[group_by]
    has_line = {"$cond": [{"$ifNull": ["$lines", False]}, 1, 0]}
    controlled = {"$and": [{"$ifNull": ["$lines", False]}, _is_controlled("$lines.control_class")]}
    per_prescription = [
        {"$match": match},
        {"$unwind": {"path": "$lines", "preserveNullAndEmptyArrays": True}},
        {"$addFields": {"_controlled": controlled}},
        {"$group": {
            "_id": {"key": key, "prescription": "$_id"},
            "cancelled": {"$max": {"$cond": [{"$eq": ["$status", Status.CANCELLED.value]}, 1, 0]}},
            "lines": {"$sum": has_line},
            "prescribed": {"$sum": {"$ifNull": ["$lines.prescribed", 0]}},
            "dispensed": {"$sum": {"$ifNull": ["$lines.dispensed", 0]}},
            "c_lines": {"$sum": {"$cond": ["$_controlled", 1, 0]}},
            "c_prescribed": {"$sum": {"$cond": ["$_controlled",
                                                {"$ifNull": ["$lines.prescribed", 0]}, 0]}},
            "c_dispensed": {"$sum": {"$cond": ["$_controlled",
                                               {"$ifNull": ["$lines.dispensed", 0]}, 0]}},
        }},
    ]

    def rollup(group_key: Any) -> list[dict[str, Any]]:
        return [
            {"$group": {
                "_id": group_key,
                "prescriptions": {"$sum": 1},
                "cancelled": {"$sum": "$cancelled"},
                "lines": {"$sum": "$lines"},
                "prescribed": {"$sum": "$prescribed"},
                "dispensed": {"$sum": "$dispensed"},
                "c_prescriptions": {"$sum": {"$cond": [{"$gt": ["$c_lines", 0]}, 1, 0]}},
                "c_lines": {"$sum": "$c_lines"},
                "c_prescribed": {"$sum": "$c_prescribed"},
                "c_dispensed": {"$sum": "$c_dispensed"},
            }},
            {"$sort": {"_id": 1}},
        ]

    groups = store.aggregate(per_prescription + rollup("$_id.key"))
    # Totals count each prescription once, even when it has several of the grouped drugs.
    total_pipeline = per_prescription + [
        {"$group": {"_id": "$_id.prescription", "cancelled": {"$max": "$cancelled"},
                    "lines": {"$sum": "$lines"}, "prescribed": {"$sum": "$prescribed"},
                    "dispensed": {"$sum": "$dispensed"}, "c_lines": {"$sum": "$c_lines"},
                    "c_prescribed": {"$sum": "$c_prescribed"},
                    "c_dispensed": {"$sum": "$c_dispensed"}}},
    ] + rollup(None)
    totals = next(iter(store.aggregate(total_pipeline)), None)
    return groups, totals
