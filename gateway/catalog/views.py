"""The drug catalog over HTTP: a product by any of its identifiers, and search."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from drug_catalog.catalog import MAX_SEARCH_LIMIT
from drug_catalog.model import CONTROL_CLASSES, KINDS, STATUSES
from gateway.web.context import services
from gateway.web.openapi import errors
from gateway.web.security import requires

blp = Blueprint("drugs", __name__, description="The drug catalog: products by national code, "
                "registration number or GTIN, and search")


class ActiveIngredientSchema(Schema):
    name = fields.String(metadata={"example": "Paracetamol"})
    strength = fields.String(metadata={"example": "500mg"})


class DrugSchema(Schema):
    """A drug resource (README "Drug catalog"); also one line of the ``ndjson`` import format."""

    national_code = fields.String(metadata={"description": "the key; what ma_thuoc names"})
    registration_number = fields.String(metadata={"example": "VD-32243-19"})
    gtins = fields.List(fields.String(), metadata={"example": ["08930000000019"],
                                                   "description": "14 digits each"})
    name = fields.String()
    active_ingredients = fields.List(fields.Nested(ActiveIngredientSchema))
    dosage_form = fields.String(metadata={"example": "Viên nén"})
    route = fields.String(metadata={"example": "Uống"})
    unit = fields.String(metadata={"example": "Viên"})
    packaging = fields.String(metadata={"example": "Hộp 10 vỉ x 10 viên"})
    kind = fields.String(validate=validate.OneOf(KINDS))
    prescription_only = fields.Boolean()
    control_class = fields.String(validate=validate.OneOf(CONTROL_CLASSES))
    status = fields.String(validate=validate.OneOf(STATUSES))
    registration_valid_until = fields.String(allow_none=True,
                                             metadata={"example": "2027-12-31",
                                                       "format": "date"})


class DrugSearchArgsSchema(Schema):
    q = fields.String(required=True, validate=validate.Length(min=1, max=200),
                      metadata={"description": "words of a name or active ingredient; "
                                               "case and diacritics ignored, prefixes match"})
    limit = fields.Integer(validate=validate.Range(min=1, max=MAX_SEARCH_LIMIT),
                           metadata={"description": "default ERX_CATALOG_SEARCH_LIMIT"})


class DrugSearchSchema(Schema):
    items = fields.List(fields.Nested(DrugSchema))


@blp.route("/v2/drugs/<identifier>")
@blp.doc(parameters=[{"in": "path", "name": "identifier", "required": True,
                      "description": "national drug code, registration number, or GTIN of 8, "
                                     "12, 13 or 14 digits",
                      "schema": {"type": "string", "minLength": 1, "maxLength": 200}}],
         responses=errors({404: "no product has this identifier",
                           422: "`drug.gtin_check_digit` (the problem names the expected digit), "
                                "`drug.ambiguous` or `drug.identifier`"}))
@blp.response(200, DrugSchema)
@requires()
def get_drug(identifier: str) -> Any:
    """A product by national code, registration number or GTIN."""
    return services().catalog.catalog.resolve(identifier).to_dict()


@blp.route("/v2/drugs")
@requires()
@blp.arguments(DrugSearchArgsSchema, location="query", unknown=RAISE)
@blp.response(200, DrugSearchSchema)
def search_drugs(args: dict[str, Any]) -> Any:
    """Search products by name or active ingredient, best first."""
    service = services().catalog
    limit = args.get("limit") or min(service.search_limit, MAX_SEARCH_LIMIT)
    return {"items": [drug.to_dict() for drug in service.catalog.search(args["q"], limit)]}
