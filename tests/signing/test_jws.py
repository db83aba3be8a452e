"""The gateway's detached JWS: sign/verify laws, each failure's reason, and an independent
JOSE library (jwcrypto) verifying what the gateway signs."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws

from signing.canonical import canonicalize
from signing.errors import VerificationError
from signing.jwk import b64url_decode, b64url_encode, public_jwk, thumbprint
from signing.jws import Signer, read_protected_header, verify_compact, verify_detached, verify_document
from signing.key_store import generate_private_key, private_key_pem
from tests.support.json_strategies import json_values, prescriptions
from tests.support.pki import NOW, prescription


def key_set(*signers: Signer) -> dict[str, Any]:
    return {"keys": [signer.public_jwk for signer in signers]}


def reason_of(payload: bytes, jws: str, jwks: dict[str, Any]) -> str:
    with pytest.raises(VerificationError) as raised:
        verify_detached(payload, jws, jwks)
    return raised.value.reason


# --- laws ------------------------------------------------------------------------------------
@settings(max_examples=60)
@given(document=prescriptions(), alg=st.sampled_from(["EdDSA", "ES256"]))
def test_a_signed_document_verifies(document, alg, ed25519_signer, es256_signer):
    signer = ed25519_signer if alg == "EdDSA" else es256_signer
    signature = signer.sign_document(document)
    assert signature["alg"] == alg and signature["kid"] == signer.kid
    assert verify_document(document, signature["jws"], key_set(signer)) == signer.kid
    # ... and still verifies after a JSON round trip (storage, HTTP, a file).
    assert verify_document(json.loads(json.dumps(document)), signature["jws"],
                           key_set(signer)) == signer.kid


@st.composite
def changed(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A document and a copy changed in one value, one key name, or the order of two lines."""
    document = draw(prescriptions())
    other = json.loads(json.dumps(document))
    change = draw(st.sampled_from(["value", "key", "line_order", "line_value"]))
    lines = other["thong_tin_don_thuoc"]
    if change == "value":
        other["ho_ten_benh_nhan"] += draw(st.text(min_size=1, max_size=3))
    elif change == "key":
        name = draw(st.sampled_from(sorted(other)))
        other[name + draw(st.text(min_size=1, max_size=2))] = other.pop(name)
    elif change == "line_order":
        i, j = draw(st.lists(st.integers(0, len(lines) - 1), min_size=2, max_size=2, unique=True))
        lines[i], lines[j] = lines[j], lines[i]
    else:
        line = draw(st.sampled_from(lines))
        line["so_luong"] += draw(st.integers(min_value=1, max_value=10))
    return document, other


@settings(max_examples=80)
@given(pair=changed())
def test_any_change_to_the_document_fails_as_content_changed(pair, ed25519_signer):
    document, other = pair
    assert canonicalize(document) != canonicalize(other)
    jws = ed25519_signer.sign_document(document)["jws"]
    with pytest.raises(VerificationError) as raised:
        verify_document(other, jws, key_set(ed25519_signer))
    assert raised.value.reason == "content_changed"
    assert raised.value.kid == ed25519_signer.kid


@settings(max_examples=40)
@given(document=prescriptions())
def test_key_order_and_number_spelling_do_not_matter(document, ed25519_signer):
    jws = ed25519_signer.sign_document(document)["jws"]
    reordered = json.loads(json.dumps(dict(reversed(list(document.items())))))
    reordered["thong_tin_don_thuoc"] = [dict(reversed(list(line.items())))
                                        for line in reordered["thong_tin_don_thuoc"]]
    for line in reordered["thong_tin_don_thuoc"]:
        line["so_luong"] = float(line["so_luong"])  # 20 -> 20.0
    assert verify_document(reordered, jws, key_set(ed25519_signer)) == ed25519_signer.kid


@settings(max_examples=60)
@given(payload=st.binary(max_size=200), data=st.data())
def test_any_flipped_bit_in_the_signature_fails(payload, data, any_signer):
    jws = any_signer.sign_detached(payload)
    header, _empty, signature = jws.split(".")
    raw = bytearray(b64url_decode(signature))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= 1 << data.draw(st.integers(0, 7))
    assert reason_of(payload, f"{header}..{b64url_encode(bytes(raw))}",
                     key_set(any_signer)) == "bad_signature"


@settings(max_examples=40)
@given(payload=st.binary(max_size=200), name=st.sampled_from(["iat", "typ", "alg_order"]))
def test_a_changed_protected_header_fails(payload, name, ed25519_signer):
    jws = ed25519_signer.sign_detached(payload)
    header = read_protected_header(jws)
    if name == "iat":
        header["iat"] += 1          # backdating the signing time
    elif name == "typ":
        header["typ"] = "JWT"       # adding a parameter
    else:
        header = dict(reversed(list(header.items())))  # same values, other bytes
    forged = b64url_encode(json.dumps(header).encode()) + "." + jws.split(".", 1)[1]
    assert reason_of(payload, forged, key_set(ed25519_signer)) == "bad_signature"


@settings(max_examples=30)
@given(value=json_values)
def test_webhook_bodies_sign_as_bytes(value, any_signer):
    body = json.dumps(value).encode()
    jws = any_signer.sign_detached(body)
    assert verify_detached(body, jws, key_set(any_signer)) == any_signer.kid
    assert reason_of(body + b" ", jws, key_set(any_signer)) == "content_changed"


# --- the header ------------------------------------------------------------------------------
def test_protected_header_says_alg_kid_signing_time_and_rfc7797(any_signer):
    payload = canonicalize(prescription())
    header = read_protected_header(any_signer.sign_detached(payload))
    assert header == {"alg": any_signer.alg, "kid": any_signer.kid, "iat": int(NOW.timestamp()),
                      "b64": False, "crit": ["b64"],
                      "payload_sha256": hashlib.sha256(payload).hexdigest()}


def test_kid_is_the_rfc7638_thumbprint(any_signer):
    # Independently computed by jwcrypto.
    independent = jwcrypto_jwk.JWK(**any_signer.public_jwk).thumbprint()
    assert any_signer.kid == independent == thumbprint(any_signer.public_jwk)


def test_rfc7638_example_thumbprint():
    # RFC 7638 section 3.1.
    jwk = {"kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
           "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc"
                "_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQ"
                "R0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-b"
                "FTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}
    assert thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_callers_may_add_protected_parameters_but_not_the_signers_own(ed25519_signer):
    jws = ed25519_signer.sign_detached(b"{}", header={"typ": "erx-tree-head"})
    assert read_protected_header(jws)["typ"] == "erx-tree-head"
    assert verify_detached(b"{}", jws, key_set(ed25519_signer)) == ed25519_signer.kid
    with pytest.raises(ValueError, match="reserved"):
        ed25519_signer.sign_detached(b"{}", header={"kid": "mine"})


def test_payload_must_be_bytes(ed25519_signer):
    with pytest.raises(TypeError):
        ed25519_signer.sign_detached("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        verify_detached("text", ed25519_signer.sign_detached(b""), key_set(ed25519_signer))  # type: ignore[arg-type]


def test_from_pem_signs_with_the_same_key():
    key = generate_private_key("EdDSA")
    signer = Signer.from_pem(private_key_pem(key, b"pass phrase"), passphrase=b"pass phrase")
    assert signer.kid == public_jwk(key)["kid"]
    with pytest.raises(ValueError):
        Signer.from_pem(private_key_pem(key, b"pass phrase"), passphrase=b"wrong")


def test_keys_other_than_ed25519_and_p256_are_refused():
    with pytest.raises(ValueError, match="Ed25519 or EC P-256"):
        Signer(private_key=ec.generate_private_key(ec.SECP384R1()))


# --- each failure, its reason ------------------------------------------------------------------
def test_unknown_kid_another_key_and_same_kid_other_key(ed25519_signer):
    other = Signer(private_key=generate_private_key("EdDSA"))
    jws = ed25519_signer.sign_detached(b"payload")
    assert reason_of(b"payload", jws, key_set(other)) == "unknown_kid"
    assert reason_of(b"payload", jws, {"keys": []}) == "unknown_kid"
    assert reason_of(b"payload", jws, {}) == "unknown_kid"
    impostor = {**other.public_jwk, "kid": ed25519_signer.kid}
    assert reason_of(b"payload", jws, {"keys": [impostor]}) == "bad_signature"


def test_a_key_of_another_type_under_the_kid_is_a_bad_signature(ed25519_signer, es256_signer):
    jws = ed25519_signer.sign_detached(b"payload")
    ec_under_kid = {**es256_signer.public_jwk, "kid": ed25519_signer.kid}
    assert reason_of(b"payload", jws, {"keys": [ec_under_kid]}) == "bad_signature"
    broken = {**ed25519_signer.public_jwk, "x": "AAAA"}
    assert reason_of(b"payload", jws, {"keys": [broken]}) == "bad_signature"


def forge(header: dict[str, Any], signature: str = "AAAA") -> str:
    return b64url_encode(json.dumps(header).encode()) + ".." + signature


@pytest.mark.parametrize("jws, reason", [
    ("", "malformed_jws"),
    ("abc", "malformed_jws"),
    ("a.b.c.d", "malformed_jws"),
    ("!!!..AAAA", "malformed_jws"),
    (b64url_encode(b"not json") + "..AAAA", "malformed_jws"),
    (b64url_encode(b"[1]") + "..AAAA", "malformed_jws"),
    (forge({"kid": "k"}), "malformed_jws"),
    (forge({"alg": "EdDSA"}), "malformed_jws"),
    (forge({"alg": "EdDSA", "kid": 7}), "malformed_jws"),
    (forge({"alg": "EdDSA", "kid": "k"}, "A=="), "malformed_jws"),
    (forge({"alg": "none", "kid": "k"}), "unsupported_alg"),
    (forge({"alg": "HS256", "kid": "k"}), "unsupported_alg"),
    (forge({"alg": "EdDSA", "kid": "k", "crit": ["exp"], "exp": 1}), "unsupported_alg"),
    (forge({"alg": "EdDSA", "kid": "k", "crit": "b64"}), "malformed_jws"),
    (forge({"alg": "EdDSA", "kid": "k", "crit": []}), "malformed_jws"),
    (forge({"alg": "EdDSA", "kid": "k", "b64": False}), "malformed_jws"),
    (forge({"alg": "EdDSA", "kid": "k", "b64": "no", "crit": ["b64"]}), "malformed_jws"),
])
def test_malformed_tokens_say_why(jws, reason, ed25519_signer):
    assert reason_of(b"payload", jws, key_set(ed25519_signer)) == reason


def test_an_attached_payload_is_refused(ed25519_signer):
    header, _, signature = ed25519_signer.sign_detached(b"payload").split(".")
    assert reason_of(b"payload", f"{header}.{b64url_encode(b'payload')}.{signature}",
                     key_set(ed25519_signer)) == "malformed_jws"


def test_a_non_string_jws_is_malformed(ed25519_signer):
    assert reason_of(b"x", None, key_set(ed25519_signer)) == "malformed_jws"  # type: ignore[arg-type]


def test_a_document_without_canonical_form_is_content_changed(ed25519_signer):
    jws = ed25519_signer.sign_document({"a": 1})["jws"]
    with pytest.raises(VerificationError) as raised:
        verify_document({"a": float("nan")}, jws, key_set(ed25519_signer))
    assert raised.value.reason == "content_changed"


def test_plain_appendix_f_tokens_verify_too(ed25519_signer):
    """A verifier-side courtesy: RFC 7515 Appendix F with a base64url payload (no b64)."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    jwk = public_jwk(key)
    header = b64url_encode(json.dumps({"alg": "EdDSA", "kid": jwk["kid"]}).encode())
    signature = key.sign(f"{header}.{b64url_encode(b'payload')}".encode())
    jws = f"{header}..{b64url_encode(signature)}"
    assert verify_detached(b"payload", jws, {"keys": [jwk]}) == jwk["kid"]
    assert reason_of(b"payload!", jws, {"keys": [jwk]}) == "bad_signature"


# --- attached compact tokens (the printed QR code) --------------------------------------------
def compact_reason(jws: Any, jwks: dict[str, Any]) -> str:
    with pytest.raises(VerificationError) as raised:
        verify_compact(jws, jwks)
    return raised.value.reason


@settings(max_examples=40)
@given(payload=st.binary(min_size=1, max_size=200), extra=st.sampled_from([None, {"typ": "x"}]))
def test_a_compact_token_carries_and_proves_its_payload(payload, extra, any_signer):
    jws = any_signer.sign_compact(payload, header=extra)
    kid, header, carried = verify_compact(jws, key_set(any_signer))
    assert (kid, carried) == (any_signer.kid, payload)
    assert header == {**(extra or {}), "alg": any_signer.alg, "kid": any_signer.kid}
    assert b64url_decode(jws.split(".")[1]) == payload


def test_the_compact_header_is_only_alg_and_kid(ed25519_signer):
    header = read_protected_header(ed25519_signer.sign_compact(b"{}"))
    assert header == {"alg": "EdDSA", "kid": ed25519_signer.kid}
    for name in ("alg", "kid", "b64", "crit"):
        with pytest.raises(ValueError):
            ed25519_signer.sign_compact(b"x", header={name: "x"})
    with pytest.raises(TypeError):
        ed25519_signer.sign_compact("text")  # type: ignore[arg-type]


@settings(max_examples=80)
@given(payload=st.binary(min_size=1, max_size=120), data=st.data())
def test_any_changed_character_of_a_compact_token_fails(payload, data, ed25519_signer):
    """Whatever character of a readable token changes, it no longer verifies."""
    jws = ed25519_signer.sign_compact(payload)
    position = data.draw(st.integers(0, len(jws) - 1))
    replacement = data.draw(st.sampled_from("AQgw_-09azZ"))
    if jws[position] == "." or jws[position] == replacement:
        return
    altered = jws[:position] + replacement + jws[position + 1:]
    with pytest.raises(VerificationError) as raised:
        verify_compact(altered, key_set(ed25519_signer))
    assert raised.value.reason in {"malformed_jws", "unknown_kid", "bad_signature",
                                   "unsupported_alg"}


def test_compact_tokens_fail_with_their_reason(ed25519_signer, es256_signer):
    jws = ed25519_signer.sign_compact(b'{"a":1}')
    header, payload, signature = jws.split(".")
    assert compact_reason(jws, key_set(es256_signer)) == "unknown_kid"
    other = b64url_encode(b'{"a":2}')
    assert compact_reason(f"{header}.{other}.{signature}", key_set(ed25519_signer)) == "bad_signature"
    detached = ed25519_signer.sign_detached(b"x")
    assert compact_reason(detached, key_set(ed25519_signer)) == "malformed_jws"
    for bad in ("", "abc", "a.b", "a.b.c.d", f"{header}.{payload}.", f"{header}.{payload}.A=",
                f"{header}.é.{signature}", None):
        assert compact_reason(bad, key_set(ed25519_signer)) == "malformed_jws", bad
    unencoded = b64url_encode(json.dumps({"alg": "EdDSA", "kid": ed25519_signer.kid,
                                          "b64": False, "crit": ["b64"]}).encode())
    assert compact_reason(f"{unencoded}.{payload}.{signature}",
                          key_set(ed25519_signer)) == "malformed_jws"
    none = b64url_encode(json.dumps({"alg": "none", "kid": ed25519_signer.kid}).encode())
    # unsigned alg none is a forgery attempt, not an unreadable text (issue 23)
    assert compact_reason(f"{none}.{payload}.", key_set(ed25519_signer)) == "unsupported_alg"
    assert compact_reason(f"{none}.{payload}.{signature}",
                          key_set(ed25519_signer)) == "unsupported_alg"


def test_jwcrypto_verifies_a_compact_token(any_signer):
    jws = any_signer.sign_compact(b'{"ma_don_thuoc":"79001ABCDEFG-c"}')
    token = jwcrypto_jws.JWS()
    token.deserialize(jws)
    token.verify(jwcrypto_jwk.JWK(**any_signer.public_jwk))  # raises if invalid
    assert token.payload == b'{"ma_don_thuoc":"79001ABCDEFG-c"}'


# --- an independent verifier ------------------------------------------------------------------
def test_jwcrypto_verifies_a_gateway_signature(any_signer):
    document = prescription()
    signature = any_signer.sign_document(document)
    token = jwcrypto_jws.JWS()
    token.deserialize(signature["jws"])
    key = jwcrypto_jwk.JWK(**any_signer.public_jwk)
    token.verify(key, detached_payload=canonicalize(document))  # raises if invalid
    assert token.jose_header["kid"] == any_signer.kid
    tampered = jwcrypto_jws.JWS()
    tampered.deserialize(signature["jws"])
    with pytest.raises(jwcrypto_jws.InvalidJWSSignature):
        tampered.verify(key, detached_payload=canonicalize(prescription(ho_ten_benh_nhan="X")))


def test_jwcrypto_signature_verifies_with_the_gateway(ed25519_signer):
    """The other direction: a token made by jwcrypto in the gateway's format verifies."""
    key = jwcrypto_jwk.JWK.generate(kty="OKP", crv="Ed25519")
    public = json.loads(key.export_public())
    kid = thumbprint(public)
    payload = canonicalize(prescription())
    token = jwcrypto_jws.JWS(payload)
    token.add_signature(key, None, json.dumps({"alg": "EdDSA", "kid": kid, "b64": False,
                                               "crit": ["b64"]}))
    token.detach_payload()
    flattened = json.loads(token.serialize())  # JSON serialisation: the payload has dots
    compact = f"{flattened['protected']}..{flattened['signature']}"
    assert verify_detached(payload, compact, {"keys": [{**public, "kid": kid}]}) == kid


def test_base64_helpers_refuse_padding_and_junk():
    assert b64url_decode(b64url_encode(b"\xff\xfe")) == b"\xff\xfe"
    for bad in ["AA==", "A", "é", "A+B/"]:
        with pytest.raises(ValueError):
            b64url_decode(bad if bad != "A+B/" else base64.b64encode(b"\xfb\xff").decode() + "=")


def test_a_signature_spelled_with_other_unused_bits_is_refused(ed25519_signer):
    """Base64url's last character of a 64-byte signature has 4 unused bits: another spelling
    of the same bytes is a changed token, and does not verify."""
    jws = ed25519_signer.sign_compact(b"\x01")
    last = jws[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(last) ^ 1]  # differs in an unused bit only
    altered = jws[:-1] + twin
    assert b64url_decode(altered.split(".")[2]) == b64url_decode(jws.split(".")[2])
    assert compact_reason(altered, key_set(ed25519_signer)) == "bad_signature"


def test_a_detached_signature_spelled_with_other_unused_bits_is_refused(ed25519_signer):
    jws = ed25519_signer.sign_detached(b"payload")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    altered = jws[:-1] + alphabet[alphabet.index(jws[-1]) ^ 1]
    assert b64url_decode(altered.split(".")[2]) == b64url_decode(jws.split(".")[2])
    assert verify_detached(b"payload", jws, key_set(ed25519_signer)) == ed25519_signer.kid
    assert reason_of(b"payload", altered, key_set(ed25519_signer)) == "bad_signature"
