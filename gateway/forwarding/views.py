"""Forwarding over HTTP: where each prescription was sent, an administrator's retry, and the
pharmacies' webhook registration."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from gateway.core.errors import NotFound
from gateway.forwarding.deliveries import deliveries_for, delivery_report, retry_delivery
from gateway.forwarding.webhooks import validate_webhook
from gateway.prescriptions.outbox import PHARMACY_EVENTS
from gateway.web.context import services
from gateway.web.http import json_object
from gateway.web.openapi import errors
from gateway.web.security import current_party, requires

blp = Blueprint("deliveries", __name__, description="Where each prescription was forwarded, "
                                                     "and sending failed deliveries again")
webhooks_blp = Blueprint("webhooks", __name__, description="Pharmacies register where "
                                                            "prescriptions are pushed to them")


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
    refusal = fields.Dict(allow_none=True, metadata={
        "description": "when the receiver refused the delivery (failed_permanent): its error "
                       "map, {field path: [messages]} as the national registry answers; fix the "
                       "cause, then POST /v2/deliveries/{id}/retry"})
    waiting_for = fields.String(allow_none=True, metadata={
        "description": "id of the earlier delivery to the same target this one waits for"})
    retried_at = fields.DateTime(allow_none=True)
    retried_by = fields.String(allow_none=True)


class DeliveriesSchema(Schema):
    ma_don_thuoc = fields.String()
    deliveries = fields.List(fields.Nested(DeliverySchema))


@blp.route("/v2/prescriptions/<string:code>/deliveries")
@blp.doc(responses=errors({403: "a pharmacy, or another facility", 404: "no such prescription"}))
@blp.response(200, DeliveriesSchema)
@requires("clinic", "doctor", "regulator", "admin")
def list_deliveries(code: str) -> Any:
    """Where this prescription, its cancellation and its dispenses were sent, and how it went."""
    found = services()
    try:
        entries = deliveries_for(found.outbox, code, current_party())
    except NotFound:
        typed = found.prescription_store.find_typed(code)  # O for 0, I or L for 1, ...
        if typed is None:
            raise
        code = typed["_id"]
        entries = deliveries_for(found.outbox, code, current_party())
    return {"ma_don_thuoc": code, "deliveries": [_local(entry) for entry in entries]}


def _local(entry: Mapping[str, Any]) -> dict[str, Any]:
    """Times in the gateway's time zone, as every answer but the signed audit log shows them
    (README "Conventions")."""
    zone = services().timezone
    return {name: value.astimezone(zone) if isinstance(value, datetime) and value.tzinfo
            else value for name, value in entry.items()}


@blp.route("/v2/deliveries/<string:delivery_id>/retry", methods=["POST"])
@blp.doc(responses=errors({404: "no such delivery",
                           409: "the delivery is neither dead nor failed_permanent"}))
@blp.response(200, DeliverySchema)
@requires("admin")
def retry(delivery_id: str) -> Any:
    """Send a dead or permanently failed delivery again (409 in any other state)."""
    return _local(retry_delivery(services().outbox, delivery_id, by=current_party().client_id))


class DeliveryCountSchema(Schema):
    state = fields.String(metadata={"enum": ["pending", "in_flight", "failed_permanent", "dead"]})
    target = fields.String(metadata={"enum": ["registry", "pharmacy"]})
    count = fields.Integer()


class RefusedDeliverySchema(Schema):
    ma_don_thuoc = fields.String()
    delivery = fields.String()
    target = fields.String()
    event = fields.String()
    created_at = fields.DateTime(allow_none=True)
    last_attempt_at = fields.DateTime(allow_none=True)
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    refusal = fields.Dict(allow_none=True, metadata={"description": "the receiver's error map"})


class DeliveryReportSchema(Schema):
    counts = fields.List(fields.Nested(DeliveryCountSchema))
    refused = fields.List(fields.Nested(RefusedDeliverySchema))


class DeliveryReportQuerySchema(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000),
                           metadata={"description": "refused deliveries listed, oldest first"})


@blp.route("/v2/reports/deliveries")
@requires("regulator")
@blp.arguments(DeliveryReportQuerySchema, location="query", as_kwargs=False, unknown=RAISE)
@blp.doc(responses=errors({403: "not a regulator"}))
@blp.response(200, DeliveryReportSchema)
def report_deliveries(args: dict[str, Any]) -> Any:
    """Delivery health: open and failed deliveries by state and target, and every refusal."""
    report = delivery_report(services().outbox, limit=args["limit"])
    return {**report, "refused": [_local(entry) for entry in report["refused"]]}


class WebhookSchema(Schema):
    url = fields.String(required=True, validate=validate.Length(min=1, max=2048), metadata={
        "description": "https (http only with ERX_ENV=development); no loopback or private "
                       "address literal", "example": "https://pharmacy.example/erx"})
    events = fields.List(fields.String(validate=validate.OneOf(PHARMACY_EVENTS)), metadata={
        "description": "default: every event", "example": list(PHARMACY_EVENTS)})


class WebhookAnswerSchema(WebhookSchema):
    updated_at = fields.DateTime()


def _answer(webhook: Mapping[str, Any]) -> dict[str, Any]:
    return _local({"url": webhook["url"], "events": webhook["events"],
                   "updated_at": webhook.get("updated_at")})


@webhooks_blp.route("/v2/pharmacies/me/webhook", methods=["PUT"])
@webhooks_blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": WebhookSchema}}},
         responses=errors({422: "bad URL (https required outside development) or unknown event"}))
@webhooks_blp.response(200, WebhookAnswerSchema)
@requires("pharmacy")
def put_webhook() -> Any:
    """Register (or replace) this pharmacy's webhook."""
    url, events = validate_webhook(json_object(),
                                   allow_http=services().settings.env == "development")
    return _answer(services().webhooks.put(current_party().code, url=url, events=events))


@webhooks_blp.route("/v2/pharmacies/me/webhook", methods=["GET"])
@webhooks_blp.doc(responses=errors({404: "no webhook is registered"}))
@webhooks_blp.response(200, WebhookAnswerSchema)
@requires("pharmacy")
def get_webhook() -> Any:
    """This pharmacy's webhook (404 if none is registered)."""
    webhook = services().webhooks.get(current_party().code)
    if webhook is None:
        raise NotFound("no webhook is registered")
    return _answer(webhook)
