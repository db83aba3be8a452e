"""The error envelope, framework errors, operations endpoints and the OpenAPI document."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from gateway.web.context import services
from tests.support.audit import audit_log
from tests.support.http import assert_problem

TOKEN = "/v2/auth/token"


def test_healthz_and_readyz(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["database"] == "ok"


def test_unknown_path_is_404_in_the_envelope(client: FlaskClient) -> None:
    assert_problem(client.get("/v2/no-such-thing"), 404, "not-found")


def test_wrong_method_is_405_with_allow(client: FlaskClient) -> None:
    response = client.delete("/healthz")
    assert_problem(response, 405, "method-not-allowed")
    assert "GET" in response.headers["Allow"]


def test_malformed_json_is_400(client: FlaskClient) -> None:
    answer = client.post(TOKEN, data="{not json", content_type="application/json")
    body = assert_problem(answer, 400, "malformed")
    assert body["title"] == "Yêu cầu không đúng định dạng" and "JSON không đúng cú pháp" in body["detail"]
    assert answer.headers["Content-Language"] == "vi"
    english = client.post(TOKEN, data="{not json", content_type="application/json",
                          headers={"Accept-Language": "en-GB,en;q=0.9,vi;q=0.5"})
    body = assert_problem(english, 400, "malformed")
    assert body["title"] == "The request is malformed" and "malformed JSON" in body["detail"]
    assert english.headers["Content-Language"] == "en"


def test_wrong_content_type_is_415(client: FlaskClient) -> None:
    body = assert_problem(client.post(TOKEN, data="<xml/>", content_type="application/xml"),
                          415, "unsupported-media-type")
    assert "application/xml" in body["detail"]


def test_missing_content_type_is_415(client: FlaskClient) -> None:
    assert_problem(client.post(TOKEN, data=b"{}"), 415, "unsupported-media-type")


def test_oversized_body_is_413(make_app) -> None:
    app = make_app(MAX_BODY_BYTES=1000)
    response = app.test_client().post(TOKEN, data=b"[" + b"1," * 1000 + b"1]",
                                      content_type="application/json")
    assert_problem(response, 413, "too-large")


def test_default_body_limit_is_one_mebibyte(client: FlaskClient) -> None:
    payload = b'{"a": "' + b"x" * (1024 * 1024) + b'"}'
    assert_problem(client.post(TOKEN, data=payload, content_type="application/json"),
                   413, "too-large")


def test_deeply_nested_json_is_400_not_500(client: FlaskClient) -> None:
    depth = 50_000
    body = assert_problem(client.post(TOKEN, data=b"[" * depth + b"]" * depth,
                                      content_type="application/json"), 400, "malformed")
    assert "lồng quá nhiều cấp" in body["detail"]


def test_non_utf8_body_is_400(client: FlaskClient) -> None:
    body = assert_problem(client.post(TOKEN, data=b'{"client_id": "\xff\xfe"}',
                                      content_type="application/json"), 400, "malformed")
    assert "UTF-8" in body["detail"]


def test_json_array_where_object_belongs_is_422(client: FlaskClient) -> None:
    body = assert_problem(client.post(TOKEN, json=[1, 2]), 422, "validation")
    assert body["errors"][0]["code"] == "request.not_object"


def test_unexpected_exception_is_a_bare_500(app: Flask) -> None:
    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production (TESTING propagates)
    response = app.test_client().get("/boom")
    body = assert_problem(response, 500, "internal")
    assert "secret internals" not in response.get_data(as_text=True)
    assert "detail" not in body


def test_request_id_is_echoed_or_made(client: FlaskClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers[
        "X-Request-ID"] == "abc-123"
    made = client.get("/healthz").headers["X-Request-ID"]
    assert len(made) == 32
    # A request id that could forge log lines is replaced, not echoed.
    forged = client.get("/healthz", headers={"X-Request-ID": "x y\"}"}).headers["X-Request-ID"]
    assert forged != "x y\"}" and len(forged) == 32


def test_problem_carries_the_request_id(client: FlaskClient) -> None:
    body = client.get("/nope", headers={"X-Request-ID": "req-42"}).get_json()
    assert body["request_id"] == "req-42"


def test_one_json_log_line_per_request_without_secrets(client: FlaskClient, make_party,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    party = make_party("clinic", "79001")
    with caplog.at_level("INFO", logger="erx.access"):
        client.post(TOKEN, json={"grant_type": "client_credentials", "client_id": party.client_id,
                                 "client_secret": party.client_secret})
    records = [r for r in caplog.records if r.name == "erx.access"]
    assert len(records) == 1
    record = records[0]
    assert record.status == 200 and record.endpoint == TOKEN and record.request_id
    assert record.party == party.client_id
    rendered = caplog.text + str(record.__dict__)
    assert party.client_secret not in rendered
    assert "access_token" not in rendered


def test_metrics_count_requests_by_endpoint_and_status(client: FlaskClient) -> None:
    client.get("/healthz")
    client.get("/nope")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'erx_http_requests_total{endpoint="/healthz",method="GET",status="200"}' in text
    assert 'endpoint="<unmatched>",method="GET",status="404"' in text
    assert "erx_http_request_duration_seconds_bucket" in text


def test_openapi_is_valid_openapi_3(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert "/v2/auth/token" in spec["paths"]
    assert "bearerAuth" in spec["components"]["securitySchemes"]


def test_docs_page_renders_from_local_assets(client: FlaskClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/docs/assets/swagger-ui-bundle.js" in html
    with client.get("/docs/assets/swagger-ui-bundle.js") as asset:
        assert asset.status_code == 200 and len(asset.data) > 100_000


def test_client_address_comes_from_trusted_proxies_only(make_app, make_party) -> None:
    """With ERX_PROXY_HOPS=1 the audit log records the address the proxy saw; without it,
    a client cannot forge its address with X-Forwarded-For."""
    forwarded = {"X-Forwarded-For": "203.0.113.7"}
    for hops, expected in ((1, "203.0.113.7"), (0, "127.0.0.1")):
        app = make_app(PROXY_HOPS=hops)
        client = app.test_client()
        client.post("/v2/auth/token", headers=forwarded, json={
            "grant_type": "client_credentials", "client_id": f"clinic-x{hops}",
            "client_secret": "wrong"})
        events = audit_log(services(app).storage.database)
        last = events.find_one({"action": "auth.login"}, sort=[("_id", -1)])
        assert last["client_address"] == expected
