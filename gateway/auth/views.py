"""The login endpoints: OAuth 2 client credentials and the two national logins."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import HTTPException

from gateway.core.errors import Invalid, RateLimited, Unauthenticated, UnsupportedGrantType
from gateway.parties.model import Party
from gateway.web.context import services
from gateway.web.http import client_address, json_object
from gateway.web.openapi import errors, national_errors
from gateway.web.problems import ApiError, from_http_exception

blp = Blueprint("auth", __name__, description="Parties obtain access tokens")


def authenticate_secret(client_id: str, secret: str) -> Party | None:
    return services().authenticator.authenticate_secret(client_id, secret, client_address())


class TokenRequestSchema(Schema):
    grant_type = fields.String(required=True, validate=validate.OneOf(["client_credentials"]))
    client_id = fields.String(required=True, validate=validate.Length(min=1), metadata={
        "description": "`<role>-<code>` (`doctor-<facility>-<code>` for a doctor)",
        "example": "clinic-79001"})
    client_secret = fields.String(required=True, validate=validate.Length(min=1), metadata={
        "description": "shown once when the party was created or its secret rotated"})


class TokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer(metadata={"example": 604800})


def _require_strings(body: dict[str, Any], *names: str) -> list[str]:
    values: list[str] = []
    missing = []
    for name in names:
        value = body.get(name)
        if not isinstance(value, str) or not value:
            missing.append({"pointer": f"/{name}", "code": "request.required",
                            "message": "Bắt buộc, là chuỗi ký tự"})
        else:
            values.append(value)
    if missing:
        raise Invalid(errors=missing)
    return values


@blp.route("/v2/auth/token", methods=["POST"])
@blp.doc(security=[], requestBody={"required": True, "content": {
    "application/json": {"schema": TokenRequestSchema},
    "application/x-www-form-urlencoded": {"schema": TokenRequestSchema}}},
    responses=errors({400: "unsupported grant_type, or a body that cannot be read",
                      401: "unknown client or wrong secret",
                      429: "too many failed logins (`Retry-After`)"}))
@blp.response(200, TokenSchema)
def issue_token() -> Any:
    """Exchange client credentials for an access token (OAuth 2 client credentials)."""
    body = json_object(allow_form=True)
    grant_type, client_id, secret = _require_strings(body, "grant_type", "client_id",
                                                     "client_secret")
    if grant_type != "client_credentials":
        raise UnsupportedGrantType(grant_type)
    party = authenticate_secret(client_id, secret)
    if party is None:
        _audit_login("client_credentials", None, client_id)
        raise Unauthenticated("unknown client or wrong secret")
    g.party = party
    _audit_login("client_credentials", party, client_id)
    return services().tokens.issue(party)


def _audit_login(method: str, party: Party | None, claimed_id: str) -> None:
    services().audit.record_login(method, party=party, claimed_id=claimed_id)


class NationalFacilityLoginSchema(Schema):
    ma_lien_thong_co_so_kham_chua_benh = fields.String(required=True, validate=validate.Length(min=1),
                                                       metadata={"description": "the facility code"})
    password = fields.String(required=True, validate=validate.Length(min=1), metadata={
        "description": "the party's secret (`mat_khau` is accepted in its place)"})


class NationalDoctorLoginSchema(NationalFacilityLoginSchema):
    ma_lien_thong_bac_si = fields.String(required=True, validate=validate.Length(min=1),
                                         metadata={"description": "the doctor's code"})


class NationalTokenSchema(Schema):
    token = fields.String(required=True, metadata={"description": "send as `Authorization: "
                                                                  "Bearer <token>`"})
    token_type = fields.String(required=True, metadata={"enum": ["bearer"]})


class NationalLoginErrorSchema(Schema):
    success = fields.Boolean(required=True, metadata={"enum": [False]})
    error = fields.Dict(required=True, keys=fields.String(), values=fields.List(fields.String()),
                        metadata={"description": "field -> messages (`body` for the request "
                                                 "as a whole)"})


_LOGIN_ERRORS = national_errors(NationalLoginErrorSchema, 413, 415, {
    400: "a field is missing, or the body cannot be read",
    401: "wrong code or secret",
    429: "too many failed logins (`Retry-After`)"})


def _national_login(doctor_field: str | None) -> Any:
    try:
        body = json_object(allow_form=True)
    except (ApiError, HTTPException) as exc:  # the national shape, as for a missing field
        problem = exc if isinstance(exc, ApiError) else from_http_exception(exc)
        messages = [f"[{item['code']}] {item['message']}" for item in problem.errors]
        status = 400 if problem.status == 422 else problem.status
        return jsonify({"success": False, "error": {"body": messages or [
            problem.body()["title"] + (f": {problem.detail}" if problem.detail else "")]}}), status
    # Checked below, each a non-empty string when given.
    facility: Any = body.get("ma_lien_thong_co_so_kham_chua_benh")
    doctor: Any = body.get(doctor_field) if doctor_field else None
    secret: Any = body.get("password", body.get("mat_khau"))
    errors: dict[str, list[str]] = {}
    if not isinstance(facility, str) or not facility:
        errors["ma_lien_thong_co_so_kham_chua_benh"] = ["Bắt buộc"]
    if doctor_field and (not isinstance(doctor, str) or not doctor):
        errors[doctor_field] = ["Bắt buộc"]
    if not isinstance(secret, str) or not secret:
        errors["password"] = ["Bắt buộc"]
    if errors:
        return jsonify({"success": False, "error": errors}), 400
    party = services().parties.find_national(facility, doctor)
    claimed = party.client_id if party else f"{facility}/{doctor}" if doctor else facility
    try:
        # authenticate even for an unknown code, so both misses cost the same.
        authenticated = authenticate_secret(party.client_id if party else claimed, secret)
    except RateLimited as exc:
        return jsonify({"success": False, "error": {"password": [
            "Đăng nhập sai quá nhiều lần, vui lòng thử lại sau"]}}), 429, \
            {"Retry-After": str(exc.retry_after)}
    _audit_login("national_doctor" if doctor_field else "national_facility", authenticated,
                 claimed)
    if authenticated is None:
        return jsonify({"success": False,
                        "error": {"password": ["Sai mã liên thông hoặc mật khẩu"]}}), 401
    g.party = authenticated
    issued = services().tokens.issue(authenticated)
    return jsonify({"token": issued["access_token"], "token_type": "bearer"})


@blp.route("/api/auth/dang-nhap-co-so-kham-chua-benh", methods=["POST"])
@blp.doc(security=[], requestBody={"required": True, "content": {
    "application/json": {"schema": NationalFacilityLoginSchema},
    "application/x-www-form-urlencoded": {"schema": NationalFacilityLoginSchema}}},
    responses=_LOGIN_ERRORS)
@blp.response(200, NationalTokenSchema)
def national_facility_login() -> Any:
    """National facility login (accepts `password` or `mat_khau`)."""
    return _national_login(None)


@blp.route("/api/auth/dang-nhap-bac-si", methods=["POST"])
@blp.doc(security=[], requestBody={"required": True, "content": {
    "application/json": {"schema": NationalDoctorLoginSchema},
    "application/x-www-form-urlencoded": {"schema": NationalDoctorLoginSchema}}},
    responses=_LOGIN_ERRORS)
@blp.response(200, NationalTokenSchema)
def national_doctor_login() -> Any:
    """National doctor login (accepts `password` or `mat_khau`)."""
    return _national_login("ma_lien_thong_bac_si")
