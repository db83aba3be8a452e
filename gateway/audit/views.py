"""The regulators' audit trail over HTTP: events, exports, tree heads, proofs, access logs.

Events, exports and patients' access logs are the regulator's; tree heads and proofs (hashes
only, nothing personal) are open to every authenticated party so that anyone may monitor that
the log only grows. Reads of events first number every event still waiting for its sequence
number (gateway/audit/search.py), so they show everything recorded before the request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from gateway.audit import search
from gateway.audit.log import NDJSON
from gateway.audit.store import utc
from gateway.audit.tree import latest_tree_head, tree, tree_head_at
from gateway.core.errors import Invalid, NotFound
from gateway.web.context import services
from gateway.web.http import export_response, export_type
from gateway.web.openapi import errors
from gateway.web.params import Instant
from gateway.web.security import requires

blp = Blueprint("audit", __name__, description="Regulators' audit trail, proofs and reports")


#: Largest whole number a query parameter may hold (MongoDB's 64-bit integers); a larger one is
#: a 422, never an overflow.
INT64_MAX = 2**63 - 1


def _parameter_error(name: str, message_vi: str, message_en: str) -> Invalid:
    return Invalid(errors=[{"pointer": f"/{name}", "code": "request.invalid",
                                  "message": message_vi, "_en": message_en, "parameter": name}])


class EventQuerySchema(Schema):
    actor = fields.String(validate=validate.Length(min=1, max=128),
                          metadata={"description": "the acting party's client id"})
    user = fields.String(validate=validate.Length(min=1, max=128),
                         metadata={"description": "the person who acted in the console "
                                                  "(username)"})
    action = fields.String(validate=validate.Length(min=1, max=64), metadata={
        "description": "an action name, or a family such as `prescription.*`"})
    prescription = fields.String(validate=validate.Length(min=1, max=64),
                                 metadata={"description": "a ma_don_thuoc"})
    patient = fields.String(validate=validate.Regexp(r"^\s*[0-9A-Za-z]{1,32}\s*$"), metadata={
        "description": "a CCCD or health id; hashed on the server before matching"})
    from_ = Instant(data_key="from", metadata={"description": "inclusive"})
    to = Instant(metadata={"description": "exclusive; must be after `from` (422)"})
    cursor = fields.String(validate=validate.Regexp(r"^[0-9]{1,18}$"),
                           metadata={"description": "next_cursor of the previous page"})
    limit = fields.Integer(validate=validate.Range(min=1, max=INT64_MAX),
                           metadata={"description": "page size (default and maximum are "
                                                    "settings); exports ignore it"})

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        if "from_" in data and "to" in data and data["from_"] >= data["to"]:
            raise ValidationError("must be after from", field_name="to")
        action = data.get("action")
        if action is not None and not search.known_action(action):
            raise ValidationError("unknown action", field_name="action")


class ActorSchema(Schema):
    party_id = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    user = fields.String(metadata={"description": "the person, when one acted in the console "
                                                 "(absent otherwise)"})


class ObjectSchema(Schema):
    type = fields.String()
    id = fields.String()


class EventSchema(Schema):
    seq = fields.Integer(metadata={"description": "sequence number = Merkle leaf index"})
    time = fields.String()
    actor = fields.Nested(ActorSchema)
    action = fields.String()
    object = fields.Nested(ObjectSchema, allow_none=True)
    outcome = fields.String()
    request_id = fields.String(allow_none=True)
    client_address = fields.String(allow_none=True)
    content_sha256 = fields.String(allow_none=True)
    patient_hash = fields.String(allow_none=True)
    details = fields.Dict(allow_none=True)


class EventPageSchema(Schema):
    items = fields.List(fields.Nested(EventSchema))
    next_cursor = fields.String(allow_none=True)


EXPORT_RESPONSES = {
    "200": {"description": "a page of events; with `Accept: text/csv` or "
                           "`application/x-ndjson`, every matching event",
            "content": {
                "application/json": {"schema": EventPageSchema},
                "text/csv": {"schema": {"type": "string",
                                        "description": "one row per event, header first"}},
                NDJSON: {"schema": {"type": "string",
                                    "description": "one event per line (what `erx-gateway "
                                                   "audit verify` reads)"}}}},
    "406": {"description": "Accept names none of the three media types"},
}
NOT_SEALED = {"404": {"description": "the log has not been sealed yet (or no tree head was "
                                     "published at that size)"}}


def _export(query: dict[str, Any], mimetype: str) -> Response:
    return export_response(search.every_event(services().audit, query), mimetype,
                           columns=search.CSV_COLUMNS, row=search.csv_row,
                           filename="audit-events.csv")


@blp.route("/v2/audit/events", methods=["GET"])
@requires("regulator")
@blp.arguments(EventQuerySchema, location="query", as_kwargs=False, unknown=RAISE)
@blp.response(200, EventPageSchema)
@blp.doc(responses=EXPORT_RESPONSES)
def list_events(args: dict[str, Any]) -> Any:
    """Audit events, oldest first: filter, page, or export as CSV / NDJSON."""
    wanted = export_type()
    query = search.event_query(args, services().audit)
    if wanted != "application/json":
        return _export(query, wanted)
    settings = services().settings
    limit = min(args.get("limit", settings.audit_page_size), settings.audit_page_max)
    items, next_cursor = search.events_page(services().audit, query, limit)
    return {"items": items, "next_cursor": next_cursor}


class TreeHeadQuerySchema(Schema):
    tree_size = fields.Integer(validate=validate.Range(min=0, max=INT64_MAX), metadata={
        "description": "a tree head published earlier (default: the latest)"})


class TreeHeadSchema(Schema):
    tree_size = fields.Integer()
    root_hash = fields.String(metadata={"description": "hex SHA-256 (RFC 9162 MTH)"})
    timestamp = fields.String()
    signature = fields.String(metadata={"description": "detached compact JWS over the RFC "
                                        "8785 form of {tree_size, root_hash, timestamp}; "
                                        "keys at /.well-known/jwks.json"})


@blp.route("/v2/audit/tree-head", methods=["GET"])
@requires()
@blp.arguments(TreeHeadQuerySchema, location="query", as_kwargs=False, unknown=RAISE)
@blp.response(200, TreeHeadSchema)
@blp.doc(responses=NOT_SEALED)
def get_tree_head(args: dict[str, Any]) -> Any:
    """The latest signed tree head (or the one published at `tree_size`)."""
    database = services().storage.database
    head = (tree_head_at(database, args["tree_size"]) if "tree_size" in args
            else latest_tree_head(database))
    if head is None:
        raise NotFound("no tree head has been published at that size"
                       if "tree_size" in args else "the log has not been sealed yet")
    return head.to_json()


class InclusionQuerySchema(Schema):
    index = fields.Integer(required=True, validate=validate.Range(min=0, max=INT64_MAX),
                           metadata={"description": "leaf index = the event's seq"})
    tree_size = fields.Integer(validate=validate.Range(min=1, max=INT64_MAX),
                               metadata={"description": "default: the latest tree head's"})


class InclusionProofSchema(Schema):
    index = fields.Integer()
    tree_size = fields.Integer()
    leaf_hash = fields.String()
    audit_path = fields.List(fields.String(), metadata={
        "description": "hex hashes, leaf's sibling first (RFC 9162 2.1.3)"})


class ConsistencyQuerySchema(Schema):
    first = fields.Integer(required=True, validate=validate.Range(min=1, max=INT64_MAX))
    second = fields.Integer(validate=validate.Range(min=1, max=INT64_MAX),
                            metadata={"description": "default: the latest tree head's"})


class ConsistencyProofSchema(Schema):
    first = fields.Integer()
    second = fields.Integer()
    consistency_path = fields.List(fields.String(), metadata={
        "description": "hex hashes (RFC 9162 2.1.4); empty when first == second"})


def _published_size() -> int:
    head = latest_tree_head(services().storage.database)
    if head is None:
        raise NotFound("the log has not been sealed yet")
    return head.tree_size


@blp.route("/v2/audit/proofs/inclusion", methods=["GET"])
@requires()
@blp.arguments(InclusionQuerySchema, location="query", as_kwargs=False, unknown=RAISE)
@blp.response(200, InclusionProofSchema)
@blp.doc(responses=NOT_SEALED)
def inclusion_proof(args: dict[str, Any]) -> Any:
    """Inclusion proof of one event in a published tree (RFC 9162 §2.1.3)."""
    published = _published_size()
    size = args.get("tree_size", published)
    if size > published:
        raise _parameter_error("tree_size", f"Cây mới nhất có {published} sự kiện",
                               f"the latest tree head has {published} events")
    if args["index"] >= size:
        raise _parameter_error("index", f"Phải nhỏ hơn tree_size ({size})",
                               f"must be below tree_size ({size})")
    merkle = tree(services().storage.database, published)
    path = merkle.inclusion_proof(args["index"], size)
    return {"index": args["index"], "tree_size": size,
            "leaf_hash": merkle.leaf_hash_at(args["index"]).hex(),
            "audit_path": [node.hex() for node in path]}


@blp.route("/v2/audit/proofs/consistency", methods=["GET"])
@requires()
@blp.arguments(ConsistencyQuerySchema, location="query", as_kwargs=False, unknown=RAISE)
@blp.response(200, ConsistencyProofSchema)
@blp.doc(responses=NOT_SEALED)
def consistency_proof(args: dict[str, Any]) -> Any:
    """Consistency proof between two published tree sizes (RFC 9162 §2.1.4)."""
    published = _published_size()
    second = args.get("second", published)
    if second > published:
        raise _parameter_error("second", f"Cây mới nhất có {published} sự kiện",
                               f"the latest tree head has {published} events")
    if args["first"] > second:
        raise _parameter_error("first", f"Không được lớn hơn second ({second})",
                               f"must not exceed second ({second})")
    path = tree(services().storage.database, published).consistency_proof(args["first"], second)
    return {"first": args["first"], "second": second,
            "consistency_path": [node.hex() for node in path]}


class AccessLogQuerySchema(Schema):
    cursor = fields.String(validate=validate.Regexp(r"^[0-9]{1,18}$"))
    limit = fields.Integer(validate=validate.Range(min=1, max=INT64_MAX))


class AccessSchema(Schema):
    seq = fields.Integer()
    time = fields.String()
    party_id = fields.String(allow_none=True)
    party_name = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    user = fields.String(allow_none=True, metadata={"description": "the person, when one "
                                                                   "read it in the console"})
    action = fields.String()
    ma_don_thuoc = fields.String(allow_none=True)
    outcome = fields.String()


class AccessLogSchema(Schema):
    items = fields.List(fields.Nested(AccessSchema))
    next_cursor = fields.String(allow_none=True)


@blp.route("/v2/patients/<cccd>/access-log", methods=["GET"])
@blp.doc(parameters=[{"in": "path", "name": "cccd", "required": True,
                      "schema": {"type": "string", "pattern": "^[0-9]{12}$"},
                      "description": "the person's CCCD (12 digits); hashed before matching"}],
         responses=errors({422: "`cccd` is not 12 digits, or a query parameter is invalid"}))
@requires("regulator")
@blp.arguments(AccessLogQuerySchema, location="query", as_kwargs=False, unknown=RAISE)
@blp.response(200, AccessLogSchema)
def access_log(args: dict[str, Any], cccd: str) -> Any:
    """Which parties read or dispensed a person's prescriptions, oldest first."""
    if not search.valid_cccd(cccd):
        raise _parameter_error("cccd", "CCCD gồm 12 chữ số", "a CCCD is 12 digits")
    settings = services().settings
    limit = min(args.get("limit", settings.audit_page_size), settings.audit_page_max)
    found = services()
    page = search.access_log(found.audit, found.parties, cccd, cursor=args.get("cursor"),
                             limit=limit)
    zone = found.timezone  # a derived view, not the signed log: the gateway's zone
    page["items"] = [{**item, "time": utc(datetime.fromisoformat(item["time"])).astimezone(
        zone).isoformat(timespec="milliseconds")} for item in page["items"]]
    return page
