"""Attack class: credentials that outlive their revocation, and login floods.

Probe findings: a token issued before ``rotate-secret`` worked for 7 days and the old app-key
for 300 s; after ``disable`` then ``enable`` the old tokens worked again; logins with fresh
client ids were never limited, each paying Argon2id on a request thread.
"""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from gateway.core.errors import RateLimited
from gateway.parties.secrets import SecretHasher
from gateway.web.context import services
from tests.support.http import assert_problem

TOKEN = "/v2/auth/token"


def _token(client: FlaskClient, client_id: str, secret: str):
    return client.post(TOKEN, json={"grant_type": "client_credentials", "client_id": client_id,
                                    "client_secret": secret})


def _bearer(client: FlaskClient, client_id: str, secret: str) -> dict[str, str]:
    answer = _token(client, client_id, secret)
    assert answer.status_code == 200, answer.get_json()
    return {"Authorization": f"Bearer {answer.get_json()['access_token']}"}


def _who(client: FlaskClient, headers: dict[str, str]) -> int:
    """200 when the credentials are accepted (a catalog search any party may run), else 401."""
    return client.get("/v2/drugs?q=para", headers=headers).status_code


@pytest.mark.parametrize("change", ["rotate", "disable-enable"])
def test_a_credential_change_ends_every_earlier_token_and_app_key_in_every_process(
        app: Flask, make_app, make_party, change: str) -> None:
    other_process = make_app()
    here, there = app.test_client(), other_process.test_client()
    pharmacy = make_party("pharmacy", "NT0001")
    token = _bearer(here, pharmacy.client_id, pharmacy.client_secret)
    app_key = {"app-name": pharmacy.client_id, "app-key": pharmacy.client_secret}
    for client in (here, there):  # both processes now remember the app-key
        assert _who(client, token) == 200 and _who(client, app_key) == 200
    with app.app_context():
        if change == "rotate":
            secret = services().parties.rotate_secret(pharmacy.client_id)
        else:
            services().parties.set_status(pharmacy.client_id, "disabled")
            services().parties.set_status(pharmacy.client_id, "active")
            secret = pharmacy.client_secret
    # The other process learns of it from its change feed (issue 14: within a second, with no
    # request needed): wait for that delivery, not for time.
    feed, cache = services(other_process).feed, services(other_process).parties.cache
    assert feed.wait_for(lambda: pharmacy.client_id not in cache._entries, 30)
    for client in (here, there):
        assert _who(client, token) == 401
        if change == "rotate":
            assert _who(client, app_key) == 401
    fresh = _bearer(there, pharmacy.client_id, secret)
    assert _who(here, fresh) == 200
    assert _who(here, {"app-name": pharmacy.client_id, "app-key": secret}) == 200


def test_the_admin_api_rotation_ends_the_old_token(client: FlaskClient, make_party) -> None:
    admin = make_party("admin", "ops").headers(client)
    clinic = make_party("clinic", "79001")
    old = _bearer(client, clinic.client_id, clinic.client_secret)
    rotated = client.post(f"/v2/parties/{clinic.client_id}/rotate-secret", headers=admin)
    assert rotated.status_code == 200, rotated.get_json()
    assert _who(client, old) == 401
    assert _who(client, _bearer(client, clinic.client_id, rotated.get_json()["client_secret"])) == 200


def test_fresh_client_ids_from_one_address_are_limited(make_app, make_party) -> None:
    app = make_app(LOGIN_FAILURE_LIMIT="100/minute", LOGIN_ADDRESS_FAILURE_LIMIT="5/minute")
    client = app.test_client()
    clinic = make_party("clinic", "79001")
    for n in range(5):
        assert _token(client, f"clinic-fresh{n}", "guess").status_code == 401
    flooded = _token(client, "clinic-fresh99", "guess")
    problem = assert_problem(flooded, 429, "rate-limited")
    assert int(flooded.headers["Retry-After"]) >= 1
    assert problem["status"] == 429
    # even the right secret waits from that address; another address is not affected
    assert _token(client, clinic.client_id, clinic.client_secret).status_code == 429
    elsewhere = client.post(TOKEN, environ_base={"REMOTE_ADDR": "10.1.2.3"},
                            json={"grant_type": "client_credentials", "client_id": clinic.client_id,
                                  "client_secret": clinic.client_secret})
    assert elsewhere.status_code == 200


def test_argon2_checks_run_in_a_bounded_pool_and_a_flood_gets_429_at_once() -> None:
    hasher = SecretHasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
                          concurrency=1, wait_seconds=0)
    stored = hasher.hash_password("correct horse")
    assert hasher.verify(stored, "correct horse") and not hasher.verify(stored, "wrong")
    # the one slot is busy: the next check is refused, not queued
    with hasher._slot(), pytest.raises(RateLimited) as refused:
        hasher.verify(stored, "correct horse")
    assert refused.value.retry_after == 1
    assert hasher.verify(stored, "correct horse")  # the slot is free again


def test_generated_secrets_never_touch_the_pool() -> None:
    hasher = SecretHasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
                          concurrency=1, wait_seconds=0)
    stored = hasher.hash_generated("s" * 43)
    with hasher._slot():
        assert hasher.verify(stored, "s" * 43)
        assert not hasher.verify(stored, "t" * 43)
        assert not hasher.verify(None, "s" * 43)  # unknown account: same cheap path
        assert not hasher.verify(stored[:-3] + "!!!", "s" * 43)  # a mangled hash never matches
