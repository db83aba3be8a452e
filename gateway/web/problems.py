"""The one error envelope, RFC 9457 ``application/problem+json``, and the one table that maps
domain errors to it.

Every native endpoint, and every framework error (404, 405, 413, 415, 500), answers::

    {"type": "urn:erx:problem:validation", "title": "...", "status": 422,
     "errors": [{"pointer": "/thong_tin_don_thuoc/1/ma_thuoc", "code": "drug.unknown",
                 "message": "..."}]}

Services raise domain errors (:mod:`gateway.core.errors`, ``signing.errors``,
``drug_catalog.errors``); :data:`PROBLEMS` maps each to a problem here, so HTTP stays at the
edge. Views raise :class:`ApiError` for what is wrong with the HTTP request itself. No answer
carries a stack trace: an unexpected exception is logged with its trace and answered with a
bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Flask, Response, g, has_request_context, json, request
from marshmallow import Schema, fields
from pymongo.errors import ConnectionFailure
from werkzeug.exceptions import HTTPException, InternalServerError

from drug_catalog.errors import AmbiguousIdentifier, BadCheckDigit, InvalidGs1, InvalidIdentifier, UnknownDrug
from drug_catalog.store import CatalogUnavailable
from gateway.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    Malformed,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
    error_item,
)
from gateway.core.messages import bilingual
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
LANGUAGES = ("vi", "en")


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
    return request.accept_languages.best_match(LANGUAGES, default="vi") or "vi"


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
        detail = self.detail_vi if lang == "vi" and self.detail_vi else self.detail
        if detail:
            body["detail"] = detail
        if self.errors:
            body["errors"] = [_localized(item, lang) for item in self.errors]
        body.update(self.extra)
        if body.get("warnings"):
            body["warnings"] = [_localized(item, lang) for item in body["warnings"]]
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


def _localized(item: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """An item with its message in ``lang`` when it has one in English (``_en``)."""
    shown = {key: value for key, value in item.items() if key != "_en"}
    if lang == "en" and item.get("_en"):
        shown["message"] = item["_en"]
    return shown


class ProblemItemSchema(Schema):
    pointer = fields.String(required=True, metadata={
        "description": "JSON pointer (RFC 6901) into the request body; empty for a parameter"})
    code = fields.String(required=True, metadata={
        "description": "stable machine code (docs/rules.md, docs/api-guide.md)",
        "example": "drug.unknown"})
    message = fields.String(required=True, metadata={
        "description": "message for a person: Vietnamese; English for request-level codes "
                       "(`request.*`) when `Accept-Language` prefers English"})
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
    if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
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


def to_problem(exc: BaseException) -> ApiError | None:
    """The answer for a domain error (None for any other exception)."""
    for exc_type in type(exc).__mro__:
        build = PROBLEMS.get(exc_type)
        if build is not None:
            return build(exc)
    return None


def _domain(status: int) -> Callable[[DomainError], ApiError]:
    def build(exc: DomainError) -> ApiError:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        return ApiError(status, title=exc.title, slug=exc.slug, detail=exc.detail,
                        errors=exc.errors, headers=headers, **exc.extra)

    return build


def _unauthenticated(exc: Unauthenticated) -> ApiError:
    return ApiError(401, detail=exc.detail, errors=exc.errors,
                    headers={"WWW-Authenticate": 'Bearer realm="erx"'})


def _prescriber_signature_invalid(exc: PrescriberSignatureError) -> ApiError:
    item = error_item("/signature", "signature.prescriber_invalid",
                      f"Chữ ký số của người kê đơn không hợp lệ ({exc.reason}): {exc.message}")
    item["reason"] = exc.reason
    return ApiError(422, errors=[item])


def _gateway_signature_invalid(exc: VerificationError) -> ApiError:
    item = error_item("/signature", "signature.invalid",
                      f"Chữ ký số của cổng không hợp lệ ({exc.reason}): {exc.message}")
    item["reason"] = exc.reason
    return ApiError(422, errors=[item])


def _signing_key_unavailable(exc: KeyStoreError) -> ApiError:
    log.error("signing key unavailable: %s", exc)
    return ApiError(503, detail="the signing key is unavailable")


def _identifier_item(code: str, message: str) -> dict[str, str]:
    item = error_item("", code, message)
    item["parameter"] = "identifier"
    return item


def _unknown_drug(exc: UnknownDrug) -> ApiError:
    return ApiError(404, detail=str(exc), errors=[_identifier_item(
        "drug.unknown", "Mã thuốc không có trong danh mục")])


def _bad_check_digit(exc: BadCheckDigit) -> ApiError:
    return ApiError(422, detail=f"the GTIN's check digit is {exc.found}; the other digits call "
                                f"for {exc.expected}: a typing error?",
                    errors=[_identifier_item(
                        "drug.gtin_check_digit",
                        f"Chữ số kiểm tra của GTIN sai: là {exc.found}, phải là {exc.expected}")],
                    expected_check_digit=exc.expected)


def _invalid_identifier(exc: InvalidIdentifier) -> ApiError:
    return ApiError(422, detail=exc.reason, errors=[_identifier_item(
        "drug.identifier", f"Mã định danh thuốc không hợp lệ: {exc.reason}")])


def _ambiguous_identifier(exc: AmbiguousIdentifier) -> ApiError:
    return ApiError(422, detail=str(exc), errors=[_identifier_item(
        "drug.ambiguous", f"Mã này trỏ đến nhiều thuốc: {', '.join(exc.national_codes)}")],
        national_codes=list(exc.national_codes))


def _invalid_gs1(exc: InvalidGs1) -> ApiError:
    item = error_item("", "pack.gs1", f"Mã GS1 của hộp thuốc không đọc được: {exc.reason}")
    return ApiError(422, detail=exc.reason, errors=[item])


def _catalog_unavailable(exc: CatalogUnavailable) -> ApiError:
    log.error("drug catalog unavailable: %s", exc)
    return ApiError(503, detail="the drug catalog is unavailable")


#: seconds a client is told to wait when the database cannot be reached
DATABASE_RETRY_AFTER = 5


def _database_unavailable(exc: ConnectionFailure) -> ApiError:
    log.error("database unavailable: %s", type(exc).__name__)
    return ApiError(503, slug="database-unavailable", title="The database is unavailable",
                    detail="the gateway cannot reach its database; nothing was changed that is "
                           "not reported, retry shortly (an Idempotency-Key makes the retry safe)",
                    headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
                    errors=[error_item("", "service.database_unavailable",
                                       "Cơ sở dữ liệu tạm thời không truy cập được, vui lòng thử "
                                       "lại sau")])


# The one table from domain errors to answers. A subclass not listed takes its nearest
# listed base class's entry (the lookup walks the MRO).
PROBLEMS: dict[type[Exception], Callable[[Any], ApiError]] = {
    Malformed: _domain(400),
    Unauthenticated: _unauthenticated,
    Forbidden: _domain(403),
    NotFound: _domain(404),
    Conflict: _domain(409),
    Invalid: _domain(422),
    RateLimited: _domain(429),
    Unavailable: _domain(503),
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
