"""The OpenAPI document as the server really answers: one place that declares, for every
operation, every error status it can answer with its media type and schema.

Views declare what only they know (``errors(404, 409, ...)`` with a description, national
error shapes); :func:`requires` records who may call (``x-roles``); :func:`finish` then adds to
every operation what the request edge answers for all of them:

- ``401`` for an operation that needs credentials, ``403`` when it needs a role;
- ``400`` (malformed JSON, a key given twice), ``413`` (body too large), ``415`` (not
  ``application/json``) and ``422`` (content) for an operation with a request body;
- ``422`` for an operation with query parameters, ``400`` for one with header parameters;
- a national endpoint (``/api/...``) declares its own 4xx answers, in the national shapes;
- ``414`` (URL too long), ``431`` (header fields too large), ``500`` and ``503`` for all.

Errors are ``application/problem+json`` (:data:`PROBLEM_REF`) except where a national
endpoint declared its own shape (``application/json``). Request-body examples are filled in
when the document is served (:func:`with_examples`), so their dates are always acceptable.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from gateway.web.problems import PROBLEM_MEDIA_TYPE

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}

#: What each error status means wherever it is answered (a view may say more).
STATUS_MEANING = {
    400: "malformed request: JSON that does not parse, a key given twice, a bad header value",
    401: "no credentials, or invalid ones (`WWW-Authenticate: Bearer`)",
    403: "the party's role (or facility) may not do this",
    404: "not found",
    406: "`Accept` names no media type this operation answers",
    409: "conflicts with the current state",
    413: "the request body is larger than `ERX_MAX_BODY_BYTES`",
    414: "the URL is longer than the gateway reads (8,190 bytes)",
    415: "the body is not `application/json`",
    422: "the content breaks a rule: `errors` names each field (JSON pointer, or `parameter` for "
         "a query or path parameter), with a stable `code`",
    429: "too many attempts; `Retry-After` says when to try again",
    431: "a header field, or all of them together, is larger than the gateway reads",
    500: "unexpected error (logged with its request id)",
    503: "a dependency (database, catalog, signing key) cannot serve now; `Retry-After` says "
         "when to retry (with the same Idempotency-Key, a retry is safe)",
}
EDGE_STATUSES = (414, 431)
_EDGE = (*EDGE_STATUSES, 500, 503)
#: Text in a request body or a query parameter: no C0/C1 control character but tab, line
#: feed and carriage return, no bidi embedding, override or isolate (gateway.web.http
#: refuses them: 422). A lone surrogate (a JSON escape such as \ud800 alone), which no
#: regular expression over characters can name, is refused too: :data:`TEXT_POLICY` says so
#: in every such schema's description. (Naming the surrogate range in the pattern made
#: schemathesis's generator draw C1 controls as valid text.)
TEXT_PATTERN = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]*$"
TEXT_POLICY = ("Text policy: no control character but tab, line feed and carriage return, no bidi "
               "embedding, override or isolate, no lone surrogate (422 `request.text`).")
_BODY = (400, 413, 415, 422)


def errors(*statuses: int | Mapping[int, str]) -> dict[str, dict[str, Any]]:
    """``responses`` for ``blp.doc``: each status in problem+json, with its usual meaning, or
    the description given for it (``errors(401, {404: "unknown prescription"})``)."""
    found: dict[str, dict[str, Any]] = {}
    for entry in statuses:
        described = entry if isinstance(entry, Mapping) else {entry: STATUS_MEANING.get(entry, "error")}
        for status, description in described.items():
            found[str(status)] = problem(description)
    return found


def problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": copy.deepcopy(PROBLEM_CONTENT)}


def national_errors(schema: Any, *statuses: int | Mapping[int, str]) -> dict[str, Any]:
    """``responses`` of a national endpoint: each 4xx status answered in ``schema`` (the
    national error shape, ``application/json``), described as in :func:`errors`."""
    found = errors(*statuses)
    for response in found.values():
        response["description"] += " (national shape)"
        response["content"] = {"application/json": {"schema": schema}}
    return found


def finish(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document with every operation's error answers completed (see the module doc)."""
    spec = copy.deepcopy(dict(document))
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if method in ("parameters", "summary", "description", "servers"):
                continue
            _complete(operation, national=path.startswith("/api/"))
    for response in spec.get("components", {}).get("responses", {}).values():
        _problem_media_type(response)  # flask-smorest's shared ones (UNPROCESSABLE_ENTITY...)
    _text_policy(spec)
    return spec


def _text_policy(spec: dict[str, Any]) -> None:
    """Every free string of a request-body schema and of a query parameter gets
    :data:`TEXT_PATTERN` (the request edge refuses control, bidi and lone-surrogate characters
    in any body text or query value); a path parameter is at least one character long."""
    schemas = spec.get("components", {}).get("schemas", {})
    operations = [operation for item in spec.get("paths", {}).values()
                  for operation in item.values() if isinstance(operation, dict)]
    pending = [media.get("schema", {}) for operation in operations
               for media in operation.get("requestBody", {}).get("content", {}).values()]
    for path, item in spec.get("paths", {}).items():
        if not path.startswith("/v2/"):
            continue
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema") if isinstance(parameter, dict) else None
                if not isinstance(schema, dict) or schema.get("type") != "string":
                    continue
                if parameter.get("in") == "query":
                    pending.append(schema)
                elif parameter.get("in") == "path":
                    schema.setdefault("minLength", 1)
    seen: set[str] = set()
    while pending:
        node = pending.pop()
        if not isinstance(node, dict):
            continue
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name not in seen and name in schemas:
                seen.add(name)
                pending.append(schemas[name])
            continue
        if node.get("type") == "string" and "pattern" not in node and "enum" not in node:
            node["pattern"] = TEXT_PATTERN
            description = node.get("description", "")
            if TEXT_POLICY not in description:
                node["description"] = f"{description} {TEXT_POLICY}".strip()
        for key in ("properties", "items", "oneOf", "anyOf", "allOf", "additionalProperties"):
            value = node.get(key)
            if isinstance(value, dict):
                pending.extend(value.values() if key == "properties" else [value])
            elif isinstance(value, list):
                pending.extend(value)


def _complete(operation: dict[str, Any], *, national: bool) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("default", None)
    wanted: list[int] = list(_EDGE)
    if national:  # a national endpoint declares each 4xx in its own shape
        pass
    elif "x-roles" in operation:
        wanted.append(401)
        if operation["x-roles"]:
            wanted.append(403)
        if "pharmacy" in operation["x-roles"] or not operation["x-roles"]:
            # A pharmacy may call with its national app-name / app-key headers as well.
            operation.setdefault("security", [{"bearerAuth": []}, {"appKey": [], "appName": []}])
    if "requestBody" in operation and not national:
        wanted.extend(_BODY)
    locations = {p.get("in") for p in operation.get("parameters", [])}
    if "query" in locations and not national:
        wanted.append(422)
    if "header" in locations and not national:
        wanted.append(400)
    for status in wanted:
        responses.setdefault(str(status), problem(STATUS_MEANING[status]))
    for limited in ("429", "503"):
        if limited in responses:
            responses[limited].setdefault("headers", {})["Retry-After"] = {
                "schema": {"type": "integer", "minimum": 0},
                "description": "seconds until a retry may succeed (when known)"}
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            _problem_media_type(response)


def _problem_media_type(response: dict[str, Any]) -> None:
    """An error documented with the Problem schema is problem+json; one with no content is
    given it. National shapes (another schema) stay ``application/json``."""
    content = response.get("content")
    if not content:
        response["content"] = copy.deepcopy(PROBLEM_CONTENT)
        return
    plain = content.get("application/json")
    if plain is not None and plain.get("schema") == PROBLEM_REF:
        content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")


def with_examples(spec: Mapping[str, Any],
                  examples: Mapping[str, Callable[[], Mapping[str, Any]]]) -> dict[str, Any]:
    """A copy of ``spec`` with request-body examples made now: ``examples`` maps a component
    schema name to a function giving ``{name: {"summary", "value"}}``; every request body
    whose schema is that component gets them (Swagger's "Try it out" fills in the first)."""
    document = copy.deepcopy(dict(spec))
    made: dict[str, Mapping[str, Any]] = {}
    for item in document.get("paths", {}).values():
        for operation in item.values():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            for media in (body or {}).get("content", {}).values():
                name = str(media.get("schema", {}).get("$ref", "")).rsplit("/", 1)[-1]
                if name in examples:
                    if name not in made:
                        made[name] = examples[name]()
                    media["examples"] = copy.deepcopy(dict(made[name]))
    return document
