"""Parties over HTTP, for administrators: create, list, read, update, disable, enable, rotate.

The same operations as ``erx-gateway parties …`` for clinics, doctors and pharmacies, so
operators need no database access. Regulators and admins are created and changed only by the
command line on the server (separation of duties: an admin over HTTP can never give itself or
anyone a role that reads prescriptions or the audit trail); over HTTP that is 403. Every change
is an audit event with the administrator as its actor, and so is every refusal (403, 409:
``party.refused``). The caller's credentials are checked against the database, not the party
cache, so a just-disabled or rotated admin has no window. A new or rotated secret is in the
answer once and never stored in plain text.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from gateway.core.errors import DomainError, Forbidden, Invalid, error_item
from gateway.parties.model import ROLES, LastAdmin, Party, Role, UnknownParty, client_id_for
from gateway.web.context import services
from gateway.web.http import json_object
from gateway.web.openapi import errors
from gateway.web.security import current_party, requires

blp = Blueprint("parties", __name__, description="Administrators manage clinics, doctors and "
                "pharmacies (regulators and admins: only the command line on the server)")

#: the roles an administrator manages over HTTP
HTTP_ROLES = ("clinic", "doctor", "pharmacy")
CREATE_FIELDS = ("role", "code", "name", "facility", "address", "phone")
UPDATE_FIELDS = ("name", "address", "phone")
ADMIN_ERRORS = errors({403: "not an administrator, or the party is a regulator or admin "
                              "(managed only by the command line)"})
NO_PARTY = errors({404: "no such party"})


class PartySchema(Schema):
    client_id = fields.String(metadata={"example": "pharmacy-NT0001"})
    role = fields.String(validate=validate.OneOf(ROLES))
    code = fields.String()
    name = fields.String()
    facility = fields.String(allow_none=True)
    status = fields.String(metadata={"enum": ["active", "disabled"]})
    address = fields.String(allow_none=True)
    phone = fields.String(allow_none=True, metadata={"example": "0912345678"})


class PartyCreateSchema(Schema):
    role = fields.String(required=True, validate=validate.OneOf(HTTP_ROLES))
    code = fields.String(required=True, metadata={
        "description": "facility code (clinic, 5 characters), doctor or pharmacy code"})
    name = fields.String(required=True)
    facility = fields.String(metadata={"description": "a doctor's 5-character facility code"})
    address = fields.String(metadata={"description": "postal address; a pharmacy's goes into "
                                                     "its national dispense reports"})
    phone = fields.String(metadata={"description": "national format: 0 or +84, then 9 or 10 "
                                                   "digits"})


class PartyUpdateSchema(Schema):
    name = fields.String()
    address = fields.String()
    phone = fields.String()


class PartySecretSchema(Schema):
    client_id = fields.String()
    client_secret = fields.String(metadata={"description": "shown once"})


class PartyListSchema(Schema):
    items = fields.List(fields.Nested(PartySchema))


def _strings(body: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, str]:
    """The body's fields, each a string; 422 naming every unknown or mistyped field."""
    errors = [error_item(f"/{name}", "request.unknown_field", f"Trường không được hỗ trợ: {name}")
              for name in sorted(set(body) - set(allowed))]
    errors += [error_item(f"/{name}", "request.invalid", "Phải là chuỗi ký tự")
               for name in allowed if name in body and not isinstance(body[name], str)]
    if errors:
        raise Invalid(errors=errors)
    return {name: body[name] for name in allowed if name in body}


def _refused(party: Party, error: DomainError, target: str | None = None) -> None:
    """Audit a refused request to this API (``party.refused``) as ``party``."""
    reason = "last_admin" if isinstance(error, LastAdmin) else (
        "role" if target is None else "cli_only")
    services().audit.record("party.refused", outcome="failure",
                            object_type="party" if target else None, object_id=target,
                            details={"reason": reason, "method": request.method}, actor=party)


def _admin() -> Any:
    """The view decorator of this API: an admin, checked against the database; a refusal is
    audited."""
    return requires("admin", fresh=True, refused=lambda party, error: _refused(party, error))


def _cli_only(role: str, target: str) -> None:
    """403 (audited) when ``role`` is one only the command line manages.

    Raises:
        Forbidden.
    """
    if role in HTTP_ROLES:
        return
    error = Forbidden(f"{role} parties are created and changed only with `erx-gateway parties` "
                      f"on the server; over HTTP an admin manages {', '.join(HTTP_ROLES)}")
    _refused(current_party(), error, target)
    raise error


def _managed(client_id: str) -> Party:
    """The party ``client_id`` names, when this API may change it.

    Raises:
        UnknownParty: no such party; Forbidden: a regulator or admin (audited).
    """
    party = services().parties.fresh(client_id)
    if party is None:
        raise UnknownParty(f"no party {client_id}")
    _cli_only(party.role, client_id)
    return party


def _audit(action: str, party: Party | str, details: dict[str, Any] | None = None) -> None:
    client_id = party if isinstance(party, str) else party.client_id
    services().audit.record(action, object_type="party", object_id=client_id, details=details)


@blp.route("/v2/parties", methods=["POST"])
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": PartyCreateSchema}}},
         responses={**ADMIN_ERRORS, **errors({409: "the role and code are taken",
                                               422: "a field is missing or not acceptable"})})
@blp.response(201, PartySecretSchema)
@_admin()
def create_party() -> Any:
    """Create a party; the answer carries its secret, once."""
    values = _strings(json_object(), CREATE_FIELDS)
    missing = [error_item(f"/{name}", "request.required", "Bắt buộc")
               for name in ("role", "code", "name") if name not in values]
    if missing:
        raise Invalid(errors=missing)
    if values["role"] in ROLES:
        _cli_only(values["role"], client_id_for(values["role"], values["code"],
                                                values.get("facility")))
    party, secret = services().parties.create(**values)
    _audit("party.created", party, {"role": party.role})
    return {"client_id": party.client_id, "client_secret": secret}


@blp.route("/v2/parties", methods=["GET"])
@blp.doc(parameters=[{"in": "query", "name": "role", "schema": {"type": "string", "enum": list(ROLES)}}],
         responses={**ADMIN_ERRORS, **errors({422: "`role` is not a role"})})
@blp.response(200, PartyListSchema)
@_admin()
def list_parties() -> Any:
    """Every party (never a secret), optionally of one role."""
    role = request.args.get("role")
    if role is not None and role not in ROLES:
        raise Invalid("role: expected one of " + ", ".join(ROLES),
                      errors=[{"pointer": "", "parameter": "role", "code": "request.invalid",
                               "message": "Vai trò phải là một trong " + ", ".join(ROLES)}])
    return {"items": [party.public() for party in services().parties.list(role)]}


@blp.route("/v2/parties/<client_id>", methods=["GET"])
@blp.doc(responses={**ADMIN_ERRORS, **NO_PARTY})
@blp.response(200, PartySchema)
@_admin()
def get_party(client_id: str) -> Any:
    """One party (never its secret)."""
    party = services().parties.get(client_id)
    if party is None:
        raise UnknownParty(f"no party {client_id}")
    return party.public()


@blp.route("/v2/parties/<client_id>", methods=["PATCH"])
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": PartyUpdateSchema}}},
         responses={**ADMIN_ERRORS, **NO_PARTY, **errors({422: "a value is not acceptable"})})
@blp.response(200, PartySchema)
@_admin()
def update_party(client_id: str) -> Any:
    """Change a party's name, address or phone."""
    values = _strings(json_object(), UPDATE_FIELDS)
    if not values:
        raise Invalid("give at least one of name, address, phone",
                      errors=[error_item("", "request.required", "Cần ít nhất một trường: "
                                                                 "name, address, phone")])
    _managed(client_id)
    party = services().parties.update(client_id, **values)
    _audit("party.updated", party, {"fields": sorted(values)})
    return party.public()


@blp.route("/v2/parties/<client_id>/disable", methods=["POST"])
@blp.doc(responses={**ADMIN_ERRORS, **NO_PARTY})
@blp.response(200, PartySchema)
@_admin()
def disable_party(client_id: str) -> Any:
    """Disable a party: its tokens and app-key stop working at once."""
    target = services().parties.fresh(client_id)
    if target is not None and target.role == Role.ADMIN:
        try:  # the last enabled admin: 409 says so, rather than the 403 of any other admin
            services().parties.check_can_disable(client_id)
        except LastAdmin as exc:
            _refused(current_party(), exc, client_id)
            raise
    _managed(client_id)
    party = services().parties.set_status(client_id, "disabled")
    _audit("party.disabled", party)
    return party.public()


@blp.route("/v2/parties/<client_id>/enable", methods=["POST"])
@blp.doc(responses={**ADMIN_ERRORS, **NO_PARTY})
@blp.response(200, PartySchema)
@_admin()
def enable_party(client_id: str) -> Any:
    """Enable a disabled party again."""
    _managed(client_id)
    party = services().parties.set_status(client_id, "active")
    _audit("party.enabled", party)
    return party.public()


@blp.route("/v2/parties/<client_id>/rotate-secret", methods=["POST"])
@blp.doc(responses={**ADMIN_ERRORS, **NO_PARTY})
@blp.response(200, PartySecretSchema)
@_admin()
def rotate_party_secret(client_id: str) -> Any:
    """Give a party a new secret (in the answer, once); the old one stops working."""
    _managed(client_id)
    secret = services().parties.rotate_secret(client_id)
    _audit("party.secret_rotated", client_id)
    return {"client_id": client_id, "client_secret": secret}
