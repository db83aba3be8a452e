"""Assertions on HTTP answers."""

from __future__ import annotations

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
