"""The gateway's signatures over HTTP and in the process: key store, signer, JWKS, verification,
and the prescriber-signature policy.

``init_app`` builds, once per process, the :class:`signing.keys.KeyStore` (in
``app.extensions["erx.signer"]``) and the prescriber trust anchors (in
``app.extensions["erx.prescriber_signatures"]``). Other areas call the accessors:

- :func:`signer` — the active :class:`signing.jws.Signer` (``sign_document``, ``sign_detached``);
- :func:`sign_prescription` / :func:`verify_prescription` — a prescription's ``signature``;
- :func:`jwks` — the public key set;
- :func:`check_prescriber` — ``ERX_PRESCRIBER_SIGNATURE`` applied to a normalised document.

In development (``ERX_ENV=development``) a missing key is generated on first use (and by the
``erx-gateway run`` bootstrap), unencrypted when no passphrase is set, with a warning. In
production the app refuses to start without ``ERX_SIGNING_KEY_PASSPHRASE`` or with an
unencrypted active key, and ``/readyz`` fails until ``erx-gateway keys generate`` has run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cryptography import x509
from flask import Flask, Response, current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from pymongo import IndexModel
from pymongo.errors import PyMongoError

from gateway import supervisor
from gateway.auth import requires
from gateway.config import ConfigError
from gateway.db import indexes
from gateway.errors import ApiError
from gateway.http import json_object
from gateway.ops import add_readiness_check
from signing.errors import (KeyStoreError, NoActiveKey, TrustAnchorError, VerificationError)
from signing.jws import Signer, verify_document
from signing.keys import COLLECTION, KeyPolicy, KeyStore
from signing.prescriber import (PrescriberSignature, check_prescriber_signature,
                                load_trust_anchors)

log = logging.getLogger(__name__)

blp = Blueprint("signatures", __name__, description="The gateway's signatures: public keys "
                "and verification")

_ALGORITHMS = {"eddsa": "EdDSA", "es256": "ES256"}


@indexes
def _indexes() -> dict[str, list[IndexModel]]:
    return {COLLECTION: [IndexModel([("state", 1), ("created_at", -1)], name="state_created")]}


@dataclass(frozen=True)
class PrescriberSignaturePolicy:
    """``ERX_PRESCRIBER_SIGNATURE`` and its trust anchors, loaded once per process."""

    policy: str
    anchors: tuple[x509.Certificate, ...]
    clock_skew: timedelta


def key_policy(config: Mapping[str, Any]) -> KeyPolicy:
    """The key store's policy from the settings.

    Raises:
        ConfigError: ``SIGNING_ALG`` is not EdDSA or ES256.
    """
    alg = _ALGORITHMS.get(str(config["SIGNING_ALG"]).lower())
    if alg is None:
        raise ConfigError(f"ERX_SIGNING_ALG: expected EdDSA or ES256, got {config['SIGNING_ALG']!r}")
    passphrase = config["SIGNING_KEY_PASSPHRASE"]
    return KeyPolicy(algorithm=alg, passphrase=passphrase.encode("utf-8") if passphrase else None,
                     production=config["ENV"] == "production",
                     refresh_seconds=float(config["SIGNING_KEY_REFRESH_SECONDS"]))


def build_key_store(app: Flask) -> KeyStore:
    """A key store on the app's database.

    Raises:
        ConfigError: production without a passphrase, or an unknown algorithm.
    """
    database = app.extensions["erx.storage"].database
    try:
        return KeyStore(database[COLLECTION], policy=key_policy(app.config))
    except KeyStoreError as exc:
        raise ConfigError(exc.message) from None


def init_app(app: Flask) -> None:
    """Build the key store and the prescriber-signature policy; refuse unsafe production set-ups.

    Raises:
        ConfigError: production without ``ERX_SIGNING_KEY_PASSPHRASE``, with an unencrypted
            active key, or requiring prescriber signatures without trust anchors; an unreadable
            trust-anchor file.
    """
    store = build_key_store(app)
    production = app.config["ENV"] == "production"
    if not store.policy.passphrase:
        log.warning("ERX_SIGNING_KEY_PASSPHRASE is not set: signing keys are stored UNENCRYPTED "
                    "(development mode only)")
    if production:
        try:
            store.signer()
        except KeyStoreError as exc:
            if exc.reason in {"unencrypted_key", "bad_passphrase", "corrupt_key"}:
                raise ConfigError(f"signing key: {exc.message}") from None
            log.warning("no usable signing key yet (%s): /readyz fails until "
                        "`erx-gateway keys generate` has run", exc.reason)
        except PyMongoError:
            log.warning("the database does not answer: the signing key is checked when it does")
    app.extensions["erx.signer"] = store
    app.extensions["erx.prescriber_signatures"] = _prescriber_policy(app.config, production)
    add_readiness_check(app, "signing_key", _signing_key_ready)


def _prescriber_policy(config: Mapping[str, Any], production: bool) -> PrescriberSignaturePolicy:
    try:
        anchors = tuple(load_trust_anchors(config["PRESCRIBER_TRUST_ANCHORS"]))
    except TrustAnchorError as exc:
        raise ConfigError(f"ERX_PRESCRIBER_TRUST_ANCHORS: {exc}") from None
    policy = config["PRESCRIBER_SIGNATURE"]
    if policy != "off" and not anchors:
        if production and policy == "required":
            raise ConfigError("ERX_PRESCRIBER_SIGNATURE=required needs "
                              "ERX_PRESCRIBER_TRUST_ANCHORS (the national root CA)")
        log.warning("no ERX_PRESCRIBER_TRUST_ANCHORS: every signed prescription will be refused "
                    "(untrusted_chain)")
    return PrescriberSignaturePolicy(policy, anchors,
                                     timedelta(seconds=float(config["PRESCRIBER_CLOCK_SKEW_SECONDS"])))


def _signing_key_ready() -> bool:
    try:
        signer()
    except (KeyStoreError, PyMongoError) as exc:
        log.warning("signing key not ready: %s", exc)
        return False
    return True


# --- accessors ---------------------------------------------------------------------------------
def key_store() -> KeyStore:
    return current_app.extensions["erx.signer"]


def signer() -> Signer:
    """The active signer. In development a missing key is generated (with a warning).

    Raises:
        signing.errors.NoActiveKey: production and no key yet.
        signing.errors.KeyStoreError: the key cannot be used (passphrase, production rules).
    """
    store = key_store()
    try:
        return store.signer()
    except NoActiveKey:
        if store.policy.production:
            raise
    record = store.ensure_active_key()
    if record is not None:
        log.warning("development: generated signing key %s (%s)", record.kid, record.alg)
    return store.signer()


def jwks() -> dict[str, Any]:
    """Every public key that ever signed (active and retired)."""
    return key_store().jwks()


def sign_prescription(prescription: Mapping[str, Any]) -> dict[str, str]:
    """The ``signature`` object of a prescription resource: ``{"alg", "kid", "jws"}``.

    Raises:
        signing.errors.CanonicalizationError: the document has no canonical form.
        signing.errors.KeyStoreError: no usable signing key.
    """
    return signer().sign_document(prescription)


def verify_prescription(prescription: Mapping[str, Any], jws: str) -> str:
    """Verify a prescription resource's ``signature.jws`` over its ``prescription``; the kid.

    Raises:
        signing.errors.VerificationError: with its reason.
    """
    return key_store().verify_document(prescription, jws)


def check_prescriber(document: Mapping[str, Any], *, now: datetime | None = None
                     ) -> PrescriberSignature | None:
    """Apply ``ERX_PRESCRIBER_SIGNATURE`` to a normalised prescription document.

    Raises:
        signing.errors.PrescriberSignatureError: missing (when required) or invalid; the
            error handler answers 422 ``signature.prescriber_invalid`` at ``/signature``.
    """
    config: PrescriberSignaturePolicy = current_app.extensions["erx.prescriber_signatures"]
    return check_prescriber_signature(document, config.policy, config.anchors,
                                      now or datetime.now(timezone.utc),
                                      clock_skew=config.clock_skew)


# --- offline verification (erx-gateway verify) --------------------------------------------------
def load_jwks(source: str, *, timeout: float) -> dict[str, Any]:
    """A JWK Set from a file path or an http(s) URL.

    Raises:
        ValueError: unreadable, not JSON, or not ``{"keys": [...]}``.
    """
    if source.startswith(("http://", "https://")):
        import requests

        try:
            response = requests.get(source, timeout=timeout)
            response.raise_for_status()
            data = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise ValueError(f"cannot fetch the key set from {source}: {exc}") from None
    else:
        try:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the key set {source}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError(f"{source} is not a key set (a JWK Set: {{\"keys\": [...]}})")
    return data


def verify_saved(resource: Mapping[str, Any], key_set: Mapping[str, Any]) -> dict[str, Any]:
    """Verify a saved prescription resource (or a ``{"prescription", "jws"}`` body) offline.

    Returns ``{"valid", "kid", "reason", "message"}``.

    Raises:
        ValueError: the JSON has neither shape.
    """
    prescription = resource.get("prescription")
    signature = resource.get("signature")
    jws = signature.get("jws") if isinstance(signature, Mapping) else resource.get("jws")
    if not isinstance(prescription, Mapping) or not isinstance(jws, str):
        raise ValueError("expected a prescription resource with `prescription` and "
                         "`signature.jws` (or a body with `prescription` and `jws`)")
    try:
        kid = verify_document(prescription, jws, key_set)
    except VerificationError as exc:
        return {"valid": False, "kid": exc.kid, "reason": exc.reason, "message": exc.message}
    return {"valid": True, "kid": kid, "reason": None, "message": "the signature is valid"}


# --- development bootstrap (erx-gateway run) -----------------------------------------------------
def bootstrap_signing_key(app: Flask) -> None:
    """``erx-gateway run``: in development, generate a signing key when there is none."""
    store: KeyStore = app.extensions["erx.signer"]
    if store.policy.production:
        return
    record = store.ensure_active_key()
    if record is not None:
        log.warning("development: generated signing key %s (%s)", record.kid, record.alg)


supervisor.BOOTSTRAP.append(bootstrap_signing_key)


# --- HTTP -----------------------------------------------------------------------------------------
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
    jws = fields.String(required=True, metadata={
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
    try:
        key_set = jwks()
    except PyMongoError:
        raise ApiError(503, detail="the key set is unavailable") from None
    response = Response(json.dumps(key_set), mimetype="application/jwk-set+json")
    response.headers["Cache-Control"] = f"public, max-age={int(key_store().policy.refresh_seconds)}"
    return response


@blp.route("/v2/signatures/verify", methods=["POST"])
@blp.doc(requestBody={"required": True, "content": {
    "application/json": {"schema": VerifyRequestSchema}}})
@blp.response(200, VerifyResultSchema)
@requires()
def verify_signature() -> Any:
    """Verify a prescription's gateway signature (valid, kid, and the reason when not)."""
    body = json_object()
    prescription, jws = body.get("prescription"), body.get("jws")
    errors = []
    if not isinstance(prescription, dict):
        errors.append({"pointer": "/prescription", "code": "request.required",
                       "message": "Bắt buộc, là đối tượng JSON (prescription của đơn thuốc)"})
    if not isinstance(jws, str) or not jws:
        errors.append({"pointer": "/jws", "code": "request.required",
                       "message": "Bắt buộc, là chuỗi JWS (signature.jws của đơn thuốc)"})
    if errors:
        raise ApiError(422, errors=errors)
    try:
        kid = verify_prescription(prescription, jws)
    except VerificationError as exc:
        return {"valid": False, "kid": exc.kid, "reason": exc.reason}
    return {"valid": True, "kid": kid, "reason": None}
