"""The gateway's signatures over HTTP: the public key set and online verification."""

from __future__ import annotations

import json
from typing import Any

from flask import Response
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from pymongo.errors import PyMongoError

from gateway.core.errors import Invalid, Unavailable
from gateway.web.context import services
from gateway.web.http import json_object
from gateway.web.security import requires
from signing.errors import VerificationError

blp = Blueprint("signatures", __name__, description="The gateway's signatures: public keys "
                "and verification")


class JwkSchema(Schema):
    kty = fields.String(metadata={"example": "OKP"})
    crv = fields.String(metadata={"example": "Ed25519"})
    x = fields.String()
    y = fields.String(metadata={"description": "EC keys only"})
    kid = fields.String(metadata={"description": "RFC 7638 thumbprint"})
    alg = fields.String(metadata={"example": "EdDSA"})
    use = fields.String(metadata={"example": "sig"})


class JwksSchema(Schema):
    keys = fields.List(fields.Nested(JwkSchema))


class VerifyRequestSchema(Schema):
    prescription = fields.Dict(required=True, metadata={
        "description": "a prescription resource's `prescription` object"})
    jws = fields.String(required=True, validate=validate.Length(min=1), metadata={
        "description": "the resource's `signature.jws` (detached compact JWS)"})


class VerifyResultSchema(Schema):
    valid = fields.Boolean()
    kid = fields.String(allow_none=True)
    reason = fields.String(allow_none=True, metadata={
        "description": "null when valid; else malformed_jws, unsupported_alg, unknown_kid, "
                       "content_changed or bad_signature"})


@blp.route("/.well-known/jwks.json")
@blp.doc(security=[])
@blp.response(200, JwksSchema, content_type="application/jwk-set+json")
def well_known_jwks() -> Any:
    """The gateway's public signing keys, active and retired (RFC 7517 JWK Set)."""
    signatures = services().signatures
    try:
        key_set = signatures.jwks()
    except PyMongoError:
        raise Unavailable("the key set is unavailable") from None
    response = Response(json.dumps(key_set), mimetype="application/jwk-set+json")
    response.headers["Cache-Control"] = f"public, max-age={int(signatures.key_store.policy.refresh_seconds)}"
    return response


@blp.route("/v2/signatures/verify", methods=["POST"])
@blp.doc(requestBody={"required": True, "content": {
    "application/json": {"schema": VerifyRequestSchema}}})
@blp.response(200, VerifyResultSchema)
@requires()
def verify_signature() -> Any:
    """Verify a prescription's gateway signature (valid, kid, and the reason when not)."""
    body = json_object()
    prescription: Any = body.get("prescription")  # both checked below
    jws: Any = body.get("jws")
    errors = []
    if not isinstance(prescription, dict):
        errors.append({"pointer": "/prescription", "code": "request.required",
                       "message": "Bắt buộc, là đối tượng JSON (prescription của đơn thuốc)"})
    if not isinstance(jws, str) or not jws:
        errors.append({"pointer": "/jws", "code": "request.required",
                       "message": "Bắt buộc, là chuỗi JWS (signature.jws của đơn thuốc)"})
    errors += [{"pointer": f"/{name}", "code": "request.unknown_field",
                "message": f"Trường không được hỗ trợ: {name}", "_en": f"unknown field: {name}"}
               for name in sorted(set(body) - {"prescription", "jws"})]
    if errors:
        raise Invalid(errors=errors)
    try:
        kid = services().signatures.verify_prescription(prescription, jws)
    except VerificationError as exc:
        return {"valid": False, "kid": exc.kid, "reason": exc.reason}
    return {"valid": True, "kid": kid, "reason": None}
