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

from flask import Flask, Response, g, json
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
from signing.errors import KeyStoreError, PrescriberSignatureError, VerificationError

log = logging.getLogger(__name__)

PROBLEM_TYPE_PREFIX = "urn:erx:problem:"
PROBLEM_MEDIA_TYPE = "application/problem+json"

_TITLES = {
    400: ("malformed", "The request is malformed"),
    401: ("unauthenticated", "Authentication is required"),
    403: ("forbidden", "This party may not do that"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "No acceptable representation"),
    409: ("conflict", "The request conflicts with the current state"),
    413: ("too-large", "The request body is too large"),
    415: ("unsupported-media-type", "The request body must be JSON"),
    422: ("validation", "The request content is invalid"),
    429: ("rate-limited", "Too many requests"),
    500: ("internal", "Internal error"),
    503: ("unavailable", "Service unavailable"),
}


class ApiError(Exception):
    """An answer in the problem envelope, raised anywhere under a view."""

    def __init__(self, status: int, *, title: str | None = None, slug: str | None = None,
                 detail: str | None = None, errors: Iterable[Mapping[str, Any]] | None = None,
                 headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        default_slug, default_title = _TITLES.get(status, ("error", "Error"))
        self.status = status
        self.title = title or default_title
        self.slug = slug or default_slug
        self.detail = detail
        self.errors = [dict(item) for item in errors] if errors else []
        self.headers = dict(headers or {})
        self.extra = extra
        super().__init__(self.detail or self.title)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": PROBLEM_TYPE_PREFIX + self.slug, "title": self.title,
                                "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        request_id = g.get("request_id") if g else None
        if request_id:
            body["request_id"] = request_id
        return body

    def response(self) -> Response:
        response = Response(json.dumps(self.body(), ensure_ascii=False), status=self.status,
                            mimetype=PROBLEM_MEDIA_TYPE)
        for name, value in self.headers.items():
            response.headers[name] = value
        return response


class ProblemItemSchema(Schema):
    pointer = fields.String(metadata={"description": "JSON pointer (RFC 6901) into the request"})
    code = fields.String(metadata={"description": "stable machine code (docs/rules.md)"})
    message = fields.String(metadata={"description": "human message, Vietnamese"})


class ProblemSchema(Schema):
    """RFC 9457 problem details."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    request_id = fields.String()
    errors = fields.List(fields.Nested(ProblemItemSchema))


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
            code = "request.unknown_field" if message == "Unknown field." else "request.invalid"
            item = error_item(pointer or "/", code, message)
            if location != "json":
                item["parameter"] = pointer.lstrip("/")
            yield item
    elif isinstance(tree, list):
        for index, sub in enumerate(tree):
            yield from _walk(sub, f"{pointer}/{index}", location)
    else:
        yield error_item(pointer or "/", "request.invalid", str(tree))


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


def init_app(app: Flask) -> None:
    app.register_error_handler(ApiError, handle_exception)
    app.register_error_handler(HTTPException, handle_exception)
    for exc_type in PROBLEMS:
        app.register_error_handler(exc_type, handle_exception)


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
PROBLEMS: dict[type[BaseException], Callable[[Any], ApiError]] = {
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
