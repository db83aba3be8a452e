"""The gateway's signatures at the edge: JWKS, the verify endpoint, readiness, key commands,
offline verification with the CLI, production rules, and the prescriber-signature mapping."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import Encoding
from flask import Flask
from flask.testing import FlaskClient

from gateway import create_app
from gateway.cli import main
from gateway.container import bootstrap
from gateway.core.config import SETTINGS, ConfigError
from gateway.web.context import services
from gateway.web.problems import handle_exception
from signing.errors import NoActiveKey, PrescriberSignatureError
from signing.key_store import COLLECTION, KeyPolicy, KeyStore
from signing.prescriber import unsigned_payload
from tests.support.cli import cli_env
from tests.support.pki import NOW, Pki, build_pki, issue, prescriber_jws, prescription


def signer() -> Any:
    return services().signatures.signer()


def sign_prescription(document: Any) -> dict[str, str]:
    return services().signatures.sign_prescription(document)


def verify_prescription(document: Any, jws: str) -> str:
    return services().signatures.verify_prescription(document, jws)


def jwks() -> dict[str, Any]:
    return services().signatures.jwks()


def key_store() -> KeyStore:
    return services().signatures.key_store


def check_prescriber(document: Any, *, now: Any = None) -> Any:
    return services().signatures.check_prescriber(document, now=now)


PASSPHRASE = "a long production passphrase for the signing keys"


def resource(app: Flask, document: dict[str, Any]) -> dict[str, Any]:
    """A prescription resource as README.md "Prescriptions" describes it, signed by the app."""
    with app.app_context():
        return {"ma_don_thuoc": document["ma_don_thuoc"], "status": "issued",
                "prescription": document, "signature": sign_prescription(document)}


def run_cli(app_config: dict[str, Any], *args: str, **env: str):
    return CliRunner().invoke(main, list(args), env={**cli_env(app_config), **env})


# --- JWKS and the verify endpoint ------------------------------------------------------------------
def test_jwks_is_public_and_lists_the_signing_key(app: Flask, client: FlaskClient):
    with app.app_context():
        kid = signer().kid  # development: generated on first use
    answer = client.get("/.well-known/jwks.json")
    assert answer.status_code == 200
    assert answer.mimetype == "application/jwk-set+json"
    assert answer.headers["Cache-Control"] == "public, max-age=30"
    (key,) = answer.get_json()["keys"]
    assert key["kid"] == kid and key["alg"] == "EdDSA" and key["kty"] == "OKP"
    assert "d" not in key


def test_verify_endpoint_says_valid_or_why_not(app: Flask, client: FlaskClient, auth_headers):
    headers = auth_headers("pharmacy", "NT001")
    saved = resource(app, prescription())
    body = {"prescription": saved["prescription"], "jws": saved["signature"]["jws"]}
    answer = client.post("/v2/signatures/verify", json=body, headers=headers)
    assert answer.status_code == 200
    assert answer.get_json() == {"valid": True, "kid": saved["signature"]["kid"], "reason": None}

    changed = json.loads(json.dumps(body))
    changed["prescription"]["thong_tin_don_thuoc"][0]["so_luong"] = 200
    assert client.post("/v2/signatures/verify", json=changed, headers=headers).get_json() == \
        {"valid": False, "kid": saved["signature"]["kid"], "reason": "content_changed"}
    broken = {**body, "jws": "not-a-jws"}
    assert client.post("/v2/signatures/verify", json=broken, headers=headers).get_json() == \
        {"valid": False, "kid": None, "reason": "malformed_jws"}


def test_verify_endpoint_needs_a_token_and_both_fields(client: FlaskClient, auth_headers):
    assert client.post("/v2/signatures/verify", json={}).status_code == 401
    headers = auth_headers("regulator", "SYT79")
    answer = client.post("/v2/signatures/verify", json={"prescription": [], "jws": 3},
                         headers=headers)
    assert answer.status_code == 422
    assert {item["pointer"] for item in answer.get_json()["errors"]} == {"/prescription", "/jws"}
    assert client.post("/v2/signatures/verify", data="{", headers={
        **headers, "Content-Type": "application/json"}).status_code == 400


def test_the_endpoints_are_documented(client: FlaskClient):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert "/.well-known/jwks.json" in paths and "/v2/signatures/verify" in paths


def test_readiness_includes_the_signing_key(client: FlaskClient):
    answer = client.get("/readyz")
    assert answer.status_code == 200 and answer.get_json()["checks"]["signing_key"] == "ok"


# --- rotation, online and offline --------------------------------------------------------------------
def test_a_prescription_signed_before_rotation_verifies_after_online_and_offline(
        app_config: dict[str, Any], tmp_path: Path, auth_headers) -> None:
    app = create_app({**app_config, "SIGNING_KEY_REFRESH_SECONDS": 0})
    try:
        generated = run_cli(app_config, "keys", "generate")
        assert generated.exit_code == 0, generated.output
        first_kid = json.loads(generated.stdout)["kid"]
        before = resource(app, prescription())
        assert before["signature"]["kid"] == first_kid

        rotated = run_cli(app_config, "keys", "rotate", "--alg", "ES256")
        assert rotated.exit_code == 0, rotated.output
        second_kid = json.loads(rotated.stdout)["kid"]
        # the rotation reaches this process through its change feed: wait for it, not a time
        found = services(app)
        assert found.feed.wait_for(lambda: found.signatures.signer().kid == second_kid, 30)
        after = resource(app, prescription(ma_don_thuoc="79001Z9Y8X7W-c"))
        assert after["signature"]["kid"] == second_kid and after["signature"]["alg"] == "ES256"

        listed = json.loads(run_cli(app_config, "keys", "list").stdout)
        assert [(key["kid"], key["state"]) for key in listed] == \
            [(first_kid, "retired"), (second_kid, "active")]

        client = app.test_client()
        published = client.get("/.well-known/jwks.json").get_json()
        assert [key["kid"] for key in published["keys"]] == [first_kid, second_kid]
        headers = auth_headers("pharmacy", "NT002")
        for saved in (before, after):
            answer = client.post("/v2/signatures/verify", headers=headers, json={
                "prescription": saved["prescription"], "jws": saved["signature"]["jws"]})
            assert answer.get_json()["valid"] is True

        # Offline: a saved resource and a saved JWKS file, no network.
        jwks_file = tmp_path / "jwks.json"
        jwks_file.write_text(json.dumps(published))
        saved_file = tmp_path / "don-thuoc.json"
        saved_file.write_text(json.dumps(before, ensure_ascii=False), encoding="utf-8")
        offline = CliRunner().invoke(main, ["verify", str(saved_file), "--jwks", str(jwks_file)])
        assert offline.exit_code == 0, offline.output
        assert json.loads(offline.stdout)["kid"] == first_kid
    finally:
        services(app).close()


def test_cli_keys_generate_refuses_a_second_key(app_config: dict[str, Any]):
    assert run_cli(app_config, "keys", "generate").exit_code == 0
    again = run_cli(app_config, "keys", "generate")
    assert again.exit_code != 0 and "keys rotate" in again.output


@pytest.fixture
def saved(app: Flask, tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    signed = resource(app, prescription())
    with app.app_context():
        key_set = jwks()
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(key_set))
    saved_file = tmp_path / "resource.json"
    saved_file.write_text(json.dumps(signed))
    return saved_file, jwks_file, signed


def test_cli_verify_says_why_and_exits_1(saved, tmp_path: Path):
    saved_file, jwks_file, signed = saved
    signed["prescription"]["ho_ten_benh_nhan"] = "Người Khác"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(signed))
    result = CliRunner().invoke(main, ["verify", str(tampered), "--jwks", str(jwks_file)])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["reason"] == "content_changed"

    empty_jwks = tmp_path / "empty.json"
    empty_jwks.write_text('{"keys": []}')
    result = CliRunner().invoke(main, ["verify", str(saved_file), "--jwks", str(empty_jwks)])
    assert result.exit_code == 1 and json.loads(result.stdout)["reason"] == "unknown_kid"


def test_cli_verify_accepts_the_verify_endpoint_body_too(saved, tmp_path: Path):
    _, jwks_file, signed = saved
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"prescription": signed["prescription"],
                                "jws": signed["signature"]["jws"]}))
    assert CliRunner().invoke(main, ["verify", str(body), "--jwks", str(jwks_file)]).exit_code == 0


@pytest.mark.parametrize("content, words", [
    ("not json", "Expecting value"),
    ("[]", "not a JSON object"),
    ('{"prescription": {}}', "signature.jws"),
])
def test_cli_verify_unreadable_input_exits_2(saved, tmp_path: Path, content: str, words: str):
    _, jwks_file, _ = saved
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = CliRunner().invoke(main, ["verify", str(bad), "--jwks", str(jwks_file)])
    assert result.exit_code == 2 and words in result.output


def test_cli_verify_unreadable_jwks_exits_2(saved, tmp_path: Path):
    saved_file, _, _ = saved
    for content in ("{", '{"keys": {}}'):
        bad = tmp_path / "bad-jwks.json"
        bad.write_text(content)
        result = CliRunner().invoke(main, ["verify", str(saved_file), "--jwks", str(bad)])
        assert result.exit_code == 2 and "key set" in result.output
    missing = CliRunner().invoke(main, ["verify", str(tmp_path / "none.json"), "--jwks", str(bad)])
    assert missing.exit_code == 2


def test_cli_verify_fetches_the_jwks_from_a_url(saved):
    saved_file, jwks_file, _ = saved
    served = jwks_file.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 200 if self.path == "/.well-known/jwks.json" else 404
            self.send_response(status)
            self.send_header("Content-Type", "application/jwk-set+json")
            self.end_headers()
            self.wfile.write(served if status == 200 else b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        ok = CliRunner().invoke(main, ["verify", str(saved_file), "--jwks",
                                       f"{base}/.well-known/jwks.json"])
        assert ok.exit_code == 0, ok.output
        missing = CliRunner().invoke(main, ["verify", str(saved_file), "--jwks", f"{base}/nope"])
        assert missing.exit_code == 2 and "cannot fetch" in missing.output
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- production rules ----------------------------------------------------------------------------------
def production(app_config: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A production configuration: other areas' required secrets filled in, so only the
    signature rules are under test."""
    secrets = {setting.name: "s" * 48 for setting in SETTINGS
               if setting.secret and not app_config.get(setting.name, setting.default)}
    return {**app_config, **secrets, "ENV": "production", "SIGNING_KEY_PASSPHRASE": PASSPHRASE,
            **changes}


def production_env(app_config: dict[str, Any]) -> dict[str, str]:
    return {f"ERX_{name}": str(value) for name, value in production(app_config).items()
            if name in {setting.name for setting in SETTINGS if setting.secret}
            or name in ("ENV", "DATA_KEY_FILE")}


def test_production_refuses_to_start_without_a_passphrase(app_config: dict[str, Any]):
    with pytest.raises(ConfigError, match="ERX_SIGNING_KEY_PASSPHRASE"):
        create_app(production(app_config, SIGNING_KEY_PASSPHRASE=""))


def test_production_refuses_to_start_with_an_unencrypted_key(app_config: dict[str, Any], database):
    development = KeyStore(database[COLLECTION], policy=KeyPolicy(production=False))
    development.generate()
    with pytest.raises(ConfigError, match="unencrypted"):
        create_app(production(app_config))


def test_production_is_not_ready_until_a_key_is_generated(app_config: dict[str, Any]):
    app = create_app(production(app_config))
    try:
        client = app.test_client()
        answer = client.get("/readyz")
        assert answer.status_code == 503 and answer.get_json()["checks"]["signing_key"] == "failing"
        with app.app_context():
            with pytest.raises(NoActiveKey):
                signer()  # production never generates a key by itself
            bootstrap(services(app))  # nor does `erx-gateway run`
            assert key_store().records() == []
        env = production_env(app_config)
        no_passphrase = run_cli(app_config, "keys", "generate",
                                **{**env, "ERX_SIGNING_KEY_PASSPHRASE": ""})
        assert no_passphrase.exit_code != 0 and "PASSPHRASE" in no_passphrase.output
        generated = run_cli(app_config, "keys", "generate", **env)
        assert generated.exit_code == 0, generated.output
        assert json.loads(generated.stdout)["encrypted"] is True
        assert client.get("/readyz").status_code == 200
    finally:
        services(app).close()


def test_a_wrong_passphrase_refuses_to_start(app_config: dict[str, Any], database):
    KeyStore(database[COLLECTION], policy=KeyPolicy(passphrase=b"another")).generate()
    with pytest.raises(ConfigError, match="passphrase"):
        create_app(production(app_config))


def test_run_bootstraps_a_development_key(app: Flask):
    with app.app_context():
        bootstrap(services(app))  # what `erx-gateway run` does before gunicorn starts
        bootstrap(services(app))
        (record,) = key_store().records()
        assert record.state == "active" and not record.encrypted


def test_an_unknown_signing_alg_setting_is_refused(app_config: dict[str, Any]):
    with pytest.raises(ConfigError, match="ERX_SIGNING_ALG"):
        create_app({**app_config, "SIGNING_ALG": "RS256"})


def test_es256_setting(app_config: dict[str, Any]):
    app = create_app({**app_config, "SIGNING_ALG": "ES256"})
    try:
        with app.app_context():
            signature = sign_prescription(prescription())
            assert signature["alg"] == "ES256"
            assert verify_prescription(prescription(), signature["jws"]) == signature["kid"]
    finally:
        services(app).close()


# --- prescriber signatures -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pki() -> Pki:
    return build_pki()


@pytest.fixture
def anchored_app(app_config: dict[str, Any], pki: Pki, tmp_path: Path):
    anchor = tmp_path / "national-root.pem"
    anchor.write_bytes(pki.root.certificate.public_bytes(Encoding.PEM))
    app = create_app({**app_config, "PRESCRIBER_SIGNATURE": "required",
                      "PRESCRIBER_TRUST_ANCHORS": (str(anchor),)})
    yield app
    services(app).close()


def test_check_prescriber_applies_the_configured_policy(anchored_app: Flask, pki: Pki):
    document = prescription()
    document["signature"] = prescriber_jws(unsigned_payload(document), pki.leaf, pki.chain())
    with anchored_app.test_request_context():
        assert check_prescriber(document, now=NOW).subject.startswith("CN=Bác sĩ")
        with pytest.raises(PrescriberSignatureError) as raised:
            check_prescriber(prescription(), now=NOW)
        assert raised.value.reason == "missing"
        answer = handle_exception(raised.value)
    assert answer.status_code == 422
    (item,) = answer.get_json()["errors"]
    assert item["code"] == "signature.prescriber_invalid" and item["reason"] == "missing"
    assert item["pointer"] == "/signature"


def test_an_untrusted_prescriber_is_refused_through_the_app(anchored_app: Flask):
    rogue_root = issue("Rogue Root", ca=True)
    rogue_ca = issue("Rogue CA", issuer=rogue_root, ca=True)
    rogue = issue("Bác sĩ Giả", issuer=rogue_ca, ca=False)
    document = prescription()
    document["signature"] = prescriber_jws(unsigned_payload(document), rogue,
                                           [rogue.der_b64(), rogue_ca.der_b64()])
    with anchored_app.app_context(), pytest.raises(PrescriberSignatureError) as raised:
        check_prescriber(document, now=NOW)
    assert raised.value.reason == "untrusted_chain"


def test_trust_anchor_settings_are_checked_at_start(app_config: dict[str, Any], tmp_path: Path):
    with pytest.raises(ConfigError, match="ERX_PRESCRIBER_TRUST_ANCHORS"):
        create_app({**app_config, "PRESCRIBER_TRUST_ANCHORS": (str(tmp_path / "none.pem"),)})
    with pytest.raises(ConfigError, match="national root CA"):
        create_app(production(app_config, PRESCRIBER_SIGNATURE="required"))


def test_an_unusable_signing_key_answers_503_without_details(app: Flask):
    with app.test_request_context():
        answer = handle_exception(NoActiveKey())
    assert answer.status_code == 503
    assert "keys generate" not in answer.get_data(as_text=True)
