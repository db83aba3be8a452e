"""Errors of the FHIR face as OperationOutcome (HTTP edge): one issue per problem, its stable
code (docs/rules.md, docs/fhir.md) in ``details.coding``, a FHIRPath ``expression`` into what
was sent, text in Vietnamese or English by ``Accept-Language``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Response, json

from gateway.web.problems import ApiError, language

FHIR_JSON = "application/fhir+json"
#: HTTP status -> the issue type of the FHIR issue-type value set.
ISSUE_TYPE = {400: "structure", 401: "login", 403: "forbidden", 404: "not-found",
              405: "not-supported", 406: "not-supported", 409: "conflict", 412: "conflict",
              413: "too-long", 414: "too-long", 415: "not-supported", 422: "invalid",
              429: "throttled", 431: "too-long", 500: "exception", 503: "transient"}
#: stable codes whose issue type is more precise than their status's
CODE_TYPE = {"fhir.too_costly": "too-costly", "rx.code_exists": "duplicate",
             "request.unknown_field": "structure", "fhir.resource_type": "structure",
             "idempotency.key_reused": "conflict"}


def fhir_response(body: Mapping[str, Any], status: int = 200,
                  headers: Mapping[str, str] | None = None) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=FHIR_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def outcome(problem: ApiError, *, system: str,
            expression: Callable[[Mapping[str, Any]], str | None] = lambda item: None,
            extra: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """``problem`` as an OperationOutcome in the request's language. ``expression(item)`` is
    the FHIRPath of a problem item (its national pointer mapped back); ``extra`` are items
    already carrying theirs (``{"expression", "code", "message", "_en"}``)."""
    lang = language()
    body = problem.body(lang)
    issues = []
    default_type = ISSUE_TYPE.get(problem.status, "processing")

    def issue(item: Mapping[str, Any], severity: str, where: str | None) -> dict[str, Any]:
        text = item.get("_en") if lang == "en" and item.get("_en") else item.get("message")
        found: dict[str, Any] = {
            "severity": severity, "code": CODE_TYPE.get(item.get("code", ""), default_type),
            "details": {"coding": [{"system": system, "code": item.get("code", problem.slug)}],
                        "text": text or body["title"]},
            "diagnostics": body.get("detail") or body["title"]}
        if where:
            found["expression"] = [where]
        return found

    seen = set()
    for item in extra:
        key = (item.get("expression"), item.get("code"))
        seen.add(key)
        issues.append(issue(item, "error", item.get("expression")))
    for item in problem.errors:
        where = item.get("parameter") or expression(item)
        if (where, item.get("code")) in seen:
            continue
        issues.append(issue(item, "error", where))
    for item in body.get("warnings") or []:
        issues.append(issue(item, "warning", expression(item)))
    if not issues:
        issues.append(issue({"code": problem.slug, "message": body["title"]}, "error", None))
    return {"resourceType": "OperationOutcome", "issue": issues}


def outcome_response(problem: ApiError, **kwargs: Any) -> Response:
    response = fhir_response(outcome(problem, **kwargs), problem.status, problem.headers)
    response.headers["Content-Language"] = language()
    return response
