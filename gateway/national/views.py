"""National-compatible endpoints (docs/national-api.md): the national paths, bodies and answer
shapes over the same core as the native endpoints, so an HIS or pharmacy client written for
the national system only changes its base URL.

- ``POST /api/v1/gui-don-thuoc`` answers ``{"success", "checksum", "error"}``; ``error`` maps a
  field path (``thong_tin_don_thuoc.1.ma_thuoc``) to its messages, each prefixed by the stable
  rule code in brackets. ``checksum`` is the SHA-256 of the canonical (RFC 8785) document, the
  same as the gateway signature's content hash.
- The pharmacy endpoints accept a bearer token or ``app-name`` / ``app-key`` and answer errors
  as ``{"danh_sach_cac_loi": [...]}``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app, jsonify
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from drug_catalog.errors import CatalogError
from gateway.core.context import services
from gateway.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from gateway.core.http import json_object
from gateway.core.problems import ApiError, to_problem
from gateway.parties.model import Party
from gateway.prescriptions.answers import dispense_answer, idempotent, looked_up, submit_answer, viewed
from gateway.web.security import current_party, requires
from schemas.document import PrescriptionSchema
from schemas.national import to_national, whole
from signing.canonical import canonicalize

blp = Blueprint("national", __name__, description="National-compatible endpoints")

PHARMACY_FIELDS = ("ma_dinh_danh_co_so_cung_ung_thuoc", "ten_co_so_cung_ung_thuoc",
                   "so_dien_thoai_co_so_cung_ung_thuoc", "dia_chi_co_so_cung_ung_thuoc")
PHARMACY_FIELD_MAX = 500
DISPENSE_FIELDS = {"ma_don_thuoc", "thong_tin_thuoc", "ma_dinh_danh_co_so_cung_ung_thuoc",
                   "ten_co_so_cung_ung_thuoc", "so_dien_thoai_co_so_cung_ung_thuoc",
                   "dia_chi_co_so_cung_ung_thuoc", "ma_hoa_don"}
ITEM_FIELDS = {"ma_thuoc_da_ke_don", "ma_thuoc", "biet_duoc", "ten_thuoc", "don_vi_tinh",
               "so_luong", "so_luong_ban", "cach_dung"}


class SubmitAnswerSchema(Schema):
    success = fields.Boolean()
    checksum = fields.String(allow_none=True)
    error = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class PharmacyErrorSchema(Schema):
    danh_sach_cac_loi = fields.List(fields.String())


def field_path(pointer: str) -> str:
    """``/thong_tin_don_thuoc/1/ma_thuoc`` -> ``thong_tin_don_thuoc.1.ma_thuoc``."""
    parts = [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]]
    return ".".join(parts) or "don_thuoc"


def national_error_map(errors: list[dict[str, str]]) -> dict[str, list[str]]:
    mapped: dict[str, list[str]] = {}
    for item in errors:
        mapped.setdefault(field_path(item.get("pointer", "")), []).append(
            f"[{item['code']}] {item['message']}")
    return mapped


def _problem(exc: ApiError | DomainError) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    problem = to_problem(exc)
    assert problem is not None  # every DomainError has an entry in the table
    return problem


def _pharmacy_errors(exc: ApiError | DomainError) -> Any:
    problem = _problem(exc)
    messages = [f"[{item['code']}] {item['message']}" for item in problem.errors] or [
        problem.detail or problem.title]
    return jsonify({"danh_sach_cac_loi": messages}), problem.status


@blp.route("/api/v1/gui-don-thuoc", methods=["POST"])
@blp.doc(requestBody={"required": True, "content": {"application/json": {
    "schema": PrescriptionSchema}}})
@blp.response(200, SubmitAnswerSchema)
@requires("doctor", "clinic")
def gui_don_thuoc() -> Any:
    """Send one prescription (national shape)."""
    party = current_party()
    raw = json_object()
    try:
        response = idempotent("submit", lambda: submit_answer(raw, party))
    except (ApiError, Conflict, Invalid) as exc:
        problem = _problem(exc)
        if problem.status in (409, 422):
            return jsonify({"success": False, "checksum": None,
                            "error": national_error_map(problem.errors) or
                            {"don_thuoc": [problem.detail or problem.title]}}), problem.status
        raise
    if response.status_code >= 400:  # a kept refusal, replayed for the same Idempotency-Key
        body = response.get_json()
        return jsonify({"success": False, "checksum": None,
                        "error": national_error_map(body.get("errors", []))}), response.status_code
    answer = response.get_json()
    # The checksum is the SHA-256 of the RFC 8785 form of the stored document, which the
    # answer carries: no second read of the prescription.
    checksum = hashlib.sha256(canonicalize(answer["prescription"])).hexdigest()
    return jsonify({"success": True, "checksum": checksum, "error": {},
                    "ma_don_thuoc": answer["ma_don_thuoc"]})


@blp.route("/api/v1/thong-tin-don-thuoc/<code>", methods=["GET"])
@blp.doc(security=[{"bearerAuth": []}, {"appKey": []}], parameters=[{
    "in": "path", "name": "code", "required": True, "schema": {"type": "string"},
    "description": "ma_don_thuoc, or the text of the QR code printed on the prescription"}],
    responses={
    "200": {"description": "the national document plus ten_bac_si, ten_co_so_kham_chua_benh, "
                           "so_dien_thoai_co_so_kham_chua_benh, trang_thai, canh_bao (the "
                           "warnings recorded at submission, such as control.overlap, keyed "
                           "by field path like the error of gui-don-thuoc), and per line "
                           "so_luong_da_ban and so_luong_con_lai",
            "content": {"application/json": {"schema": PrescriptionSchema}}},
    "404": {"description": "unknown code", "content": {"application/json": {
        "schema": PharmacyErrorSchema}}},
    "409": {"description": "[qr.content_changed] the prescription changed since it was printed",
            "content": {"application/json": {"schema": PharmacyErrorSchema}}},
    "422": {"description": "[qr.unreadable], [qr.forged] or [qr.not_prescription]: QR text that "
                           "is not a genuine prescription QR",
            "content": {"application/json": {"schema": PharmacyErrorSchema}}}})
@requires("pharmacy")
def thong_tin_don_thuoc(code: str) -> Any:
    """Look a prescription up by its code or its printed QR text (pharmacy, national shape)."""
    party = current_party()
    service = services().lifecycle
    try:
        stored, details = looked_up(code)
    except (NotFound, Invalid, Conflict) as exc:
        return _pharmacy_errors(exc)
    viewed(stored, party, details)
    # The national document through the one mapping, then what a pharmacy also needs.
    answer = to_national(stored["document"], signature=stored.get("prescriber_signature") or "",
                         utc_offset_minutes=current_app.config["RX_UTC_OFFSET_MINUTES"])
    answer.update(_issuer(stored))
    answer["trang_thai"] = service.effective_status(stored)
    answer["canh_bao"] = national_error_map(stored.get("warnings", []))
    answer["thong_tin_don_thuoc"] = [
        {**line, "so_luong_da_ban": whole(state["dispensed"]),
         "so_luong_con_lai": whole(state["prescribed"] - state["dispensed"])}
        for line, state in zip(answer["thong_tin_don_thuoc"], stored["lines"], strict=True)]
    return jsonify(answer)



def _issuer(stored: dict[str, Any]) -> dict[str, str]:
    """Who issued it, from the parties: the prescribing doctor's name (empty when the facility
    itself submitted: the gateway does not know which of its doctors prescribed), the
    facility's name and phone."""
    store = services().parties
    clinic = store.find_national(stored["facility"])
    doctor = store.get(stored["issuer"]) if stored.get("issuer_role") == "doctor" else None
    return {"ten_bac_si": doctor.name if doctor else "",
            "ten_co_so_kham_chua_benh": clinic.name if clinic else "",
            "so_dien_thoai_co_so_kham_chua_benh": (clinic.phone or "") if clinic else ""}


@blp.route("/api/v1/cap-nhat-don-thuoc", methods=["POST"])
@blp.doc(security=[{"bearerAuth": []}, {"appKey": []}])
@blp.response(200, PharmacyErrorSchema)
@requires("pharmacy")
def cap_nhat_don_thuoc() -> Any:
    """Report what was sold against a prescription (pharmacy, national shape)."""
    party = current_party()
    body = json_object()
    try:
        code, native = _native_dispense(body, party)
        response = idempotent(f"dispense\x1f{code}", lambda: dispense_answer(code, party, native))
    except (ApiError, DomainError) as exc:
        return _pharmacy_errors(exc)
    if response.status_code >= 400:
        kept = response.get_json()
        return jsonify({"danh_sach_cac_loi": [f"[{e['code']}] {e['message']}"
                                              for e in kept.get("errors", [])]}), response.status_code
    return jsonify({"success": True, "danh_sach_cac_loi": []})


def _native_dispense(body: dict[str, Any], party: Party) -> tuple[str, dict[str, Any]]:
    """The national dispense report as a native dispense body (lines matched by drug code).

    The pharmacy's own fields are checked, never kept: the gateway reports the pharmacy from
    its party record (docs/national-api.md, "cap-nhat-don-thuoc").

    Raises:
        gateway.core.errors.Invalid: naming the national field.
        gateway.core.errors.Forbidden: the report names another pharmacy.
        gateway.core.errors.NotFound: no such prescription.
    """
    errors = _pharmacy_fields(body, party)
    code = body.get("ma_don_thuoc")
    if not isinstance(code, str) or not code:
        raise Invalid(errors=[{"pointer": "/ma_don_thuoc", "code": "request.required",
                               "message": "Thiếu mã đơn thuốc"}])
    for name in sorted(set(body) - DISPENSE_FIELDS):
        errors.append({"pointer": f"/{name}", "code": "dispense.unknown_field",
                       "message": f"Trường không được hỗ trợ: {name}"})
    stored = services().lifecycle.get(code)
    items = body.get("thong_tin_thuoc")
    if not isinstance(items, list) or not items:
        errors.append({"pointer": "/thong_tin_thuoc", "code": "dispense.items_required",
                       "message": "Cần ít nhất một dòng thuốc bán"})
        items = []
    native_items = []
    for position, item in enumerate(items):
        pointer = f"/thong_tin_thuoc/{position}"
        if not isinstance(item, dict):
            errors.append({"pointer": pointer, "code": "dispense.item",
                           "message": "Dòng thuốc bán phải là đối tượng"})
            continue
        for name in sorted(set(item) - ITEM_FIELDS):
            errors.append({"pointer": f"{pointer}/{name}", "code": "dispense.unknown_field",
                           "message": f"Trường không được hỗ trợ: {name}"})
        prescribed = item.get("ma_thuoc_da_ke_don", item.get("ma_thuoc"))
        line = _line_of(stored, prescribed)
        if line is None:
            errors.append({"pointer": f"{pointer}/ma_thuoc_da_ke_don", "code": "dispense.line",
                           "message": "Thuốc này không có trong đơn"})
            continue
        native_items.append({"line": line, "ma_thuoc": item.get("ma_thuoc") or prescribed,
                             "so_luong_ban": item.get("so_luong_ban")})
    if errors:
        raise Invalid(errors=errors)
    native: dict[str, Any] = {"items": native_items}
    if "ma_hoa_don" in body:
        native["ma_hoa_don"] = body["ma_hoa_don"]
    return code, native


def _pharmacy_fields(body: dict[str, Any], party: Party) -> list[dict[str, str]]:
    """The problems of the report's pharmacy fields: each is a short text, and the
    identifier, when sent, is the caller's own facility code."""
    errors = []
    for name in PHARMACY_FIELDS:
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > PHARMACY_FIELD_MAX):
            errors.append({"pointer": f"/{name}", "code": "dispense.pharmacy_field",
                           "message": f"{name} là chuỗi tối đa {PHARMACY_FIELD_MAX} ký tự"})
    named = body.get("ma_dinh_danh_co_so_cung_ung_thuoc")
    if isinstance(named, str) and named and named != party.code:
        raise Forbidden(f"the report names pharmacy {named}, but the caller is {party.code}",
                        slug="pharmacy-identity", title="The report names another pharmacy",
                        errors=[{"pointer": "/ma_dinh_danh_co_so_cung_ung_thuoc",
                                 "code": "dispense.pharmacy_identity",
                                 "message": "Mã cơ sở cung ứng thuốc khác với nhà thuốc đang đăng "
                                            "nhập"}])
    return errors


def _line_of(stored: dict[str, Any], identifier: Any) -> int | None:
    if not isinstance(identifier, str):
        return None
    for line, submitted in zip(stored["lines"], stored["document"]["thong_tin_don_thuoc"], strict=True):
        if identifier in (line["ma_thuoc"], line.get("submitted_ma_thuoc"),
                          submitted.get("ma_thuoc")):
            return line["index"]
    try:
        national_code = services().lifecycle.catalog.resolve(identifier).national_code
    except CatalogError:  # an unknown identifier simply matches no line
        return None
    return next((line["index"] for line in stored["lines"]
                 if line["ma_thuoc"] == national_code), None)

