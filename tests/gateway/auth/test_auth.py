"""Parties, tokens and role checks (README.md "First steps")."""

from __future__ import annotations

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.parties.model import PartyError, PartyExists
from gateway.web.context import services
from gateway.web.security import current_party, requires
from tests.support.http import assert_problem, wait_until_expired

TOKEN = "/v2/auth/token"
FACILITY_LOGIN = "/api/auth/dang-nhap-co-so-kham-chua-benh"
DOCTOR_LOGIN = "/api/auth/dang-nhap-bac-si"


@pytest.fixture
def guarded(app: Flask) -> Flask:
    """A clinic-only and an any-role endpoint, to exercise the decorator itself."""

    @app.route("/test/clinic-only")
    @requires("clinic", "doctor")
    def clinic_only() -> dict:
        return {"party": current_party().client_id}

    @app.route("/test/anyone")
    @requires()
    def anyone() -> dict:
        return {"role": current_party().role}

    return app


def token_request(client: FlaskClient, client_id: str, secret: str):
    return client.post(TOKEN, json={"grant_type": "client_credentials", "client_id": client_id,
                                    "client_secret": secret})


def test_clinic_gets_a_token_and_uses_it(guarded: Flask, make_party) -> None:
    client = guarded.test_client()
    clinic = make_party("clinic", "79001")
    answer = token_request(client, clinic.client_id, clinic.client_secret)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 604800
    response = client.get("/test/clinic-only",
                          headers={"Authorization": f"Bearer {body['access_token']}"})
    assert response.get_json() == {"party": "clinic-79001"}


def test_token_request_may_be_form_encoded(client: FlaskClient, make_party) -> None:
    clinic = make_party("clinic", "79001")
    answer = client.post(TOKEN, data={"grant_type": "client_credentials",
                                      "client_id": clinic.client_id,
                                      "client_secret": clinic.client_secret})
    assert answer.status_code == 200 and answer.get_json()["access_token"]


def test_wrong_secret_is_401_in_the_envelope(client: FlaskClient, make_party) -> None:
    clinic = make_party("clinic", "79001")
    response = token_request(client, clinic.client_id, clinic.client_secret + "x")
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_client_is_401_like_a_wrong_secret(client: FlaskClient) -> None:
    body = assert_problem(token_request(client, "clinic-00000", "whatever"), 401,
                          "unauthenticated")
    assert body["detail"] == "Không có đơn vị này hoặc sai khóa bí mật"


def test_missing_token_fields_are_422_naming_each(client: FlaskClient) -> None:
    body = assert_problem(client.post(TOKEN, json={"grant_type": "client_credentials",
                                                   "client_id": 7}), 422, "validation")
    assert {e["pointer"] for e in body["errors"]} == {"/client_id", "/client_secret"}


def test_other_grant_types_are_refused(client: FlaskClient, make_party) -> None:
    clinic = make_party("clinic", "79001")
    response = client.post(TOKEN, json={"grant_type": "password", "client_id": clinic.client_id,
                                        "client_secret": clinic.client_secret})
    assert_problem(response, 400, "unsupported-grant-type")


def test_pharmacy_token_on_a_clinic_endpoint_is_403(guarded: Flask, make_party) -> None:
    client = guarded.test_client()
    pharmacy = make_party("pharmacy", "NT0001")
    body = assert_problem(client.get("/test/clinic-only", headers=pharmacy.headers(client)),
                          403, "forbidden")
    assert "pharmacy" in body["detail"]


def test_no_credentials_is_401(guarded: Flask) -> None:
    client = guarded.test_client()
    assert_problem(client.get("/test/anyone"), 401, "unauthenticated")
    assert_problem(client.get("/test/anyone", headers={"Authorization": "Basic abc"}), 401,
                   "unauthenticated")
    assert_problem(client.get("/test/anyone", headers={"Authorization": "Bearer not.a.jwt"}),
                   401, "unauthenticated")


def test_tampered_token_is_401(guarded: Flask, make_party) -> None:
    client = guarded.test_client()
    pharmacy = make_party("pharmacy", "NT0001")
    token = pharmacy.headers(client)["Authorization"].split()[1]
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["sub"] = "admin-root"
    forged = jwt.encode(claims, "another-secret-of-sufficient-length-000000", algorithm="HS256")
    assert_problem(client.get("/test/anyone", headers={"Authorization": f"Bearer {forged}"}),
                   401, "unauthenticated")


def test_expired_token_is_401(make_app, make_party) -> None:
    # The token's exp is whole seconds after a whole-second iat: a 1-s lifetime may be over
    # before a busy machine sends the first request. Five leave it at least four.
    app = make_app(TOKEN_TTL_SECONDS=5)
    client = app.test_client()

    @app.route("/test/me")
    @requires()
    def me() -> dict:
        return {}

    clinic = make_party("clinic", "79001")
    headers = clinic.headers(client)
    assert client.get("/test/me", headers=headers).status_code == 200
    wait_until_expired(headers)
    body = assert_problem(client.get("/test/me", headers=headers), 401, "unauthenticated")
    assert "hết hạn" in body["detail"]


def test_disabled_party_tokens_stop_at_once(guarded: Flask, make_party) -> None:
    client = guarded.test_client()
    clinic = make_party("clinic", "79001")
    headers = clinic.headers(client)
    assert client.get("/test/anyone", headers=headers).status_code == 200
    with guarded.app_context():
        services().parties.set_status(clinic.client_id, "disabled")
    assert_problem(client.get("/test/anyone", headers=headers), 401, "unauthenticated")
    assert_problem(token_request(client, clinic.client_id, clinic.client_secret), 401,
                   "unauthenticated")
    with guarded.app_context():
        services().parties.set_status(clinic.client_id, "active")
    # enabling again does not revive the tokens issued before the party was disabled
    assert_problem(client.get("/test/anyone", headers=headers), 401, "unauthenticated")
    assert client.get("/test/anyone", headers=clinic.headers(client)).status_code == 200


@pytest.mark.parametrize("secret_field", ["password", "mat_khau"])
def test_national_facility_login(client: FlaskClient, make_party, secret_field: str) -> None:
    clinic = make_party("clinic", "79001")
    answer = client.post(FACILITY_LOGIN, json={"ma_lien_thong_co_so_kham_chua_benh": "79001",
                                               secret_field: clinic.client_secret})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["token_type"] == "bearer"
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["sub"] == "clinic-79001" and claims["role"] == "clinic"


def test_national_doctor_login(client: FlaskClient, make_party) -> None:
    doctor = make_party("doctor", "BS0042", facility="79001")
    answer = client.post(DOCTOR_LOGIN, json={"ma_lien_thong_bac_si": "BS0042",
                                             "ma_lien_thong_co_so_kham_chua_benh": "79001",
                                             "password": doctor.client_secret})
    assert answer.status_code == 200
    claims = jwt.decode(answer.get_json()["token"], options={"verify_signature": False})
    assert claims["sub"] == "doctor-79001-BS0042" and claims["fac"] == "79001"


def test_national_login_failures_use_the_national_shape(client: FlaskClient, make_party) -> None:
    make_party("clinic", "79001")
    wrong = client.post(FACILITY_LOGIN, json={"ma_lien_thong_co_so_kham_chua_benh": "79001",
                                              "password": "nope"})
    assert wrong.status_code == 401
    assert wrong.get_json()["success"] is False and "password" in wrong.get_json()["error"]
    missing = client.post(DOCTOR_LOGIN, json={"password": "x"})
    assert missing.status_code == 400
    assert set(missing.get_json()["error"]) == {"ma_lien_thong_co_so_kham_chua_benh",
                                                "ma_lien_thong_bac_si"}


def test_pharmacy_app_key_headers_authenticate(guarded: Flask, make_party) -> None:
    client = guarded.test_client()
    pharmacy = make_party("pharmacy", "NT0001")
    headers = {"app-name": pharmacy.client_id, "app-key": pharmacy.client_secret}
    for _ in range(2):  # the second time from the verified-key cache
        assert client.get("/test/anyone", headers=headers).get_json() == {"role": "pharmacy"}
    bad = {"app-name": pharmacy.client_id, "app-key": "wrong"}
    assert_problem(client.get("/test/anyone", headers=bad), 401, "unauthenticated")
    with guarded.app_context():
        services().parties.set_status(pharmacy.client_id, "disabled")
    assert_problem(client.get("/test/anyone", headers=headers), 401, "unauthenticated")


def test_generated_secrets_are_stored_only_as_keyed_hashes(app: Flask, make_party, database) -> None:
    clinic = make_party("clinic", "79001")
    stored = database["parties"].find_one({"_id": clinic.client_id})
    assert clinic.client_secret not in str(stored)
    assert stored["secret_hash"].startswith("$erx-hmac-sha256$")


def test_a_legacy_argon2_hash_still_logs_in_and_is_replaced(app: Flask, make_party, database) -> None:
    client = app.test_client()
    clinic = make_party("clinic", "79001")
    with app.app_context():
        legacy = services().parties.hasher.hash_password(clinic.client_secret)
    database["parties"].update_one({"_id": clinic.client_id}, {"$set": {"secret_hash": legacy}})
    assert token_request(client, clinic.client_id, clinic.client_secret).status_code == 200
    assert database["parties"].find_one({"_id": clinic.client_id})["secret_hash"].startswith(
        "$erx-hmac-sha256$")
    assert token_request(client, clinic.client_id, clinic.client_secret).status_code == 200


def test_party_rules(app: Flask) -> None:
    with app.app_context():
        store = services().parties
        store.create(role="clinic", code="79001", name="A")
        with pytest.raises(PartyExists):
            store.create(role="clinic", code="79001", name="B")
        for kwargs in ({"role": "clinic", "code": "7900", "name": "short code"},
                       {"role": "doctor", "code": "BS1", "name": "no facility"},
                       {"role": "pharmacy", "code": "NT1", "name": "x", "facility": "79001"},
                       {"role": "emperor", "code": "X", "name": "x"},
                       {"role": "regulator", "code": "SYT", "name": "  "}):
            with pytest.raises(PartyError):
                store.create(**kwargs)
        # A clinic and a pharmacy may share a code: client ids differ by role.
        pharmacy, _ = store.create(role="pharmacy", code="79001", name="P")
        assert pharmacy.client_id == "pharmacy-79001"


def test_rotating_a_secret_invalidates_the_old_one(client: FlaskClient, app: Flask,
                                                   make_party) -> None:
    clinic = make_party("clinic", "79001")
    with app.app_context():
        new_secret = services().parties.rotate_secret(clinic.client_id)
    assert token_request(client, clinic.client_id, clinic.client_secret).status_code == 401
    assert token_request(client, clinic.client_id, new_secret).status_code == 200


def test_a_verified_token_is_not_verified_again_until_it_expires(monkeypatch) -> None:
    """The token's signature and claims are checked once; later requests with it are answered
    from memory, and only until its ``exp``."""
    from gateway.auth import tokens as token_module
    from gateway.parties.model import Party

    service = token_module.TokenService(secret=b"s" * 48, ttl_seconds=60)
    party = Party(client_id="clinic-79001", role="clinic", code="79001", name="x",
                  facility="79001", status="active")
    token = service.issue(party)["access_token"]
    decodes = []
    real_decode = token_module.jwt.decode
    monkeypatch.setattr(token_module.jwt, "decode",
                        lambda *args, **kwargs: decodes.append(1) or real_decode(*args, **kwargs))
    assert service.subject(token) == ("clinic-79001", party.generation)
    assert service.subject(token) == ("clinic-79001", party.generation)
    assert len(decodes) == 1
    assert service.subject(token + "x") is None  # another (forged) text is checked, not matched
    assert len(decodes) == 2
    expiry = real_decode(token, b"s" * 48, algorithms=["HS256"], issuer="erx-gateway")["exp"]
    monkeypatch.setattr(token_module.time, "time", lambda: expiry + 0.0)
    assert service.subject(token) is None
