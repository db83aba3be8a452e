"""The answers gunicorn's own refusals get (gateway/runtime/gunicorn.py): problem+json with the
problem type and title the app gives the same status (gateway/core/problems.py)."""

from __future__ import annotations

import json

import pytest

from gateway.runtime.gunicorn import problem_bytes
from gateway.web.problems import TITLES, status_problem


@pytest.mark.parametrize(("status", "reason", "slug"), [
    (414, "Request-URI Too Long", "uri-too-long"),
    (431, "Request Header Fields Too Large", "headers-too-large"),
    (413, "Request Entity Too Large", "too-large"),
    (418, "I'm a teapot", "malformed"),      # no type of its own: a 4xx is malformed
    (502, "Bad Gateway", "internal")])       # and a 5xx internal
def test_a_refusal_by_gunicorn_is_the_apps_problem_type(status: int, reason: str,
                                                        slug: str) -> None:
    head, body = problem_bytes(status, reason, "line 0123456789 too long").split(b"\r\n\r\n", 1)
    assert head.startswith(f"HTTP/1.1 {status} {reason}\r\n".encode())
    assert b"Content-Type: application/problem+json" in head
    problem = json.loads(body)
    assert problem["type"] == f"urn:erx:problem:{slug}" == status_problem(status)[0]
    assert problem["title"] == TITLES[slug][0] == status_problem(status)[1]
    assert problem["status"] == status and "0123456789" not in problem["detail"]


def test_status_problem_gives_the_title_in_either_language() -> None:
    assert status_problem(414, "en") == ("urn:erx:problem:uri-too-long", TITLES["uri-too-long"][1])
    assert status_problem(414) == ("urn:erx:problem:uri-too-long", TITLES["uri-too-long"][0])


@pytest.mark.parametrize("level", ["info", "debug"])
def test_gunicorns_per_request_debug_line_is_redacted_only_when_written(level: str,
                                                                       monkeypatch) -> None:
    """gunicorn says every request at debug level; below that level nothing is built."""
    import logging

    from gunicorn.config import Config

    from gateway.runtime import gunicorn as worker

    config = Config()
    config.set("loglevel", level)
    logger = worker.RedactingLogger(config)
    calls: list[str] = []
    monkeypatch.setattr(worker, "redact", lambda text: calls.append(text) or "<redacted>")
    written: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: written.append(record.getMessage())  # type: ignore[method-assign]
    logger.error_log.addHandler(handler)
    logger.debug("%s %s", "GET", "/v2/prescriptions?cccd=079190001234")
    assert (calls, written) == (([], []) if level == "info" else
                                (["GET /v2/prescriptions?cccd=079190001234"], ["<redacted>"]))
