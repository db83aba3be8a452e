"""Failed logins are limited per client id and address, across every way of logging in."""

from __future__ import annotations

import pytest

from gateway.core.config import ConfigError
from tests.support.http import assert_problem


@pytest.fixture
def limited(make_app):
    return make_app(LOGIN_FAILURE_LIMIT="3/minute")


def token(client, client_id: str, secret: str):
    return client.post("/v2/auth/token", json={"grant_type": "client_credentials",
                                               "client_id": client_id, "client_secret": secret})


def test_failed_logins_turn_into_429_with_retry_after(limited, make_party) -> None:
    client = limited.test_client()
    clinic = make_party("clinic", "79001")
    other = make_party("clinic", "79002")
    for _ in range(3):
        assert token(client, clinic.client_id, "wrong").status_code == 401
    refused = token(client, clinic.client_id, clinic.client_secret)
    assert_problem(refused, 429, "rate-limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Another client id is not affected, and successes are never counted.
    for _ in range(5):
        assert token(client, other.client_id, other.client_secret).status_code == 200


def test_national_login_and_app_key_share_the_limit(limited, make_party) -> None:
    client = limited.test_client()
    clinic = make_party("clinic", "79001")
    for _ in range(3):
        assert client.post("/api/auth/dang-nhap-co-so-kham-chua-benh", json={
            "ma_lien_thong_co_so_kham_chua_benh": "79001", "password": "x"}).status_code == 401
    answer = client.post("/api/auth/dang-nhap-co-so-kham-chua-benh", json={
        "ma_lien_thong_co_so_kham_chua_benh": "79001", "password": clinic.client_secret})
    assert answer.status_code == 429 and answer.get_json()["success"] is False
    assert answer.headers["Retry-After"]
    pharmacy = make_party("pharmacy", "NT0001")
    for _ in range(3):
        assert client.get("/v2/drugs?q=para", headers={"app-name": pharmacy.client_id,
                                                       "app-key": "nope"}).status_code == 401
    assert_problem(client.get("/v2/drugs?q=para", headers={
        "app-name": pharmacy.client_id, "app-key": pharmacy.client_secret}), 429, "rate-limited")


def test_a_malformed_limit_refuses_to_start(app_config: dict) -> None:
    from gateway import create_app

    with pytest.raises(ConfigError, match="ERX_LOGIN_FAILURE_LIMIT"):
        create_app({**app_config, "LOGIN_FAILURE_LIMIT": "often"})
