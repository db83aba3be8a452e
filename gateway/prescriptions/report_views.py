"""Regulators' summary reports over HTTP."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from gateway.core.context import services
from gateway.prescriptions.reports import GROUPINGS, summary
from gateway.web.security import requires

blp = Blueprint("reports", __name__, description="Regulators' summary reports")


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
    result = summary(services().prescription_store, group_by=args["group_by"],
                     start=args.get("from_"), end=args.get("to"),
                     utc_offset=current_app.config["REPORT_UTC_OFFSET"])
    result["from_"] = result.pop("from")
    return result
