"""Fixtures of the console tests: people (users of parties) and a client that fills forms the
way a browser does, CSRF token included."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.web.context import services
from tests.support.console import Browser, Person


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
