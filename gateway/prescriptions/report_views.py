"""Regulators' reports over HTTP: the summary, and the controlled-drug overlaps."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from gateway.prescriptions.reports import (
    GROUPINGS,
    OVERLAP_COLUMNS,
    overlap_csv_row,
    overlap_item,
    summary,
)
from gateway.web.context import services
from gateway.web.http import NDJSON, export_response, export_type
from gateway.web.params import Instant
from gateway.web.security import requires

blp = Blueprint("reports", __name__, description="Regulators' summary reports")


class SummaryQuerySchema(Schema):
    from_ = Instant(data_key="from", metadata={"description": "inclusive"})
    to = Instant(metadata={"description": "exclusive; must be after `from` (422)"})
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
                     utc_offset=services().settings.report_utc_offset)
    result["from_"] = result.pop("from")
    return result


class OverlapQuerySchema(Schema):
    from_ = Instant(data_key="from", metadata={
        "description": "detected at or after (inclusive)"})
    to = Instant(metadata={
        "description": "detected before (exclusive); must be after `from` (422)"})
    cursor = fields.String(validate=validate.Regexp(
        r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z-[0-9a-f]{12}$"),
        metadata={"description": "next_cursor of the previous page"})
    limit = fields.Integer(validate=validate.Range(min=1, max=2**63 - 1), metadata={
        "description": "page size (default and maximum are settings); exports ignore it"})

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        if "from_" in data and "to" in data and data["from_"] >= data["to"]:
            raise ValidationError("must be after from", field_name="to")


class OverlapSideSchema(Schema):
    ma_don_thuoc = fields.String()
    loai_don_thuoc = fields.String()
    facility = fields.String()
    facility_name = fields.String(allow_none=True)
    prescriber = fields.String(allow_none=True, metadata={"description": "client id"})
    prescriber_name = fields.String(allow_none=True)
    periods = fields.List(fields.Dict(), metadata={"description": "[{tu_ngay, den_ngay}]"})


class OverlapPrescriptionSchema(OverlapSideSchema):
    line = fields.Integer()
    ma_thuoc = fields.String()
    drug_name = fields.String(allow_none=True)


class OverlapOtherSchema(OverlapSideSchema):
    status = fields.String(allow_none=True)
    lines = fields.List(fields.Integer())
    drugs = fields.List(fields.Dict(), metadata={"description": "[{ma_thuoc, name}]"})


class OverlapSchema(Schema):
    id = fields.String()
    at = fields.String(metadata={"description": "when the submission was checked"})
    outcome = fields.String(metadata={"enum": ["refused", "warned"]})
    severity = fields.String(metadata={"enum": ["error", "warning"]})
    accepted = fields.Boolean(metadata={"description": "the submission was stored"})
    code = fields.String()
    control_class = fields.String()
    match = fields.String(metadata={"enum": ["ingredient", "control_class"]})
    ingredients = fields.List(fields.String())
    patient_hash = fields.String(metadata={
        "description": "HMAC-SHA256 of the CCCD under ERX_AUDIT_PATIENT_KEY (as in the audit "
                       "log); never the CCCD"})
    prescription = fields.Nested(OverlapPrescriptionSchema)
    other = fields.Nested(OverlapOtherSchema)
    overlap = fields.Dict(metadata={"description": "{days, spans: [{tu_ngay, den_ngay}]}"})


class OverlapPageSchema(Schema):
    items = fields.List(fields.Nested(OverlapSchema))
    next_cursor = fields.String(allow_none=True)


@blp.route("/v2/reports/controlled-overlaps", methods=["GET"])
@requires("regulator")
@blp.arguments(OverlapQuerySchema, location="query", as_kwargs=False, unknown=RAISE)
@blp.response(200, OverlapPageSchema)
@blp.doc(responses={
    "200": {"description": "a page of overlaps; with `Accept: text/csv` or "
                           "`application/x-ndjson`, every overlap of the period",
            "content": {"application/json": {"schema": OverlapPageSchema},
                        "text/csv": {"schema": {"type": "string"}},
                        NDJSON: {"schema": {"type": "string"}}}},
    "406": {"description": "Accept names none of the three media types"}})
def controlled_overlaps(args: dict[str, Any]) -> Any:
    """Overlapping controlled prescriptions caught at submission, refused or warned."""
    wanted = export_type()
    found = services()
    start, end = args.get("from_"), args.get("to")
    if wanted != "application/json":
        every = (overlap_item(doc, found.timezone)
                 for doc in found.overlaps.iterate(start=start, end=end))
        return export_response(every, wanted, columns=OVERLAP_COLUMNS, row=overlap_csv_row,
                               filename="controlled-overlaps.csv")
    settings = services().settings
    limit = min(args.get("limit", settings.overlap_report_page_size),
                settings.overlap_report_page_max)
    docs = found.overlaps.page(start=start, end=end, after=args.get("cursor"), limit=limit + 1)
    items = [overlap_item(doc, found.timezone) for doc in docs[:limit]]
    return {"items": items, "next_cursor": items[-1]["id"] if len(docs) > limit else None}
