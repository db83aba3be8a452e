"""The text policy (no control, bidi or lone-surrogate character) is in the OpenAPI document
wherever the server applies it, and the server applies it wherever the document says so:
every free string of a request body and every query parameter; a path parameter is never
empty."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from gateway.web.openapi import TEXT_PATTERN


def _strings(node: Any, schemas: dict[str, Any], seen: set[str]) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [found for item in node for found in _strings(item, schemas, seen)]
    if not isinstance(node, dict):
        return []
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name in seen or name not in schemas:
            return []
        seen.add(name)
        return _strings(schemas[name], schemas, seen)
    found = [node] if node.get("type") == "string" else []
    for key in ("properties", "items", "oneOf", "anyOf", "allOf", "additionalProperties"):
        value = node.get(key)
        if key == "properties" and isinstance(value, dict):
            value = list(value.values())
        found += _strings(value, schemas, seen)
    return found


def test_every_request_string_states_the_text_policy(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    loose = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or method == "parameters":
                continue
            bodies = [media.get("schema") for media in
                      operation.get("requestBody", {}).get("content", {}).values()]
            for schema in _strings(bodies, schemas, set()):
                if "pattern" not in schema and "enum" not in schema:
                    loose.append(f"{method} {path} body {schema}")
                elif schema.get("pattern") == TEXT_PATTERN and "lone surrogate" not in \
                        schema.get("description", ""):
                    loose.append(f"{method} {path} body: the policy is not described")
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if schema.get("type") != "string" or not path.startswith("/v2/"):
                    continue
                if parameter["in"] == "query" and "pattern" not in schema and "enum" not in schema:
                    loose.append(f"{method} {path} query {parameter['name']}")
                if parameter["in"] == "path" and schema.get("minLength", 0) < 1:
                    loose.append(f"{method} {path} path {parameter['name']} may be empty")
    assert loose == []
    policy = re.compile(TEXT_PATTERN)
    assert policy.match("Nguyễn Văn An\t12 Lê Lợi\n")
    for bad in ("\x00", "\x1b[31m", "\u202e", "\u2066", "\x85"):
        assert not policy.match(f"a{bad}b"), repr(bad)


@pytest.mark.parametrize("query", ["q=%01para", "q=para%E2%80%AE", "q%01=x"])
def test_a_query_breaking_the_text_policy_is_refused(client: FlaskClient, auth_headers,
                                                      query: str) -> None:
    headers = auth_headers("regulator", "BYT")
    answer = client.get(f"/v2/drugs?{query}", headers=headers)
    assert answer.status_code == 422
    [item] = answer.get_json()["errors"]
    assert item["code"] == "request.text" and item["parameter"]
    english = client.get(f"/v2/drugs?{query}", headers={**headers, "Accept-Language": "en"})
    assert "not allowed" in english.get_json()["errors"][0]["message"]
