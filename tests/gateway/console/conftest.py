"""Fixtures of the console tests: people (users of parties) and a client that fills forms the
way a browser does, CSRF token included."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.web.context import services

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


@pytest.fixture
def make_person(app: Flask, make_party):
    """``make_person(role, code, username, facility=None)``: a party (made if new) and a user."""
    made: dict[str, Any] = {}

    def make(role: str, code: str, username: str, facility: str | None = None) -> Person:
        key = f"{role}:{code}:{facility}"
        if key not in made:
            made[key] = make_party(role, code, facility)
        party = made[key]
        user, password = services(app).users.create(party_id=party.client_id, role=role,
                                                    username=username)
        return Person(user.username, password, party.client_id)

    return make


@pytest.fixture
def browser(client: FlaskClient) -> Browser:
    return Browser(client)


@pytest.fixture
def browser_factory(app: Flask):
    return lambda: Browser(app.test_client())
