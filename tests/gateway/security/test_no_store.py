"""Attack class: patient data kept by a browser or a shared cache.

Every answer to a request that carries credentials (API JSON, CSV and NDJSON exports, the
printed PDF and HTML, console pages) says ``Cache-Control: no-store``, whatever the route and
whatever the status; an answer that states no policy of its own does too. Only public
documents that say so may be cached (the JWKS, the API docs' assets).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.support.console import Browser, Person
from tests.support.prescriptions import issued

_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _paths(app: Flask, code: str, party: str) -> list[str]:
    values = {"code": code, "client_id": party, "cccd": "079090001234", "filename": "x",
              "delivery_id": "x", "id": "x", "kid": "x"}
    return sorted({_VARIABLE.sub(lambda m: values.get(m.group(1), "x"), rule.rule)
                   for rule in app.url_map.iter_rules()
                   if "GET" in rule.methods and not rule.rule.startswith(("/static", "/docs"))})


def test_every_authenticated_answer_is_no_store(app: Flask, client: FlaskClient,
                                                world: dict[str, Any]) -> None:
    code = issued(client, world)
    checked: dict[str, int] = {}
    for role in ("doctor_a", "clinic_a", "pharmacy_1", "regulator", "admin"):
        headers = world["h"][role]
        for path in _paths(app, code, world["parties"][role].client_id):
            for accept in ("application/json", "text/csv", "application/x-ndjson",
                           "application/pdf", "text/html"):
                answer = client.get(path, headers={**headers, "Accept": accept})
                assert answer.headers.get("Cache-Control") == "no-store", (
                    role, path, accept, answer.status_code, answer.headers.get("Cache-Control"))
                checked[answer.mimetype] = checked.get(answer.mimetype, 0) + 1
    # the walk met every kind of answer that carries patient data
    assert {"application/json", "text/csv", "application/x-ndjson", "application/pdf",
            "text/html"} <= set(checked), checked


def test_console_pages_are_no_store(app: Flask, world: dict[str, Any],
                                    browser: Browser) -> None:
    from gateway.web.context import services

    found = world["parties"]["regulator"]
    user, password = services(app).users.create(party_id=found.client_id, role="regulator",
                                                username="thanh.tra")
    browser.login(Person(user.username, password, found.client_id))
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/console/") and "GET" in rule.methods and not rule.arguments:
            answer = browser.get(rule.rule)
            assert answer.headers.get("Cache-Control") == "no-store", rule.rule


def test_public_documents_keep_their_own_policy(client: FlaskClient) -> None:
    assert client.get("/.well-known/jwks.json").headers["Cache-Control"].startswith("public")
    assert client.get("/healthz").headers["Cache-Control"] == "no-store"  # no policy: no-store
