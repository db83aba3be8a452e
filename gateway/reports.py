"""Regulators' reports over the prescriptions collection (one aggregation, no copies).

``GET /v2/reports/summary?from=&to=&group_by=facility|drug|type|day`` counts, per group, the
prescriptions issued in ``[from, to)``, their drug lines and the quantities prescribed and
dispensed, and the same for controlled drugs (narcotic, psychotropic, precursor,
radioactive) separately. Quantities add up units as prescribed: they are comparable within a
drug (``group_by=drug``), indicative across drugs.

Fields of a prescription document read here (gateway/lifecycle.py writes them):
``issued_at`` (datetime), ``facility``, ``status``, ``document.loai_don_thuoc``, and per line
of ``lines``: ``ma_thuoc`` (national code), ``prescribed``, ``dispensed``, ``control_class``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from flask import Flask, current_app
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from pymongo.database import Database

from gateway.auth import requires
from gateway.config import ConfigError
from gateway.db import get_db

GROUPINGS = ("facility", "drug", "type", "day")
_OFFSET = re.compile(r"^[+-](0\d|1[0-4]):[0-5]\d$")

blp = Blueprint("reports", __name__, description="Regulators' summary reports")


def _is_controlled(line_field: str) -> dict[str, Any]:
    return {"$not": [{"$in": [{"$ifNull": [line_field, "none"]}, ["none", ""]]}]}


def summary(database: Database, *, group_by: str, start: datetime | None = None,
            end: datetime | None = None, utc_offset: str = "+07:00") -> dict[str, Any]:
    """Per-group and total counts of prescriptions issued in ``[start, end)``.

    Raises:
        ValueError: ``group_by`` is not one of :data:`GROUPINGS`.
    """
    if group_by not in GROUPINGS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPINGS)}")
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
            "cancelled": {"$max": {"$cond": [{"$eq": ["$status", "cancelled"]}, 1, 0]}},
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

    collection = database["prescriptions"]
    groups = [_shape(row, with_key=True)
              for row in collection.aggregate(per_prescription + rollup("$_id.key"))]
    # Totals count each prescription once, even when it has several of the grouped drugs.
    total_pipeline = per_prescription + [
        {"$group": {"_id": "$_id.prescription", "cancelled": {"$max": "$cancelled"},
                    "lines": {"$sum": "$lines"}, "prescribed": {"$sum": "$prescribed"},
                    "dispensed": {"$sum": "$dispensed"}, "c_lines": {"$sum": "$c_lines"},
                    "c_prescribed": {"$sum": "$c_prescribed"},
                    "c_dispensed": {"$sum": "$c_dispensed"}}},
    ] + rollup(None)
    totals = next(iter(collection.aggregate(total_pipeline)), None)
    return {"group_by": group_by, "from": _iso(start), "to": _iso(end), "groups": groups,
            "totals": _shape(totals, with_key=False) if totals else _shape({}, with_key=False)}


def _shape(row: Mapping[str, Any], *, with_key: bool) -> dict[str, Any]:
    shaped: dict[str, Any] = {"key": row.get("_id")} if with_key else {}
    shaped.update({
        "prescriptions": row.get("prescriptions", 0), "cancelled": row.get("cancelled", 0),
        "lines": row.get("lines", 0), "prescribed": row.get("prescribed", 0),
        "dispensed": row.get("dispensed", 0),
        "controlled": {"prescriptions": row.get("c_prescriptions", 0),
                       "lines": row.get("c_lines", 0),
                       "prescribed": row.get("c_prescribed", 0),
                       "dispensed": row.get("c_dispensed", 0)},
    })
    return shaped


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat() if value else None


# --- HTTP ---------------------------------------------------------------------------------------


class SummaryQuerySchema(Schema):
    from_ = fields.AwareDateTime(data_key="from", metadata={"description": "inclusive"})
    to = fields.AwareDateTime(metadata={"description": "exclusive"})
    group_by = fields.String(required=True, validate=validate.OneOf(GROUPINGS))

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        if "from_" in data and "to" in data and data["from_"] >= data["to"]:
            raise ValidationError("must be after from", field_name="to")


class FiguresSchema(Schema):
    prescriptions = fields.Integer()
    lines = fields.Integer()
    prescribed = fields.Raw(metadata={"type": "number", "description": "sum of quantities"})
    dispensed = fields.Raw(metadata={"type": "number"})


class TotalsSchema(FiguresSchema):
    cancelled = fields.Integer()
    controlled = fields.Nested(FiguresSchema, metadata={
        "description": "lines of narcotic, psychotropic, precursor or radioactive drugs; a "
                       "prescription counts when it has one"})


class GroupSchema(TotalsSchema):
    key = fields.String(allow_none=True, metadata={
        "description": "facility code, national drug code, loai_don_thuoc, or YYYY-MM-DD"})


class SummarySchema(Schema):
    group_by = fields.String()
    from_ = fields.String(data_key="from", allow_none=True)
    to = fields.String(allow_none=True)
    groups = fields.List(fields.Nested(GroupSchema))
    totals = fields.Nested(TotalsSchema)


@blp.route("/v2/reports/summary", methods=["GET"])
@requires("regulator")
@blp.arguments(SummaryQuerySchema, location="query", as_kwargs=False, unknown=RAISE)
@blp.response(200, SummarySchema)
def report_summary(args: dict[str, Any]) -> Any:
    """Prescriptions, lines and quantities per facility, drug, type or day."""
    result = summary(get_db(), group_by=args["group_by"], start=args.get("from_"),
                     end=args.get("to"), utc_offset=current_app.config["REPORT_UTC_OFFSET"])
    result["from_"] = result.pop("from")
    return result


def init_app(app: Flask) -> None:
    if not _OFFSET.match(app.config["REPORT_UTC_OFFSET"]):
        raise ConfigError("ERX_REPORT_UTC_OFFSET must look like +07:00")
