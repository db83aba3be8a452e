"""A person in the console, driven through the test client: logins, forms with their CSRF token, field errors."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from typing import Any

from flask.testing import FlaskClient

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Person:
    username: str
    password: str
    party_id: str


def csrf_token(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "the page has no form with a CSRF token"
    return unescape(found.group(1))


class Browser:
    """A test client used like a browser: GET a page, then POST its form with the token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token: str | None = None

    def get(self, path: str, **kwargs: Any):
        response = self.client.get(path, **kwargs)
        text = response.get_data(as_text=True)
        if _TOKEN.search(text):
            self.token = csrf_token(text)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, *, token: bool = True,
             **kwargs: Any):
        if token and self.token is None:
            self.get("/console/login")
        form = dict(data or {})
        if token:
            form["csrf_token"] = self.token
        response = self.client.post(path, data=form, **kwargs)
        text = response.get_data(as_text=True)
        if _TOKEN.search(text):
            self.token = csrf_token(text)
        return response

    def login(self, person: Person):
        self.get("/console/login")
        response = self.post("/console/login", {"username": person.username,
                                                "password": person.password})
        assert response.status_code == 303, response.get_data(as_text=True)
        self.get(response.headers["Location"])  # the landing page, with the session's token
        return response


def field_error(html: str, field: str) -> str:
    """The error text shown beside a field (empty when none)."""
    found = re.search(rf'<div class="field-error" id="err-{re.escape(field)}">(.*?)</div>', html,
                      re.S)
    return re.sub(r"<[^>]+>", " ", found.group(1)).strip() if found else ""
