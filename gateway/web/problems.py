"""The one error envelope, RFC 9457 ``application/problem+json``, and the one table that maps
domain errors to it.

Every native endpoint, and every framework error (404, 405, 413, 415, 500), answers::

    {"type": "urn:erx:problem:validation", "title": "...", "status": 422,
     "errors": [{"pointer": "/thong_tin_don_thuoc/1/ma_thuoc", "code": "drug.unknown",
                 "message": "..."}]}

Services raise domain errors (:mod:`gateway.core.errors`, ``signing.errors``,
``drug_catalog.errors``), one class per failure and carrying domain data only; the table
:data:`PROBLEMS` gives each class its problem type here: a stable code (the ``<slug>`` of
``urn:erx:problem:<slug>``, which also keys its titles in :data:`TITLES`) and an HTTP status,
so HTTP stays at the edge. What an answer says beyond its type comes from the error itself
(:func:`particulars`). Another face (the national one, FHIR) reuses the same two look-ups,
:func:`problem_type` and :func:`particulars`, and words them in its own shape. Views raise
:class:`ApiError` for what is wrong with the HTTP request itself. No answer carries a stack
trace: an unexpected exception is logged with its trace and answered with a
bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, has_request_context, json, request
from marshmallow import Schema, fields
from pymongo.errors import ConnectionFailure
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from drug_catalog.errors import AmbiguousIdentifier, BadCheckDigit, InvalidGs1, InvalidIdentifier, UnknownDrug
from drug_catalog.store import CatalogUnavailable
from gateway.core.errors import (
    ClaimLapsed,
    Conflict,
    DispenseLimit,
    DomainError,
    Forbidden,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    Invalid,
    LoginBusy,
    Malformed,
    NotCancellable,
    NotDispensable,
    NotFound,
    NotNominated,
    OverQuantity,
    PersonBusy,
    PharmacyContactMissing,
    PharmacyIdentity,
    PrescriptionExists,
    QrContentChanged,
    QrNotGenuine,
    RateLimited,
    Refused,
    SerialReused,
    Unauthenticated,
    Unavailable,
    UnsupportedGrantType,
    error_item,
)
from gateway.core.messages import bilingual, detail_in_vietnamese, item_in_english, preferred_language
from gateway.core.reasons import (
    catalog_reason_in_vietnamese,
    prescriber_signature_item,
    signature_reason_in_vietnamese,
)
from signing.errors import KeyStoreError, PrescriberSignatureError, VerificationError

log = logging.getLogger(__name__)

PROBLEM_TYPE_PREFIX = "urn:erx:problem:"
PROBLEM_MEDIA_TYPE = "application/problem+json"

_TITLES = {
    400: "malformed",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "too-large",
    414: "uri-too-long",
    415: "unsupported-media-type",
    422: "validation",
    429: "rate-limited",
    431: "headers-too-large",
    500: "internal",
    503: "unavailable",
}
#: Every problem type's title, (Vietnamese, English); the language is chosen by Accept-Language.
TITLES: dict[str, tuple[str, str]] = {
    "malformed": ("Yêu cầu không đúng định dạng", "The request is malformed"),
    "unauthenticated": ("Cần xác thực", "Authentication is required"),
    "forbidden": ("Bên gọi không được phép làm việc này", "This party may not do that"),
    "not-found": ("Không tìm thấy", "Not found"),
    "method-not-allowed": ("Phương thức không được hỗ trợ", "Method not allowed"),
    "not-acceptable": ("Không có định dạng trả lời phù hợp", "No acceptable representation"),
    "conflict": ("Xung đột với trạng thái hiện tại", "The request conflicts with the current state"),
    "too-large": ("Nội dung yêu cầu quá lớn", "The request body is too large"),
    "uri-too-long": ("Địa chỉ (URL) quá dài", "The URL is too long"),
    "unsupported-media-type": ("Nội dung yêu cầu phải là JSON", "The request body must be JSON"),
    "validation": ("Nội dung yêu cầu không hợp lệ", "The request content is invalid"),
    "rate-limited": ("Quá nhiều yêu cầu", "Too many requests"),
    "headers-too-large": ("Tiêu đề (header) yêu cầu quá lớn", "The request header fields are too large"),
    "internal": ("Lỗi hệ thống", "Internal error"),
    "unavailable": ("Dịch vụ tạm thời không phục vụ được", "Service unavailable"),
    "unsupported-grant-type": ("grant_type không được hỗ trợ", "Unsupported grant type"),
    "prescription-exists": ("Mã đơn thuốc đã có với nội dung khác",
                            "The prescription code exists with other content"),
    "qr-content-changed": ("Đơn thuốc đã thay đổi từ khi được in",
                           "The prescription changed since it was printed"),
    "qr-refused": ("Mã QR không phải mã QR đơn thuốc thật",
                   "The QR code is not a genuine prescription QR"),
    "not-cancellable": ("Không thể hủy đơn thuốc", "The prescription cannot be cancelled"),
    "pharmacy-contact-missing": ("Thiếu địa chỉ hoặc số điện thoại của nhà thuốc",
                                 "The pharmacy's contact details are missing"),
    "over-quantity": ("Vượt số lượng đã kê", "More than was prescribed"),
    "not-dispensable": ("Đơn thuốc không thể bán", "The prescription cannot be dispensed"),
    "serial-reused": ("Hộp thuốc đã được bán trước đó", "A pack was dispensed before"),
    "idempotency-key-reused": ("Idempotency-Key đã dùng cho yêu cầu khác",
                               "The Idempotency-Key was used for another request"),
    "idempotency-in-progress": ("Yêu cầu cùng Idempotency-Key đang được xử lý",
                                "A request with this Idempotency-Key is in progress"),
    "database-unavailable": ("Cơ sở dữ liệu tạm thời không truy cập được",
                             "The database is unavailable"),
    "dispense-limit": ("Đơn thuốc đã bán quá số lần cho phép", "Too many dispenses"),
    "login-busy": ("Quá nhiều lượt đăng nhập cùng lúc", "Too many logins at once"),
    "not-nominated": ("Đơn thuốc chỉ định nhà thuốc khác", "Another pharmacy is nominated"),
    "pharmacy-identity": ("Báo cáo ghi tên nhà thuốc khác", "The report names another pharmacy"),
}
def status_problem(status: int, lang: str = "vi") -> tuple[str, str]:
    """The problem type (``urn:erx:problem:…``) and title, in ``lang``, of an answer that has
    only its HTTP status (a refusal by the HTTP server before any view runs): the status's own
    type, else ``malformed`` for a 4xx and ``internal`` for a 5xx."""
    slug = _TITLES.get(status, "malformed" if status < 500 else "internal")
    vi, en = TITLES[slug]
    return PROBLEM_TYPE_PREFIX + slug, vi if lang == "vi" else en


def language() -> str:
    """``vi`` or ``en``: the request's ``Accept-Language`` choice, Vietnamese by default."""
    if not has_request_context():
        return "vi"
    return preferred_language(request.accept_languages)


class ApiError(Exception):
    """An answer in the problem envelope, raised anywhere under a view."""

    def __init__(self, status: int, *, title: str | None = None, slug: str | None = None,
                 detail: str | None = None, errors: Iterable[Mapping[str, Any]] | None = None,
                 headers: Mapping[str, str] | None = None, detail_vi: str | None = None,
                 **extra: Any) -> None:
        self.status = status
        self.slug = slug or _TITLES.get(status, "error")
        self.title = title or TITLES.get(self.slug, TITLES.get(_TITLES.get(status, ""), ("Lỗi", "Error")))[1]
        self.detail = detail
        self.detail_vi = detail_vi
        self.errors = [dict(item) for item in errors] if errors else []
        self.headers = dict(headers or {})
        self.extra = extra
        super().__init__(self.detail or self.title)

    def body(self, lang: str | None = None) -> dict[str, Any]:
        """The problem in ``lang`` (default: the request's): the title from :data:`TITLES`
        (the raiser's own English title when the type has none), the Vietnamese detail when
        there is one, else the English one."""
        lang = lang or language()
        vi, en = TITLES.get(self.slug) or TITLES.get(_TITLES.get(self.status, ""), ("Lỗi", "Error"))
        if self.slug not in TITLES:
            en = self.title
        body: dict[str, Any] = {"type": PROBLEM_TYPE_PREFIX + self.slug,
                                "title": vi if lang == "vi" else en, "status": self.status}
        detail = self.detail
        if lang == "vi" and detail:
            detail = self.detail_vi or detail_in_vietnamese(detail) or detail
        if detail:
            body["detail"] = detail
        if self.errors:
            body["errors"] = [localized(item, lang) for item in self.errors]
        body.update(self.extra)
        if body.get("warnings"):
            body["warnings"] = [localized(item, lang) for item in body["warnings"]]
        request_id = g.get("request_id") if g else None
        if request_id:
            body["request_id"] = request_id
        return body

    def response(self) -> Response:
        lang = language()
        response = Response(json.dumps(self.body(lang), ensure_ascii=False), status=self.status,
                            mimetype=PROBLEM_MEDIA_TYPE)
        response.headers["Content-Language"] = lang
        for name, value in self.headers.items():
            response.headers[name] = value
        return response


def localized(item: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """An item with its message in ``lang`` when it has one in English (``_en``)."""
    shown = {key: value for key, value in item.items() if key != "_en"}
    if lang == "en":
        english = item.get("_en") or item_in_english(str(item.get("message", "")))
        if english:
            shown["message"] = english
    return shown


class ProblemItemSchema(Schema):
    pointer = fields.String(required=True, metadata={
        "description": "JSON pointer (RFC 6901) into the request body; empty for a parameter"})
    code = fields.String(required=True, metadata={
        "description": "stable machine code (docs/rules.md, docs/api-guide.md)",
        "example": "drug.unknown"})
    message = fields.String(required=True, metadata={
        "description": "message for a person: Vietnamese, or English when `Accept-Language` "
                       "prefers it"})
    parameter = fields.String(metadata={
        "description": "the query or path parameter at fault, when it is not the body"})
    reason = fields.String(metadata={
        "description": "signature problems: why the signature was refused (README "
                       "\"Signatures\")"})


class ProblemSchema(Schema):
    """RFC 9457 problem details (``application/problem+json``)."""

    type = fields.String(required=True, metadata={
        "description": "problem type, a URN: `urn:erx:problem:<slug>`",
        "example": "urn:erx:problem:validation"})
    title = fields.String(required=True, metadata={
        "description": "the type's title in the language `Accept-Language` chose (Vietnamese "
                       "by default, English on `Accept-Language: en`)"})
    status = fields.Integer(required=True, metadata={"example": 422})
    detail = fields.String(metadata={"description": "explanation of this occurrence"})
    request_id = fields.String(metadata={"description": "the request's X-Request-ID"})
    errors = fields.List(fields.Nested(ProblemItemSchema), metadata={
        "description": "every problem found, each with its pointer and stable code"})
    warnings = fields.List(fields.Nested(ProblemItemSchema), metadata={
        "description": "a refused prescription: the warnings it would also have had"})
    expected_check_digit = fields.Integer(metadata={
        "description": "`drug.gtin_check_digit`: the digit the other digits call for"})
    national_codes = fields.List(fields.String(), metadata={
        "description": "`drug.ambiguous`: the products the identifier names"})
    ma_don_thuoc = fields.String(metadata={
        "description": "`qr.*`: the prescription code the QR text claims"})


def from_http_exception(exc: HTTPException) -> ApiError:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    errors = []
    if status == 422 and "messages" in data:  # webargs / flask-smorest argument validation
        errors = list(_webargs_errors(data["messages"]))
    headers = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(exc.valid_methods)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    detail = None if status >= 500 else _safe_description(exc)
    return ApiError(status, detail=detail, errors=errors, headers=headers)


def _safe_description(exc: HTTPException) -> str | None:
    description = getattr(exc, "description", None)
    if not description or description == type(exc).description:
        return None
    return str(description)


def _webargs_errors(messages: Mapping[str, Any], prefix: str = "") -> Iterable[dict[str, str]]:
    for location, tree in messages.items():
        # The first level is the location (json, query, headers): not part of the pointer.
        yield from _walk(tree, prefix, location)


def _walk(tree: Any, pointer: str, location: str) -> Iterable[dict[str, str]]:
    if isinstance(tree, Mapping):
        for key, sub in tree.items():
            yield from _walk(sub, f"{pointer}/{_escape(str(key))}", location)
    elif isinstance(tree, list) and tree and all(isinstance(item, str) for item in tree):
        for message in tree:
            yield _item(pointer, location, message)
    elif isinstance(tree, list):
        for index, sub in enumerate(tree):
            yield from _walk(sub, f"{pointer}/{index}", location)
    else:
        yield _item(pointer, location, str(tree))


def _item(pointer: str, location: str, message: str) -> dict[str, str]:
    """One webargs message as an item in the request's language (Vietnamese by default)."""
    code = "request.unknown_field" if message == "Unknown field." else "request.invalid"
    vi, en = bilingual(message)
    item: dict[str, str] = {**error_item(pointer or "/", code, vi), "_en": en}
    if location != "json":
        item["parameter"] = pointer.lstrip("/")
    return item


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def handle_exception(exc: Exception) -> Response:
    """The single handler: ApiError, domain errors, HTTP errors, unexpected errors."""
    if isinstance(exc, ApiError):
        return exc.response()
    problem = to_problem(exc)
    if problem is not None:
        return problem.response()
    if isinstance(exc, InternalServerError):
        original = exc.original_exception or exc
        problem = to_problem(original) if original is not exc else None
        if problem is not None:
            return problem.response()
        log.error("unhandled exception", exc_info=(type(original), original, original.__traceback__))
        return ApiError(500).response()
    if isinstance(exc, HTTPException):
        return from_http_exception(exc).response()
    raise exc  # not ours: Flask turns it into InternalServerError and calls us again


def init_app(app: Flask, *, faces: Mapping[str, Callable[[Exception], Any]] | None = None) -> None:
    """Answer every error with :func:`handle_exception`, or, under a blueprint named in
    ``faces``, with that face's own renderer (the national face's shapes: the composition root
    passes them, so no blueprint registers handlers at import time)."""
    renderers = dict(faces or {})

    def answer(exc: Exception) -> Any:
        render = renderers.get(request.blueprint or "", handle_exception)
        return render(exc)

    app.register_error_handler(ApiError, answer)
    app.register_error_handler(HTTPException, answer)
    for exc_type in PROBLEMS:
        app.register_error_handler(exc_type, answer)


@dataclass(frozen=True)
class ProblemType:
    """What the edge calls one failure: ``slug``, its stable code (``urn:erx:problem:<slug>``
    and the key of its titles in :data:`TITLES`), and its HTTP ``status``."""

    slug: str
    status: int


@dataclass
class Particulars:
    """What an answer says of one occurrence beyond its type: a ``detail`` in English, the
    ``errors`` items, members of its own (``ma_don_thuoc``, ``warnings``...) and headers."""

    detail: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    members: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    #: The detail in Vietnamese when it is a library's text (the table of details lacks it).
    detail_vi: str | None = None


# The one table from failures to problem types. A subclass not listed takes its nearest
# listed base class's entry (the look-up walks the MRO).
PROBLEMS: dict[type[Exception], ProblemType] = {
    # the kinds of domain failure
    Malformed: ProblemType("malformed", 400),
    Unauthenticated: ProblemType("unauthenticated", 401),
    Forbidden: ProblemType("forbidden", 403),
    NotFound: ProblemType("not-found", 404),
    Conflict: ProblemType("conflict", 409),
    Invalid: ProblemType("validation", 422),
    RateLimited: ProblemType("rate-limited", 429),
    Unavailable: ProblemType("unavailable", 503),
    # the failures with a type of their own
    UnsupportedGrantType: ProblemType("unsupported-grant-type", 400),
    LoginBusy: ProblemType("login-busy", 429),
    Refused: ProblemType("validation", 422),
    PrescriptionExists: ProblemType("prescription-exists", 409),
    QrContentChanged: ProblemType("qr-content-changed", 409),
    QrNotGenuine: ProblemType("qr-refused", 422),
    NotCancellable: ProblemType("not-cancellable", 409),
    NotDispensable: ProblemType("not-dispensable", 409),
    OverQuantity: ProblemType("over-quantity", 409),
    SerialReused: ProblemType("serial-reused", 409),
    DispenseLimit: ProblemType("dispense-limit", 409),
    PharmacyContactMissing: ProblemType("pharmacy-contact-missing", 409),
    NotNominated: ProblemType("not-nominated", 403),
    PharmacyIdentity: ProblemType("pharmacy-identity", 403),
    IdempotencyKeyReused: ProblemType("idempotency-key-reused", 409),
    PersonBusy: ProblemType("unavailable", 503),
    ClaimLapsed: ProblemType("unavailable", 503),
    IdempotencyInProgress: ProblemType("idempotency-in-progress", 409),
    # the libraries' errors
    PrescriberSignatureError: ProblemType("validation", 422),
    VerificationError: ProblemType("validation", 422),
    KeyStoreError: ProblemType("unavailable", 503),
    UnknownDrug: ProblemType("not-found", 404),
    BadCheckDigit: ProblemType("validation", 422),
    InvalidIdentifier: ProblemType("validation", 422),
    AmbiguousIdentifier: ProblemType("validation", 422),
    InvalidGs1: ProblemType("validation", 422),
    CatalogUnavailable: ProblemType("unavailable", 503),
    ConnectionFailure: ProblemType("database-unavailable", 503),
}


def _lookup(table: Mapping[Any, Any], exc: BaseException) -> Any:
    for exc_type in type(exc).__mro__:
        if exc_type in table:
            return table[exc_type]
    return None


def problem_type(exc: BaseException) -> ProblemType | None:
    """The problem type of a failure (None for any other exception)."""
    found: ProblemType | None = _lookup(PROBLEMS, exc)
    return found


def _domain(exc: DomainError) -> Particulars:
    return Particulars(detail=exc.detail, errors=exc.errors)


def _retry_after(exc: RateLimited | IdempotencyInProgress | PersonBusy | ClaimLapsed
                 ) -> Particulars:
    return Particulars(detail=exc.detail, errors=exc.errors,
                       headers={"Retry-After": str(exc.retry_after)})


def _unauthenticated(exc: Unauthenticated) -> Particulars:
    return Particulars(detail=exc.detail, errors=exc.errors,
                       headers={"WWW-Authenticate": 'Bearer realm="erx"'})


def _refused(exc: Refused) -> Particulars:
    return Particulars(errors=exc.errors, members={"warnings": exc.warnings})


def _qr_content_changed(exc: QrContentChanged) -> Particulars:
    return Particulars(detail=exc.detail, errors=exc.errors,
                       members={"ma_don_thuoc": exc.prescription})


def _prescriber_signature_invalid(exc: PrescriberSignatureError) -> Particulars:
    return Particulars(errors=[prescriber_signature_item(exc)])


def _gateway_signature_invalid(exc: VerificationError) -> Particulars:
    said = signature_reason_in_vietnamese(exc.reason, exc.message)
    item = error_item("/signature", "signature.invalid",
                      f"Chữ ký số của cổng không hợp lệ ({exc.reason}): {said}")
    item.update({"reason": exc.reason, "_en": f"the gateway's digital signature is not valid "
                                              f"({exc.reason}): {exc.message}"})
    return Particulars(errors=[item])


def _signing_key_unavailable(exc: KeyStoreError) -> Particulars:
    log.error("signing key unavailable: %s", exc)
    return Particulars(detail="the signing key is unavailable")


def _identifier_item(code: str, message: str) -> dict[str, str]:
    item = error_item("", code, message)
    item["parameter"] = "identifier"
    return item


def _unknown_drug(exc: UnknownDrug) -> Particulars:
    return Particulars(detail=str(exc), detail_vi=catalog_reason_in_vietnamese(str(exc)),
                       errors=[_identifier_item("drug.unknown", "Mã thuốc không có trong danh mục")])


def _bad_check_digit(exc: BadCheckDigit) -> Particulars:
    return Particulars(
        detail=f"the GTIN's check digit is {exc.found}; the other digits call for "
               f"{exc.expected}: a typing error?",
        errors=[_identifier_item(
            "drug.gtin_check_digit",
            f"Chữ số kiểm tra của GTIN sai: là {exc.found}, phải là {exc.expected}")],
        members={"expected_check_digit": exc.expected})


def _invalid_identifier(exc: InvalidIdentifier) -> Particulars:
    said = catalog_reason_in_vietnamese(exc.reason)
    item = _identifier_item("drug.identifier", f"Mã định danh thuốc không hợp lệ: {said}")
    item["_en"] = f"not a valid drug identifier: {exc.reason}"
    return Particulars(detail=exc.reason, detail_vi=said, errors=[item])


def _ambiguous_identifier(exc: AmbiguousIdentifier) -> Particulars:
    return Particulars(detail=str(exc), detail_vi=catalog_reason_in_vietnamese(str(exc)),
                       errors=[_identifier_item(
        "drug.ambiguous", f"Mã này trỏ đến nhiều thuốc: {', '.join(exc.national_codes)}")],
        members={"national_codes": list(exc.national_codes)})


def _invalid_gs1(exc: InvalidGs1) -> Particulars:
    said = catalog_reason_in_vietnamese(exc.reason)
    item = error_item("", "pack.gs1", f"Mã GS1 của hộp thuốc không đọc được: {said}")
    item["_en"] = f"the pack's GS1 code cannot be read: {exc.reason}"
    return Particulars(detail=exc.reason, detail_vi=said, errors=[item])


def _catalog_unavailable(exc: CatalogUnavailable) -> Particulars:
    log.error("drug catalog unavailable: %s", exc)
    return Particulars(detail="the drug catalog is unavailable")


#: seconds a client is told to wait when the database cannot be reached
DATABASE_RETRY_AFTER = 5


def _database_unavailable(exc: ConnectionFailure) -> Particulars:
    log.error("database unavailable: %s", type(exc).__name__)
    return Particulars(
        detail="the gateway cannot reach its database; nothing was changed that is not "
               "reported, retry shortly (an Idempotency-Key makes the retry safe)",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
        errors=[error_item("", "service.database_unavailable",
                           "Cơ sở dữ liệu tạm thời không truy cập được, vui lòng thử lại sau")])


# How each failure's particulars are read from it (the nearest listed class, like PROBLEMS).
_PARTICULARS: dict[type[Exception], Callable[[Any], Particulars]] = {
    DomainError: _domain,
    RateLimited: _retry_after,
    IdempotencyInProgress: _retry_after,
    PersonBusy: _retry_after,
    ClaimLapsed: _retry_after,
    Unauthenticated: _unauthenticated,
    Refused: _refused,
    QrContentChanged: _qr_content_changed,
    PrescriberSignatureError: _prescriber_signature_invalid,
    VerificationError: _gateway_signature_invalid,
    KeyStoreError: _signing_key_unavailable,
    UnknownDrug: _unknown_drug,
    BadCheckDigit: _bad_check_digit,
    InvalidIdentifier: _invalid_identifier,
    AmbiguousIdentifier: _ambiguous_identifier,
    InvalidGs1: _invalid_gs1,
    CatalogUnavailable: _catalog_unavailable,
    ConnectionFailure: _database_unavailable,
}


def particulars(exc: BaseException) -> Particulars:
    """What the answer to ``exc`` says beyond its type (nothing for an unknown exception)."""
    build = _lookup(_PARTICULARS, exc)
    return build(exc) if build is not None else Particulars()


def problem_for(failure: type[DomainError], *,
                errors: Iterable[Mapping[str, Any]] | None = None) -> ApiError:
    """The answer of the table for the kind ``failure`` (its slug and status), with ``errors``
    and nothing of an instance: for a face that says the particulars its own way (the FHIR
    face's refused Bundle, whose issues it keeps itself)."""
    kind = _kind(failure)
    return ApiError(kind.status, slug=kind.slug, errors=errors)


def status_of(exc: DomainError) -> int:
    """The HTTP status the table gives ``exc`` (every domain error has one)."""
    return _kind(type(exc)).status


def _kind(failure: type[DomainError]) -> ProblemType:
    return next(PROBLEMS[cls] for cls in failure.__mro__ if cls in PROBLEMS)


def to_problem(exc: BaseException) -> ApiError | None:
    """The problem+json answer for a failure of the table (None for any other exception)."""
    kind = problem_type(exc)
    if kind is None:
        return None
    said = particulars(exc)
    return ApiError(kind.status, slug=kind.slug, detail=said.detail, errors=said.errors,
                    headers=said.headers, detail_vi=said.detail_vi, **said.members)
