"""Assertions on HTTP answers, and waiting out a bearer token."""

from __future__ import annotations

import time

import jwt

from gateway.web.problems import PROBLEM_MEDIA_TYPE


def assert_problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_MEDIA_TYPE
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["type"] == f"urn:erx:problem:{slug}"
    assert body["title"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def wait_until_expired(headers: dict[str, str]) -> None:
    """Wait until the bearer token in ``headers`` is past its own ``exp`` (PyJWT and the
    gateway: expired when exp <= now), however long the machine took to get here."""
    token = headers["Authorization"].removeprefix("Bearer ")
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    while (left := expires - time.time()) > 0:
        time.sleep(left + 0.01)
