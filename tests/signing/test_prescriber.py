"""Prescribers' signatures against a test PKI made in the test (root -> intermediate -> leaf):
a valid chain passes, and each way it can fail has its own reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from signing.errors import PrescriberSignatureError, TrustAnchorError
from signing.jwk import b64url_decode, b64url_encode
from signing.prescriber import (
    check_prescriber_signature,
    load_trust_anchors,
    unsigned_payload,
    verify_prescriber_signature,
)
from tests.support.pki import NOW, Pki, issue, prescriber_jws, prescription


def refused(call) -> PrescriberSignatureError:
    with pytest.raises(PrescriberSignatureError) as raised:
        call()
    return raised.value


@pytest.fixture
def anchors(pki: Pki):
    return [pki.root.certificate]


def signed(pki: Pki, **options) -> dict:
    document = prescription()
    document["signature"] = prescriber_jws(unsigned_payload(document), options.pop("signer", pki.leaf),
                                           options.pop("chain", None) or pki.chain(), **options)
    return document


def check(document, anchors, policy="optional", now=NOW):
    return check_prescriber_signature(document, policy, anchors, now)


def test_a_valid_chain_passes_and_names_the_signer(pki, anchors):
    verified = check(signed(pki), anchors)
    assert verified.subject == "CN=Bác sĩ Nguyễn Văn A,O=Test PKI,C=VN"
    assert verified.issuer == "CN=Test Signing CA,O=Test PKI,C=VN"
    assert verified.signed_at == datetime(2026, 3, 2, 2, 30, tzinfo=UTC)
    assert verified.alg == "ES256"


def test_the_signature_survives_key_order_and_a_json_round_trip(pki, anchors):
    document = signed(pki)
    reordered = json.loads(json.dumps(dict(reversed(list(document.items())))))
    assert check(reordered, anchors).serial_number == pki.leaf.certificate.serial_number


def test_an_expired_leaf_fails(pki, anchors):
    expired = pki.issue_leaf(not_before=NOW - timedelta(days=400), not_after=NOW - timedelta(days=2))
    error = refused(lambda: check(signed(pki, signer=expired, chain=pki.chain(expired)), anchors))
    assert error.reason == "certificate_expired"
    assert error.subject == "CN=Bác sĩ Trần Văn B,O=Test PKI,C=VN"


def test_validity_is_judged_at_the_signing_time_not_now(pki, anchors):
    # Signed while valid, verified after it expired: still valid (a signature does not expire).
    short = pki.issue_leaf(not_before=NOW - timedelta(days=30), not_after=NOW - timedelta(hours=1))
    document = signed(pki, signer=short, chain=pki.chain(short),
                      extra={"sigT": (NOW - timedelta(days=1)).isoformat()})
    assert check(document, anchors).signed_at == NOW - timedelta(days=1)


def test_a_leaf_not_yet_valid_fails(pki, anchors):
    future = pki.issue_leaf(not_before=NOW + timedelta(days=1), not_after=NOW + timedelta(days=300))
    document = signed(pki, signer=future, chain=pki.chain(future))
    assert refused(lambda: check(document, anchors, now=NOW + timedelta(days=2))).reason == \
        "certificate_not_yet_valid"


def test_a_signing_time_in_the_future_fails(pki, anchors):
    document = signed(pki, extra={"sigT": (NOW + timedelta(hours=1)).isoformat()})
    assert refused(lambda: check(document, anchors)).reason == "signing_time_in_future"
    # within the allowed skew it passes
    assert check_prescriber_signature(document, "optional", anchors, NOW,
                                      clock_skew=timedelta(hours=2)) is not None


def test_a_leaf_from_an_untrusted_root_fails(pki, anchors):
    rogue_root = issue("Rogue Root CA", ca=True)
    rogue_ca = issue("Test Signing CA", issuer=rogue_root, ca=True)  # same name, other key
    rogue_leaf = issue("Bác sĩ Nguyễn Văn A", issuer=rogue_ca, ca=False)
    document = signed(pki, signer=rogue_leaf, chain=[rogue_leaf.der_b64(), rogue_ca.der_b64()])
    assert refused(lambda: check(document, anchors)).reason == "untrusted_chain"


def test_a_chain_without_its_intermediate_fails(pki, anchors):
    document = signed(pki, chain=[pki.leaf.der_b64()])
    assert refused(lambda: check(document, anchors)).reason == "untrusted_chain"


def test_no_trust_anchor_configured_fails_closed(pki):
    assert refused(lambda: check(signed(pki), [])).reason == "untrusted_chain"


def test_a_leaf_without_digital_signature_usage_fails(pki, anchors):
    no_usage = pki.issue_leaf(digital_signature=False)
    document = signed(pki, signer=no_usage, chain=pki.chain(no_usage))
    assert refused(lambda: check(document, anchors)).reason == "key_usage"


def test_a_ca_certificate_used_as_the_signer_fails(pki, anchors):
    # A CA certificate has keyCertSign, not digitalSignature.
    document = signed(pki, signer=pki.intermediate, chain=[pki.intermediate.der_b64()])
    assert refused(lambda: check(document, anchors)).reason == "key_usage"


def test_a_tampered_document_fails(pki, anchors):
    document = signed(pki)
    document["thong_tin_don_thuoc"][0]["so_luong"] = 200
    assert refused(lambda: check(document, anchors)).reason == "bad_signature"


def test_a_tampered_document_with_an_attached_payload_is_content_changed(pki, anchors):
    document = signed(pki, detached=False)
    assert check(document, anchors) is not None  # attached and untouched: valid
    document["ho_ten_benh_nhan"] = "Người Khác"
    assert refused(lambda: check(document, anchors)).reason == "content_changed"


def test_a_tampered_line_order_fails(pki, anchors):
    document = signed(pki)
    lines = document["thong_tin_don_thuoc"]
    lines[0], lines[1] = lines[1], lines[0]
    assert refused(lambda: check(document, anchors)).reason == "bad_signature"


def test_unencoded_payload_rfc7797(pki, anchors):
    document = prescription()
    payload = unsigned_payload(document)
    header = b64url_encode(json.dumps({"alg": "ES256", "x5c": pki.chain(), "b64": False,
                                       "crit": ["b64"], "iat": int(NOW.timestamp()) - 60}).encode())
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(pki.leaf.key.sign(header.encode() + b"." + payload,
                                                  ec.ECDSA(hashes.SHA256())))
    document["signature"] = f"{header}..{b64url_encode(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
    assert check(document, anchors).signed_at == NOW - timedelta(seconds=60)


def test_rsa_and_ed25519_prescribers(pki, anchors):
    rsa_leaf = pki.issue_leaf(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert check(signed(pki, signer=rsa_leaf, chain=pki.chain(rsa_leaf), alg="RS256"), anchors)
    ed_leaf = pki.issue_leaf(key=ed25519.Ed25519PrivateKey.generate())
    assert check(signed(pki, signer=ed_leaf, chain=pki.chain(ed_leaf), alg="EdDSA"), anchors)
    # alg that does not match the certificate's key
    document = signed(pki, signer=ed_leaf, chain=pki.chain(ed_leaf), alg="EdDSA")
    header, rest = document["signature"].split(".", 1)
    claims = json.loads(b64url_decode(header))
    claims["alg"] = "RS256"
    document["signature"] = b64url_encode(json.dumps(claims).encode()) + "." + rest
    assert refused(lambda: check(document, anchors)).reason == "unsupported_alg"


def test_signing_time_falls_back_to_ngay_gio_ke_don(pki, anchors):
    document = prescription()
    document["signature"] = prescriber_jws(unsigned_payload(document), pki.leaf, pki.chain(),
                                           extra={"sigT": None})
    # sigT present but null is malformed; without any signing time the prescribing time counts
    assert refused(lambda: check(document, anchors)).reason == "malformed_jws"
    header = {"alg": "ES256", "x5c": pki.chain()}
    document["signature"] = _sign_with_header(pki, unsigned_payload(document), header)
    verified = check(document, anchors)
    assert verified.signed_at == datetime(2026, 3, 2, 2, 30, tzinfo=UTC)  # 09:30 +07:00
    # the normalised document spells it ISO 8601 with its offset
    normalised = prescription(ngay_gio_ke_don="2026-03-02T09:15:00+07:00")
    normalised["signature"] = _sign_with_header(pki, unsigned_payload(normalised), header)
    assert check(normalised, anchors).signed_at == datetime(2026, 3, 2, 2, 15, tzinfo=UTC)
    # an unreadable prescribing time: the check falls back to now
    unreadable = prescription(ngay_gio_ke_don="hôm qua")
    unreadable["signature"] = _sign_with_header(pki, unsigned_payload(unreadable), header)
    assert check(unreadable, anchors).signed_at == NOW


def _sign_with_header(pki, payload, header):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    encoded = b64url_encode(json.dumps(header).encode())
    r, s = decode_dss_signature(pki.leaf.key.sign(f"{encoded}.{b64url_encode(payload)}".encode(),
                                                  ec.ECDSA(hashes.SHA256())))
    return f"{encoded}..{b64url_encode(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


@pytest.mark.parametrize("header, reason", [
    ({"alg": "ES256"}, "missing_x5c"),
    ({"alg": "ES256", "x5c": []}, "missing_x5c"),
    ({"alg": "ES256", "x5c": "MIIB"}, "malformed_jws"),
    ({"alg": "ES256", "x5c": ["not base64!"]}, "bad_certificate"),
    ({"alg": "ES256", "x5c": ["AAAA"]}, "bad_certificate"),
    ({"alg": "none", "x5c": []}, "unsupported_alg"),
    ({"alg": "HS256"}, "unsupported_alg"),
    ({"alg": "ES256", "crit": ["exp"]}, "unsupported_alg"),
    ({"alg": "ES256", "crit": "b64"}, "malformed_jws"),
    # The gateway's own verifier's rules (one set of header checks, signing.jws.payload_encoded):
    # an empty crit (RFC 7515 4.1.11) and an unlisted b64: false (RFC 7797 6) are malformed.
    ({"alg": "ES256", "crit": []}, "malformed_jws"),
    ({"alg": "ES256", "b64": False}, "malformed_jws"),
    ({"alg": "ES256", "b64": "no"}, "malformed_jws"),
    ({"alg": "ES256", "x5c": "LEAF", "sigT": "yesterday"}, "malformed_jws"),
    ({"alg": "ES256", "x5c": "LEAF", "sigT": "2026-03-02T02:30:00"}, "malformed_jws"),
    ({"alg": "ES256", "x5c": "LEAF", "iat": "1700000000"}, "malformed_jws"),
    ({"alg": "ES256", "x5c": "LEAF", "iat": 10**20}, "malformed_jws"),
])
def test_malformed_signatures_say_why(pki, anchors, header, reason):
    if header.get("x5c") == "LEAF":
        header["x5c"] = pki.chain()
    document = prescription(signature=b64url_encode(json.dumps(header).encode()) + "..AAAA")
    assert refused(lambda: check(document, anchors)).reason == reason


@pytest.mark.parametrize("signature", ["abc", "a.b", "!!!.x.y", b64url_encode(b"[]") + "..AA"])
def test_not_a_jws(anchors, signature):
    assert refused(lambda: check(prescription(signature=signature), anchors)).reason == "malformed_jws"


def test_a_bad_signature_encoding(pki, anchors):
    document = signed(pki)
    document["signature"] = document["signature"].rsplit(".", 1)[0] + ".A"
    assert refused(lambda: check(document, anchors)).reason == "malformed_jws"


def test_a_non_string_signature_is_malformed(anchors):
    document = prescription(signature={"jws": "x"})
    assert refused(lambda: check(document, anchors)).reason == "malformed_jws"


# --- the policy ---------------------------------------------------------------------------------
@pytest.mark.parametrize("empty", ["", "   ", None])
def test_optional_accepts_an_absent_signature_and_required_refuses_it(anchors, empty):
    document = prescription(signature=empty)
    assert check(document, anchors, "optional") is None
    assert refused(lambda: check(document, anchors, "required")).reason == "missing"
    del document["signature"]
    assert check(document, anchors, "optional") is None
    assert refused(lambda: check(document, anchors, "required")).reason == "missing"


def test_off_never_looks_and_optional_still_refuses_a_bad_one(pki, anchors):
    document = signed(pki)
    document["ho_ten_benh_nhan"] = "Người Khác"
    assert check(document, anchors, "off") is None
    assert refused(lambda: check(document, anchors, "optional")).reason == "bad_signature"
    assert refused(lambda: check(document, anchors, "required")).reason == "bad_signature"


def test_an_unknown_policy_is_a_programming_error(anchors):
    with pytest.raises(ValueError, match="policy"):
        check(prescription(), anchors, "sometimes")


def test_a_document_without_canonical_form(pki, anchors):
    document = signed(pki)
    document["can_nang"] = float("nan")
    assert refused(lambda: check(document, anchors)).reason == "content_changed"


def test_direct_verification_of_payload_bytes(pki, anchors):
    payload = unsigned_payload(prescription())
    jws = prescriber_jws(payload, pki.leaf, pki.chain())
    assert verify_prescriber_signature(payload, jws, anchors, now=NOW).subject.startswith("CN=Bác sĩ")
    without_time = _sign_with_header(pki, payload, {"alg": "ES256", "x5c": pki.chain()})
    assert verify_prescriber_signature(payload, without_time, anchors, now=NOW).signed_at == NOW
    with pytest.raises(ValueError, match="timezone"):
        verify_prescriber_signature(payload, without_time, anchors, now=NOW,
                                    signed_at=datetime(2026, 1, 1))


# --- trust anchors ---------------------------------------------------------------------------------
def test_trust_anchors_load_from_pem_files(pki, tmp_path):
    bundle = tmp_path / "roots.pem"
    other = issue("Other Root", ca=True)
    bundle.write_bytes(pki.root.certificate.public_bytes(Encoding.PEM)
                       + other.certificate.public_bytes(Encoding.PEM))
    single = tmp_path / "root.pem"
    single.write_bytes(pki.root.certificate.public_bytes(Encoding.PEM))
    assert len(load_trust_anchors([bundle, str(single)])) == 3


def test_unreadable_trust_anchors_are_a_clear_error(tmp_path):
    with pytest.raises(TrustAnchorError, match=r"missing\.pem"):
        load_trust_anchors([tmp_path / "missing.pem"])
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(TrustAnchorError, match="no PEM certificate"):
        load_trust_anchors([junk])
