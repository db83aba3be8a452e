"""Attack class: bodies and paths that slip past the edge's limits, and identifiers in logs.

Probe findings: a chunked body over ``ERX_MAX_BODY_BYTES`` was truncated and processed while
the same body with Content-Length got 413; a CCCD in a request path was written to the request
log, even for refused callers.
"""

from __future__ import annotations

import io
import json
import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.http import assert_problem

CCCD = "079090001234"


def _chunked(client: FlaskClient, path: str, body: bytes, headers: dict[str, str] | None = None):
    return client.post(path, input_stream=io.BytesIO(body),
                        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json",
                                 **(headers or {})},
                        environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""})


@pytest.fixture
def small(make_app) -> Flask:
    return make_app(MAX_BODY_BYTES=200)


def test_a_chunked_body_over_the_limit_is_413_like_a_sized_one(small: Flask) -> None:
    client = small.test_client()
    body = json.dumps({"grant_type": "client_credentials", "client_id": "x",
                       "client_secret": "y" * 300}).encode()
    sized = client.post("/v2/auth/token", data=body, content_type="application/json")
    chunked = _chunked(client, "/v2/auth/token", body)
    assert sized.status_code == chunked.status_code == 413
    assert_problem(chunked, 413, "too-large")


def test_a_chunked_body_within_the_limit_is_read_whole(small: Flask) -> None:
    client = small.test_client()
    body = json.dumps({"grant_type": "client_credentials", "client_id": "clinic-79001",
                       "client_secret": "y" * 50}).encode()
    answer = _chunked(client, "/v2/auth/token", body)
    assert answer.status_code == 401  # read whole and checked: an unknown client, not a 400


def test_no_patient_identifier_reaches_the_request_log(client: FlaskClient, make_party,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    regulator = make_party("regulator", "BYT").headers(client)
    with caplog.at_level(logging.INFO, logger="erx.access"):
        client.get(f"/v2/patients/{CCCD}/access-log")  # refused: no credentials
        client.get(f"/v2/patients/{CCCD}/access-log", headers=regulator)
        client.get(f"/v2/nowhere/{CCCD}/x")  # no route
        client.get(f"/v2/prescriptions?cccd={CCCD}", headers=regulator)
    lines = [record for record in caplog.records if record.name == "erx.access"]
    assert len(lines) == 4
    for record in lines:
        assert CCCD not in json.dumps(record.__dict__, default=str)
    assert lines[0].path == "/v2/patients/<cccd>/access-log"
    assert lines[2].path == "/v2/nowhere/<digits>/x"


def test_an_unexpected_error_logs_no_identifier_from_its_path_or_message(
        make_app, caplog: pytest.LogCaptureFixture) -> None:
    """Flask's own "Exception on <path>" and the exception's text (which may quote the value it
    failed on) are redacted by the log formatter, like every logged message."""
    from gateway.web.http import RedactingFormatter

    app = make_app()
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answered 500 and logged, as when served

    @app.route("/v2/boom/<value>")
    def boom(value: str) -> str:
        raise RuntimeError(f"cannot read {value}; BHYT DN4797915123456")

    with caplog.at_level(logging.INFO):
        answer = app.test_client().get(f"/v2/boom/{CCCD}?patient={CCCD}")
    assert answer.status_code == 500
    formatter = RedactingFormatter("%(message)s")
    lines = [formatter.format(record) for record in caplog.records]
    assert any("Exception on /v2/boom/<digits> [GET]" in line for line in lines), lines
    assert any("RuntimeError: cannot read <digits>; BHYT <bhyt>" in line for line in lines)
    assert not [line for line in lines if CCCD in line or "DN4797915123456" in line]
