"""Access tokens, the role decorator, and the login endpoints (native and national).

Tokens are JWTs (HS256 with ``TOKEN_SECRET``) carrying the client id and role, expiring after
``TOKEN_TTL_SECONDS``. Every authenticated request re-reads the party, so disabling a party
stops its tokens at once. Pharmacy software may instead send the national ``app-name`` /
``app-key`` headers (its client id and secret).
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import jwt
from argon2 import PasswordHasher
from flask import Flask, current_app, g, jsonify, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from gateway.config import secret_setting
from gateway.db import get_db
from gateway.errors import ApiError
from gateway.http import json_object
from gateway.parties import Party, PartyStore

F = TypeVar("F", bound=Callable[..., Any])

TOKEN_ALGORITHM = "HS256"
TOKEN_ISSUER = "erx-gateway"

blp = Blueprint("auth", __name__, description="Parties obtain access tokens")


class TokenService:
    def __init__(self, *, secret: bytes, ttl_seconds: int) -> None:
        self.secret = secret
        self.ttl_seconds = ttl_seconds

    def issue(self, party: Party) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": TOKEN_ISSUER, "sub": party.client_id, "role": party.role,
                  "fac": party.facility, "iat": now, "exp": now + self.ttl_seconds,
                  "jti": uuid.uuid4().hex}
        token = jwt.encode(claims, self.secret, algorithm=TOKEN_ALGORITHM)
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.ttl_seconds}

    def client_id(self, token: str) -> str | None:
        """The client id a valid, unexpired token names, or None."""
        try:
            claims = jwt.decode(token, self.secret, algorithms=[TOKEN_ALGORITHM],
                                issuer=TOKEN_ISSUER, options={"require": ["exp", "sub", "iat"]})
        except jwt.PyJWTError:
            return None
        subject = claims.get("sub")
        return subject if isinstance(subject, str) else None


class _VerifiedKeys:
    """Recently verified ``app-key`` secrets, so a pharmacy does not pay Argon2 per request.

    Holds SHA-256 digests only; party status is still read on every request.
    """

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._seen: dict[tuple[str, bytes], float] = {}
        self._lock = threading.Lock()

    def hit(self, client_id: str, secret: str) -> bool:
        key = (client_id, hashlib.sha256(secret.encode()).digest())
        with self._lock:
            expiry = self._seen.get(key)
            if expiry is not None and expiry > time.monotonic():
                return True
            self._seen.pop(key, None)
            return False

    def remember(self, client_id: str, secret: str) -> None:
        if self.ttl <= 0:
            return
        key = (client_id, hashlib.sha256(secret.encode()).digest())
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[key] = time.monotonic() + self.ttl


def party_store() -> PartyStore:
    return PartyStore(get_db(), hasher=current_app.extensions["erx.hasher"])


def token_service() -> TokenService:
    return current_app.extensions["erx.tokens"]


def authenticate_secret(client_id: str, secret: str) -> Party | None:
    """The active party whose secret this is, or None; past ``LOGIN_FAILURE_LIMIT`` failures
    for this client id and address, 429 instead (gateway.ratelimit)."""
    from gateway.ratelimit import login_limiter

    limiter = login_limiter()
    address = request.remote_addr or ""
    limiter.check(client_id, address)
    party = party_store().authenticate(client_id, secret)
    if party is None:
        limiter.failed(client_id, address)
    return party


def _unauthenticated(detail: str) -> ApiError:
    return ApiError(401, detail=detail, headers={"WWW-Authenticate": 'Bearer realm="erx"'})


def current_party() -> Party:
    """The authenticated party of this request (401 if none)."""
    party = g.get("party")
    if party is not None:
        return party
    header = request.headers.get("Authorization", "")
    store = party_store()
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthenticated("use Authorization: Bearer <token>")
        client_id = token_service().client_id(token.strip())
        if client_id is None:
            raise _unauthenticated("the token is invalid or expired")
        party = store.get(client_id)
    elif "app-name" in request.headers and "app-key" in request.headers:
        client_id, secret = request.headers["app-name"], request.headers["app-key"]
        verified: _VerifiedKeys = current_app.extensions["erx.app_keys"]
        if verified.hit(client_id, secret):
            party = store.get(client_id)
        else:
            party = authenticate_secret(client_id, secret)
            if party is not None:
                verified.remember(client_id, secret)
    else:
        raise _unauthenticated("no credentials: send a bearer token")
    if party is None or not party.active:
        raise _unauthenticated("the party is unknown or disabled")
    g.party = party
    return party


def requires(*roles: str) -> Callable[[F], F]:
    """View decorator: the request must come from an active party with one of ``roles``
    (any role when none are named); 401 without valid credentials, 403 for another role."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            party = current_party()
            if roles and party.role not in roles:
                raise ApiError(403, detail=f"this needs the role {' or '.join(roles)}; "
                                           f"the token is a {party.role}'s")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


class TokenRequestSchema(Schema):
    grant_type = fields.String(required=True, metadata={"example": "client_credentials"})
    client_id = fields.String(required=True)
    client_secret = fields.String(required=True)


class TokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer(metadata={"example": 604800})


def _require_strings(body: dict[str, Any], *names: str) -> list[str]:
    values = []
    missing = []
    for name in names:
        value = body.get(name)
        if not isinstance(value, str) or not value:
            missing.append({"pointer": f"/{name}", "code": "request.required",
                            "message": "Bắt buộc, là chuỗi ký tự"})
        values.append(value)
    if missing:
        raise ApiError(422, errors=missing)
    return values


@blp.route("/v2/auth/token", methods=["POST"])
@blp.doc(security=[], requestBody={"required": True, "content": {
    "application/json": {"schema": TokenRequestSchema},
    "application/x-www-form-urlencoded": {"schema": TokenRequestSchema}}})
@blp.response(200, TokenSchema)
def issue_token() -> Any:
    """Exchange client credentials for an access token (OAuth 2 client credentials)."""
    body = json_object(allow_form=True)
    grant_type, client_id, secret = _require_strings(body, "grant_type", "client_id",
                                                     "client_secret")
    if grant_type != "client_credentials":
        raise ApiError(400, slug="unsupported-grant-type", title="Unsupported grant type",
                       detail="grant_type must be client_credentials")
    party = authenticate_secret(client_id, secret)
    if party is None:
        _audit_login("client_credentials", None, client_id)
        raise _unauthenticated("unknown client or wrong secret")
    g.party = party
    _audit_login("client_credentials", party, client_id)
    return token_service().issue(party)


def _audit_login(method: str, party: Party | None, claimed_id: str) -> None:
    from gateway.audit import record_login  # gateway.audit imports this module

    record_login(method, party=party, claimed_id=claimed_id)


class NationalFacilityLoginSchema(Schema):
    ma_lien_thong_co_so_kham_chua_benh = fields.String(required=True)
    password = fields.String(metadata={"description": "or mat_khau"})


class NationalDoctorLoginSchema(NationalFacilityLoginSchema):
    ma_lien_thong_bac_si = fields.String(required=True)


class NationalTokenSchema(Schema):
    token = fields.String()
    token_type = fields.String(metadata={"example": "bearer"})


def _national_login(doctor_field: str | None) -> Any:
    body = json_object(allow_form=True)
    facility = body.get("ma_lien_thong_co_so_kham_chua_benh")
    doctor = body.get(doctor_field) if doctor_field else None
    secret = body.get("password", body.get("mat_khau"))
    errors: dict[str, list[str]] = {}
    if not isinstance(facility, str) or not facility:
        errors["ma_lien_thong_co_so_kham_chua_benh"] = ["Bắt buộc"]
    if doctor_field and (not isinstance(doctor, str) or not doctor):
        errors[doctor_field] = ["Bắt buộc"]
    if not isinstance(secret, str) or not secret:
        errors["password"] = ["Bắt buộc"]
    if errors:
        return jsonify({"success": False, "error": errors}), 400
    party = party_store().find_national(facility, doctor)
    claimed = party.client_id if party else f"{facility}/{doctor}" if doctor else facility
    try:
        # authenticate even for an unknown code, so both misses cost the same.
        authenticated = authenticate_secret(party.client_id if party else claimed, secret)
    except ApiError as exc:
        if exc.status != 429:
            raise
        return jsonify({"success": False, "error": {"password": [
            "Đăng nhập sai quá nhiều lần, vui lòng thử lại sau"]}}), 429, exc.headers
    _audit_login("national_doctor" if doctor_field else "national_facility", authenticated,
                 claimed)
    if authenticated is None:
        return jsonify({"success": False,
                        "error": {"password": ["Sai mã liên thông hoặc mật khẩu"]}}), 401
    g.party = authenticated
    issued = token_service().issue(authenticated)
    return jsonify({"token": issued["access_token"], "token_type": "bearer"})


@blp.route("/api/auth/dang-nhap-co-so-kham-chua-benh", methods=["POST"])
@blp.doc(security=[], requestBody={"required": True, "content": {
    "application/json": {"schema": NationalFacilityLoginSchema}}})
@blp.response(200, NationalTokenSchema)
def national_facility_login() -> Any:
    """National facility login (accepts `password` or `mat_khau`)."""
    return _national_login(None)


@blp.route("/api/auth/dang-nhap-bac-si", methods=["POST"])
@blp.doc(security=[], requestBody={"required": True, "content": {
    "application/json": {"schema": NationalDoctorLoginSchema}}})
@blp.response(200, NationalTokenSchema)
def national_doctor_login() -> Any:
    """National doctor login (accepts `password` or `mat_khau`)."""
    return _national_login("ma_lien_thong_bac_si")


def init_app(app: Flask) -> None:
    app.extensions["erx.hasher"] = PasswordHasher(
        time_cost=app.config["SECRET_HASH_TIME_COST"],
        memory_cost=app.config["SECRET_HASH_MEMORY_KIB"], parallelism=1)
    app.extensions["erx.tokens"] = TokenService(secret=secret_setting(app.config, "TOKEN_SECRET",
                                                                  keep_as="token-secret"),
                                                ttl_seconds=app.config["TOKEN_TTL_SECONDS"])
    app.extensions["erx.app_keys"] = _VerifiedKeys(app.config["APP_KEY_CACHE_SECONDS"])
