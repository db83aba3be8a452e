"""Attack class: a patient identifier sent as the request id.

A client's ``X-Request-ID`` is echoed in the answer, written in the request log and kept in
audit events; one holding a CCCD, a BHYT number or a QR text was all three, digits included.
Only a safe id is taken (1-64 of ``[A-Za-z0-9._:-]`` that the log redaction leaves as it is);
any other gets a new one (gateway/core/http.py, ``request_id``).
"""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.core import redaction
from gateway.web.context import services
from gateway.web.http import new_request_id, request_id
from tests.support.audit import audit_log

CCCD = "079090001234"
#: the last one a UUID whose digits could be a phone number: replaced too (the answer's
#: X-Request-ID says which id the gateway logged)
UNSAFE = (CCCD, f"req-{CCCD}", "req-DN4797915123456", "eyJhbGciOiJFZERTQSJ9.eyJ4IjoxfQ.c2ln",
          "a" * 65, "x y", "", "0f8fad5b-d9cb-469f-a165-70867728950e")
SAFE = ("abc-123", "req-42", "trace.1:2_3", "a" * 64, "12345678-part-87654321",
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8")


@pytest.mark.parametrize("supplied", SAFE)
def test_a_safe_request_id_is_kept(supplied: str) -> None:
    assert request_id(supplied) == supplied


@pytest.mark.parametrize("supplied", UNSAFE)
def test_an_unsafe_request_id_is_replaced(supplied: str) -> None:
    made = request_id(supplied)
    assert made != supplied and request_id(made) == made


def test_a_made_request_id_is_never_taken_for_an_identifier() -> None:
    """A random hexadecimal id has a run of nine digits about one time in seven; none is
    made, so none is redacted or refused when a client sends it back."""
    for _ in range(2000):
        made = new_request_id()
        assert redaction.redact(made) == made and request_id(made) == made


def test_an_identifier_sent_as_request_id_is_not_echoed_logged_or_audited(
        app: Flask, client: FlaskClient, make_party, caplog: pytest.LogCaptureFixture) -> None:
    pharmacy = make_party("pharmacy", "NT9").headers(client)
    with caplog.at_level(logging.INFO, logger="erx.access"):
        answer = client.get("/v2/parties", headers={**pharmacy, "X-Request-ID": CCCD})
    assert answer.status_code == 403
    echoed = answer.headers["X-Request-ID"]
    assert CCCD not in echoed and answer.get_json()["request_id"] == echoed
    [line] = [record for record in caplog.records if record.name == "erx.access"]
    assert line.request_id == echoed and CCCD not in json.dumps(line.__dict__, default=str)
    [event] = audit_log(services(app).storage.database).find({"action": "party.refused"})
    assert event["request_id"] == echoed
