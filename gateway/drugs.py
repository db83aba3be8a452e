"""The drug catalog over HTTP and in the process.

``init_app`` builds, once per process, the :class:`drug_catalog.store.CatalogStore` on the
gateway's database and the in-memory :class:`drug_catalog.cache.CachedCatalog` over it
(``app.extensions["erx.catalog"]``). Other areas call the accessors:

- :func:`catalog` — the catalog to ``resolve(identifier) -> Drug``, ``get``, ``search``
  (answers from memory, refreshed within ``ERX_CATALOG_REFRESH_SECONDS`` of any change);
- :func:`catalog_store` — the database store (imports, direct reads).

``erx-gateway run`` loads the shipped demo catalog when the catalog is empty
(``ERX_CATALOG_DEMO``).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from drug_catalog.cache import CachedCatalog
from drug_catalog.catalog import MAX_SEARCH_LIMIT
from drug_catalog.demo import demo_catalog_path
from drug_catalog.importer import ImportReport, import_file
from drug_catalog.model import CONTROL_CLASSES, KINDS, STATUSES
from drug_catalog.store import CatalogStore
from gateway import supervisor
from gateway.auth import requires

log = logging.getLogger(__name__)

blp = Blueprint("drugs", __name__, description="The drug catalog: products by national code, "
                "registration number or GTIN, and search")


def catalog() -> CachedCatalog:
    """The process's catalog (``resolve``, ``get``, ``search``), answering from memory."""
    return current_app.extensions["erx.catalog"]


def catalog_store() -> CatalogStore:
    """The catalog's database store."""
    return current_app.extensions["erx.catalog_store"]


def import_catalog(path: str, fmt: str | None = None) -> ImportReport:
    """Import a catalog file into this app's database (``erx-gateway catalog import``).

    Raises:
        drug_catalog.errors.ImportFormatError: unknown format, not UTF-8, no header.
        OSError: the file cannot be read.
        drug_catalog.store.CatalogUnavailable: the database did not answer.
    """
    return import_file(catalog_store(), path, fmt,
                       batch_size=current_app.config["CATALOG_IMPORT_BATCH"])


def load_demo_catalog_if_empty(app: Flask) -> None:
    """Bootstrap step of ``erx-gateway run``: an empty catalog gets the shipped demo catalog
    (``ERX_CATALOG_DEMO``: ``auto`` only in development, ``yes``, ``no``)."""
    wanted = app.config["CATALOG_DEMO"]
    if wanted == "no" or (wanted == "auto" and app.config["ENV"] != "development"):
        return
    store: CatalogStore = app.extensions["erx.catalog_store"]
    if store.count() > 0:
        return
    report = import_file(store, demo_catalog_path(), "ndjson",
                         batch_size=app.config["CATALOG_IMPORT_BATCH"])
    supervisor._say(f"drug catalog was empty: loaded the demo catalog ({report.added} "
                    f"products, sample data)")


if load_demo_catalog_if_empty not in supervisor.BOOTSTRAP:
    supervisor.BOOTSTRAP.append(load_demo_catalog_if_empty)


def init_app(app: Flask) -> None:
    store = CatalogStore.from_database(app.extensions["erx.storage"].database)
    app.extensions["erx.catalog_store"] = store
    app.extensions["erx.catalog"] = CachedCatalog(
        store=store, refresh_seconds=app.config["CATALOG_REFRESH_SECONDS"], background=True)


# ------------------------------------------------------------------------------- HTTP


class ActiveIngredientSchema(Schema):
    name = fields.String(metadata={"example": "Paracetamol"})
    strength = fields.String(metadata={"example": "500mg"})


class DrugSchema(Schema):
    """A drug resource (API.md); also one line of the ``ndjson`` import format."""

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
                                     "12, 13 or 14 digits", "schema": {"type": "string"}}],
         responses={"404": {"description": "no product has this identifier"},
                    "422": {"description": "a GTIN with a wrong check digit (the problem names "
                                           "the expected digit), or an ambiguous identifier"}})
@blp.response(200, DrugSchema)
@requires()
def get_drug(identifier: str) -> Any:
    """A product by national code, registration number or GTIN."""
    return catalog().resolve(identifier).to_dict()


@blp.route("/v2/drugs")
@blp.response(200, DrugSearchSchema)
@requires()
@blp.arguments(DrugSearchArgsSchema, location="query")
def search_drugs(args: dict[str, Any]) -> Any:
    """Search products by name or active ingredient, best first."""
    limit = args.get("limit") or min(current_app.config["CATALOG_SEARCH_LIMIT"], MAX_SEARCH_LIMIT)
    return {"items": [drug.to_dict() for drug in catalog().search(args["q"], limit)]}
