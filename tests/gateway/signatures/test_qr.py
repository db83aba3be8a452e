"""The printed prescription's QR token: what it carries, scanning it into the pharmacy lookups
(native and national), every way it is refused, and the offline check `erx-gateway verify-qr`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import segno
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.cli import main
from gateway.signatures.qr import QR_ERROR, QR_VERSION, offline_verdict, qr_payload
from gateway.web.context import services
from signing.jwk import b64url_decode, b64url_encode
from signing.jws import Signer, read_protected_header
from signing.key_store import generate_private_key
from tests.support.audit import audit_log
from tests.support.http import assert_problem
from tests.support.prescriptions import issued


def qr_token(app: Flask, code: str) -> str:
    stored = services(app).reading.get(code)
    return services(app).qr.issue(code, stored["content_sha256"])


def payload_of(token: str) -> dict[str, Any]:
    return json.loads(b64url_decode(token.split(".")[1]))


def with_payload(token: str, payload: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{b64url_encode(json.dumps(payload).encode())}.{signature}"


def foreign_token(code: str, sha256: str) -> str:
    """A well-made token signed by a key the gateway never had."""
    return Signer(private_key=generate_private_key()).sign_compact(qr_payload(code, sha256, 1))


@pytest.fixture
def printed(app: Flask, client: FlaskClient, world: dict) -> dict[str, Any]:
    code = issued(client, world)
    return {"code": code, "token": qr_token(app, code), "world": world,
            "stored": services(app).reading.get(code)}


# --- the token -----------------------------------------------------------------------------
def test_the_token_names_the_code_and_the_hash_the_gateway_signature_covers(
        app: Flask, printed: dict) -> None:
    token, stored = printed["token"], printed["stored"]
    header = read_protected_header(token)
    assert header == {"alg": "EdDSA", "kid": stored["signature"]["kid"]}
    payload = payload_of(token)
    assert set(payload) == {"ma_don_thuoc", "sha256", "iat"}
    assert payload["ma_don_thuoc"] == printed["code"]
    signed_hash = read_protected_header(stored["signature"]["jws"])["payload_sha256"]
    assert payload["sha256"] == stored["content_sha256"] == signed_hash
    assert isinstance(payload["iat"], int)
    # Small enough for the symbol the page prints: version 14, level M, whatever the code.
    assert len(token) == 346
    symbol = segno.make_qr(token, error=QR_ERROR, version=QR_VERSION, boost_error=False)
    assert (symbol.version, symbol.error, symbol.mode) == (14, "M", "byte")


def test_issue_refuses_what_is_no_code_or_hash(app: Flask) -> None:
    qr = services(app).qr
    for code, sha in (("79001ABCDEFG-c", "ABC"), ("", "a" * 64), ("a.b", "a" * 64)):
        with pytest.raises(ValueError):
            qr.issue(code, sha)


# --- scanning in -----------------------------------------------------------------------------
def test_the_qr_text_looks_the_prescription_up_like_its_code(app: Flask, client: FlaskClient,
                                                             printed: dict, database) -> None:
    h = printed["world"]["h"]
    by_code = client.get(f"/v2/prescriptions/{printed['code']}", headers=h["pharmacy_1"])
    by_qr = client.get(f"/v2/prescriptions/{printed['token']}", headers=h["pharmacy_2"])
    assert by_qr.status_code == 200, by_qr.get_json()
    assert by_qr.get_json() == by_code.get_json()
    assert set(database["prescriptions"].find_one({"_id": printed["code"]})
               ["viewed_by_pharmacies"]) == {"NT0001", "NT0002"}
    viewed = list(audit_log(database).find({"action": "prescription.viewed"}).sort("seq", 1))
    assert [event["details"] for event in viewed][-2:] == [
        None, {"via": "qr", "kid": printed["stored"]["signature"]["kid"]}]
    # The other readers may scan too; the access rules are the code's.
    assert client.get(f"/v2/prescriptions/{printed['token']}",
                      headers=h["regulator"]).status_code == 200
    other_clinic = client.get(f"/v2/prescriptions/{printed['token']}", headers=h["clinic_b"])
    assert_problem(other_clinic, 403, "forbidden")


def test_the_national_lookup_takes_the_qr_text_too(client: FlaskClient, printed: dict) -> None:
    pharmacy = printed["world"]["parties"]["pharmacy_1"]
    app_key = {"app-name": pharmacy.client_id, "app-key": pharmacy.client_secret}
    answer = client.get(f"/api/v1/thong-tin-don-thuoc/{printed['token']}", headers=app_key)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["ma_don_thuoc"] == printed["code"]
    forged = with_payload(printed["token"], {**payload_of(printed["token"]),
                                             "ma_don_thuoc": "79001ZZZZZZZ-c"})
    refused = client.get(f"/api/v1/thong-tin-don-thuoc/{forged}", headers=app_key)
    assert refused.status_code == 422
    assert refused.get_json()["danh_sach_cac_loi"][0].startswith("[qr.forged]")


def test_a_scanner_s_trailing_newline_does_not_matter(client: FlaskClient, printed: dict) -> None:
    answer = client.get(f"/v2/prescriptions/{printed['token']}%0A",
                        headers=printed["world"]["h"]["pharmacy_1"])
    assert answer.status_code == 200, answer.get_json()


def refusal(client: FlaskClient, printed: dict, text: str, status: int, slug: str) -> dict:
    problem = assert_problem(client.get(f"/v2/prescriptions/{text}",
                                        headers=printed["world"]["h"]["pharmacy_1"]), status, slug)
    return problem["errors"][0]


def test_forged_altered_and_unreadable_qr_texts_are_refused_and_audited(
        app: Flask, client: FlaskClient, printed: dict, database) -> None:
    token, code = printed["token"], printed["code"]
    other = issued(client, printed["world"])
    moved = with_payload(token, {**payload_of(token), "ma_don_thuoc": other})
    item = refusal(client, printed, moved, 422, "qr-refused")
    assert (item["code"], item["reason"], item["parameter"]) == ("qr.forged", "bad_signature",
                                                                 "ma_don_thuoc")
    assert item["message"]
    stranger = foreign_token(code, printed["stored"]["content_sha256"])
    item = refusal(client, printed, stranger, 422, "qr-refused")
    assert (item["code"], item["reason"]) == ("qr.forged", "unknown_kid")
    for junk in ("abc.def", "a.b.c", f"{token}.x", token[:200] + "." + token[201:]):
        item = refusal(client, printed, junk, 422, "qr-refused")
        assert item["code"] in {"qr.unreadable", "qr.forged"}, junk
    assert refusal(client, printed, "x.y.z", 422, "qr-refused")["code"] == "qr.unreadable"
    signer = services(app).signatures.signer()
    not_rx = signer.sign_compact(b'{"hello":"world"}')
    assert refusal(client, printed, not_rx, 422, "qr-refused")["code"] == "qr.not_prescription"
    # Nothing was noted for the pharmacy, and each refusal is in the audit log.
    assert database["prescriptions"].find_one({"_id": code})["viewed_by_pharmacies"] == []
    failures = list(audit_log(database).find({"action": "prescription.viewed",
                                                   "outcome": "failure"}))
    assert len(failures) == 8
    assert all(event["details"]["via"] == "qr" for event in failures)


def test_a_genuine_qr_of_an_unknown_or_changed_prescription(app: Flask, client: FlaskClient,
                                                            printed: dict, database) -> None:
    unknown = services(app).qr.issue("79001NOSUCH0-c", "a" * 64)
    missing = assert_problem(client.get(f"/v2/prescriptions/{unknown}",
                                        headers=printed["world"]["h"]["pharmacy_1"]),
                             404, "not-found")
    assert "79001NOSUCH0-c" in missing["detail"]
    database["prescriptions"].update_one({"_id": printed["code"]},
                                         {"$set": {"content_sha256": "0" * 64}})
    problem = assert_problem(client.get(f"/v2/prescriptions/{printed['token']}",
                                        headers=printed["world"]["h"]["pharmacy_1"]),
                             409, "qr-content-changed")
    assert problem["errors"][0]["code"] == "qr.content_changed"
    assert problem["ma_don_thuoc"] == printed["code"]
    event = audit_log(database).find_one({"outcome": "failure",
                                               "details.codes": "qr.content_changed"})
    assert event["object"] == {"type": "prescription", "id": printed["code"]}


def test_a_qr_printed_before_a_key_rotation_still_scans(app: Flask, client: FlaskClient,
                                                        printed: dict) -> None:
    services(app).signatures.key_store.rotate()
    assert client.get(f"/v2/prescriptions/{printed['token']}",
                      headers=printed["world"]["h"]["pharmacy_1"]).status_code == 200
    newer = qr_token(app, printed["code"])
    assert read_protected_header(newer)["kid"] != read_protected_header(printed["token"])["kid"]


# --- offline: erx-gateway verify-qr ----------------------------------------------------------
@pytest.fixture
def jwks_file(app: Flask, client: FlaskClient, printed: dict, tmp_path: Path) -> Path:
    saved = tmp_path / "jwks.json"
    saved.write_bytes(client.get("/.well-known/jwks.json").data)
    return saved


def verify_qr(text: str, jwks: Path | str, **kwargs: Any) -> Any:
    return CliRunner().invoke(main, ["verify-qr", text, "--jwks", str(jwks)], **kwargs)


def test_verify_qr_proves_a_genuine_paper_offline(printed: dict, jwks_file: Path) -> None:
    result = verify_qr(printed["token"], jwks_file)
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    assert verdict["valid"] is True and verdict["reason"] is None
    assert verdict["ma_don_thuoc"] == printed["code"]
    assert verdict["sha256"] == printed["stored"]["content_sha256"]
    assert verdict["printed_at"].endswith("+07:00")
    piped = CliRunner().invoke(main, ["verify-qr", "-", "--jwks", str(jwks_file)],
                               input=printed["token"] + "\r\n")
    assert piped.exit_code == 0, piped.output


def test_verify_qr_says_why_an_altered_or_foreign_qr_is_invalid(printed: dict,
                                                                jwks_file: Path) -> None:
    token = printed["token"]
    altered = with_payload(token, {**payload_of(token), "sha256": "f" * 64})
    result = verify_qr(altered, jwks_file)
    assert result.exit_code == 1
    verdict = json.loads(result.stdout)
    assert verdict["valid"] is False and verdict["reason"] == "bad_signature"
    assert verdict["ma_don_thuoc"] == printed["code"]  # what it claims, unproven
    foreign = verify_qr(foreign_token(printed["code"], "a" * 64), jwks_file)
    assert foreign.exit_code == 1 and json.loads(foreign.stdout)["reason"] == "unknown_kid"


@pytest.mark.parametrize("header", [{"alg": "none"}, {"alg": "none", "kid": "k"},
                                    {"alg": "None"}, {"alg": "HS256", "kid": "k"}])
@pytest.mark.parametrize("signed", [False, True])
def test_verify_qr_says_forged_for_alg_none(printed: dict, jwks_file: Path,
                                            header: dict, signed: bool) -> None:
    """An unsigned token (``alg: none``) is the classic JWT forgery: exit 1, never 'unreadable'."""
    _, payload, signature = printed["token"].split(".")
    forged = f"{b64url_encode(json.dumps(header).encode())}.{payload}.{signature if signed else ''}"
    result = verify_qr(forged, jwks_file)
    assert result.exit_code == 1, result.output
    verdict = json.loads(result.stdout)
    assert verdict["valid"] is False and verdict["reason"] == "unsupported_alg"
    assert verdict["ma_don_thuoc"] == printed["code"]  # what it claims, unproven


def test_verify_qr_unreadable_text_or_key_set_exits_2(printed: dict, jwks_file: Path,
                                                      tmp_path: Path) -> None:
    for junk in ("79001ABCDEFG-c", "", "a.b.c", "x" * 400):
        result = verify_qr(junk, jwks_file)
        assert result.exit_code == 2, (junk, result.stdout)
        assert json.loads(result.stdout)["reason"] == "malformed_jws"
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    result = verify_qr(printed["token"], bad)
    assert result.exit_code == 2 and "key set" in result.output
    assert verify_qr(printed["token"], tmp_path / "missing.json").exit_code == 2


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_no_changed_character_passes_as_genuine(app: Flask, printed: dict,
                                                data: st.DataObject) -> None:
    """Whatever one character of the printed text a forger (or a smudge) changes, it is
    never genuine: the checker says invalid or unreadable."""
    token = printed["token"]
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("AQgw09_-.xZ"))
    altered = token[:position] + replacement + token[position + 1:]
    if altered == token:
        return
    verdict = offline_verdict(altered, services(app).signatures.jwks())
    assert verdict["valid"] is False
    assert verdict["reason"] in {"malformed_jws", "bad_signature", "unknown_kid",
                                 "unsupported_alg"}
