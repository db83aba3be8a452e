"""Prescribers' signatures: the national document's ``signature`` field.

A prescriber (or the HIS on the prescriber's behalf) signs the prescription with the key of an
X.509 certificate issued under the national digital-signature root CA. The gateway reads the
``signature`` as a compact JWS (RFC 7515):

- over the RFC 8785 form of the normalised document **without** its ``signature`` field;
  the payload may be detached (empty middle part, RFC 7515 Appendix F), attached, or
  unencoded (``b64: false``, RFC 7797);
- with ``x5c`` (RFC 7515 section 4.1.6): the signer's certificate first, then intermediates;
- with the signing time in ``sigT`` (ETSI JAdES, ISO 8601) or ``iat`` (seconds since the
  epoch); without either, the caller's ``signed_at`` (the document's ``ngay_gio_ke_don``,
  national or ISO 8601 form, UTC+7 when it has no offset),
  else now.

Checks, each failing with its own :class:`~signing.errors.PrescriberSignatureError` reason:
the JWS shape, the certificate's validity at the signing time, its digitalSignature key
usage, the chain to a configured trust anchor at the signing time (pyca/cryptography's
:mod:`cryptography.x509.verification`), and the signature itself.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store
from cryptography.x509.verification import VerificationError as ChainError

from signing.canonical import canonicalize
from signing.errors import CanonicalizationError, PrescriberSignatureError, TrustAnchorError
from signing.jwk import b64url_decode, b64url_encode
from signing.jws import HeaderError, decode_header, payload_encoded

POLICIES = ("off", "optional", "required")
# Vietnam has no daylight saving time: ngay_gio_ke_don is local time at UTC+7.
VIETNAM = timezone(timedelta(hours=7))

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"256": hashes.SHA256, "384": hashes.SHA384,
                                                   "512": hashes.SHA512}
_EC_CURVES: dict[str, type[ec.EllipticCurve]] = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1,
                                                  "ES512": ec.SECP521R1}
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
              "EdDSA")
#: critical header parameters a prescriber's JWS may name: RFC 7797 b64 and ETSI JAdES sigT
_UNDERSTOOD_CRIT = frozenset({"b64", "sigT"})


@dataclass(frozen=True)
class PrescriberSignature:
    """A verified prescriber signature."""

    subject: str            # RFC 4514 subject of the signer's certificate
    serial_number: int
    alg: str
    signed_at: datetime     # the signing time the checks used
    issuer: str             # RFC 4514 issuer of the signer's certificate


def load_trust_anchors(paths: Iterable[str | Path]) -> list[x509.Certificate]:
    """Read the trust anchors (root CA certificates) from PEM files.

    A file may hold several certificates.

    Raises:
        TrustAnchorError: a file cannot be read, or holds no PEM certificate.
    """
    anchors: list[x509.Certificate] = []
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise TrustAnchorError(f"trust anchor {path}: {exc.strerror or exc}") from None
        try:
            certificates = x509.load_pem_x509_certificates(data)
        except ValueError:
            raise TrustAnchorError(f"trust anchor {path}: no PEM certificate") from None
        anchors.extend(certificates)
    return anchors


def unsigned_payload(document: Mapping[str, Any]) -> bytes:
    """The bytes a prescriber signs: RFC 8785 of the document without ``signature``.

    Raises:
        CanonicalizationError: the document has no canonical form.
    """
    return canonicalize({name: value for name, value in document.items() if name != "signature"})


def verify_prescriber_signature(payload: bytes, jws: str, anchors: Sequence[x509.Certificate],
                                *, now: datetime, signed_at: datetime | None = None,
                                clock_skew: timedelta = timedelta(minutes=5)
                                ) -> PrescriberSignature:
    """Verify a prescriber's compact JWS over ``payload`` with its ``x5c`` chain.

    ``payload``: :func:`unsigned_payload` of the document. ``anchors``: trusted root
    certificates (:func:`load_trust_anchors`). ``now``: the current time (aware).
    ``signed_at``: the signing time when the header carries none (aware).

    Returns:
        The signer's subject, serial number, alg and the signing time used.

    Raises:
        PrescriberSignatureError: with one reason of ``PrescriberSignatureError.REASONS``
            (``missing`` excepted).
    """
    if not isinstance(jws, str) or jws.count(".") < 2:
        raise PrescriberSignatureError("malformed_jws", "not a compact JWS")
    first, rest = jws.split(".", 1)
    carried, encoded_signature = rest.rsplit(".", 1)
    header = _header(first)
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise PrescriberSignatureError("unsupported_alg", f"alg {alg!r} is not one of {ALGORITHMS}")
    b64 = _b64(header)
    try:
        signature = b64url_decode(encoded_signature)
    except ValueError:
        raise PrescriberSignatureError("malformed_jws", "the signature is not base64url") from None
    chain = _certificates(header)
    leaf, intermediates = chain[0], chain[1:]
    subject = leaf.subject.rfc4514_string()

    when = _signing_time(header) or signed_at or now
    if when.tzinfo is None:
        raise ValueError("signing times must be timezone-aware")
    if when > now + clock_skew:
        raise PrescriberSignatureError("signing_time_in_future",
                                       f"signed at {when.isoformat()}, later than now", subject=subject)
    if when < leaf.not_valid_before_utc:
        raise PrescriberSignatureError("certificate_not_yet_valid", f"the certificate is valid "
                                       f"from {leaf.not_valid_before_utc.isoformat()}; signed at "
                                       f"{when.isoformat()}", subject=subject)
    if when > leaf.not_valid_after_utc:
        raise PrescriberSignatureError("certificate_expired", f"the certificate expired "
                                       f"{leaf.not_valid_after_utc.isoformat()}; signed at "
                                       f"{when.isoformat()}", subject=subject)
    if not _has_digital_signature(leaf):
        raise PrescriberSignatureError("key_usage", "the certificate does not allow "
                                       "digitalSignature", subject=subject)
    _verify_chain(leaf, intermediates, anchors, when, subject)

    if carried:
        try:
            signed_payload = b64url_decode(carried) if b64 else carried.encode("utf-8")
        except ValueError:
            raise PrescriberSignatureError("malformed_jws", "the payload is not base64url",
                                           subject=subject) from None
        if signed_payload != payload:
            raise PrescriberSignatureError("content_changed", "the signed content is not this "
                                           "document", subject=subject)
    encoded_payload = (b64url_encode(payload).encode("ascii") if b64 else payload)
    signing_input = first.encode("ascii") + b"." + encoded_payload
    _verify_signature(leaf, alg, signature, signing_input, subject)
    return PrescriberSignature(subject=subject, serial_number=leaf.serial_number, alg=alg,
                               signed_at=when, issuer=leaf.issuer.rfc4514_string())


def check_prescriber_signature(document: Mapping[str, Any], policy: str,
                               anchors: Sequence[x509.Certificate], now: datetime,
                               *, clock_skew: timedelta = timedelta(minutes=5)
                               ) -> PrescriberSignature | None:
    """Apply ``ERX_PRESCRIBER_SIGNATURE`` to a normalised prescription document.

    ``policy``: ``off`` (never looked at), ``optional`` (an absent or empty ``signature`` is
    accepted; a present one must verify), ``required`` (it must be present and verify).
    The signing time defaults to the document's ``ngay_gio_ke_don`` (UTC+7).

    Returns:
        The verified signature, or None when there is none to check.

    Raises:
        PrescriberSignatureError: the signature is missing (``required``) or does not verify;
            the lifecycle reports it as ``signature.prescriber_invalid`` with the reason.
        ValueError: an unknown policy.
    """
    if policy not in POLICIES:
        raise ValueError(f"prescriber signature policy must be one of {POLICIES}, not {policy!r}")
    if policy == "off":
        return None
    jws = document.get("signature")
    if jws is None or (isinstance(jws, str) and not jws.strip()):
        if policy == "required":
            raise PrescriberSignatureError("missing", "a prescriber signature is required")
        return None
    if not isinstance(jws, str):
        raise PrescriberSignatureError("malformed_jws", "the signature must be a string")
    try:
        payload = unsigned_payload(document)
    except CanonicalizationError as exc:
        raise PrescriberSignatureError("content_changed", f"the document has no canonical form: "
                                       f"{exc}") from None
    return verify_prescriber_signature(payload, jws.strip(), anchors, now=now,
                                       signed_at=_prescribed_at(document.get("ngay_gio_ke_don")),
                                       clock_skew=clock_skew)


def _header(encoded: str) -> dict[str, Any]:
    try:
        return decode_header(encoded)
    except HeaderError as exc:
        raise PrescriberSignatureError(exc.reason, exc.message) from None


def _b64(header: Mapping[str, Any]) -> bool:
    try:
        return payload_encoded(header, understood=_UNDERSTOOD_CRIT)
    except HeaderError as exc:
        raise PrescriberSignatureError(exc.reason, exc.message) from None


def _certificates(header: Mapping[str, Any]) -> list[x509.Certificate]:
    x5c = header.get("x5c")
    if x5c is None or x5c == []:
        raise PrescriberSignatureError("missing_x5c", "the header has no x5c certificate chain")
    if not isinstance(x5c, list) or not all(isinstance(item, str) for item in x5c):
        raise PrescriberSignatureError("malformed_jws", "x5c must be a list of base64 strings")
    chain = []
    for index, item in enumerate(x5c):
        try:
            chain.append(x509.load_der_x509_certificate(base64.b64decode(item, validate=True)))
        except (ValueError, binascii.Error):
            raise PrescriberSignatureError("bad_certificate",
                                           f"x5c[{index}] is not a DER certificate") from None
    return chain


def _signing_time(header: Mapping[str, Any]) -> datetime | None:
    if "sigT" in header:
        value = header["sigT"]
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except (AttributeError, ValueError):
            raise PrescriberSignatureError("malformed_jws", "sigT is not an ISO 8601 time") from None
        if when.tzinfo is None:
            raise PrescriberSignatureError("malformed_jws", "sigT has no UTC offset")
        return when
    if "iat" in header:
        value = header["iat"]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PrescriberSignatureError("malformed_jws", "iat is not a number")
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise PrescriberSignatureError("malformed_jws", "iat is out of range") from None
    return None


def _prescribed_at(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    # The national form ``yyyy-mm-dd HH:MM:SS`` (local time) or the normalised ISO 8601 one.
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=VIETNAM)


def _has_digital_signature(certificate: x509.Certificate) -> bool:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return usage.digital_signature


def _verify_chain(leaf: x509.Certificate, intermediates: list[x509.Certificate],
                  anchors: Sequence[x509.Certificate], when: datetime, subject: str) -> None:
    if not anchors:
        raise PrescriberSignatureError("untrusted_chain", "no trust anchor is configured "
                                       "(ERX_PRESCRIBER_TRUST_ANCHORS)", subject=subject)
    # CA certificates: the Web PKI profile (basicConstraints, keyCertSign, ...). The signer's
    # certificate is a document-signing certificate, not a TLS client one: any extended key
    # usage is allowed; key usage is checked above with its own reason.
    ee_policy = (ExtensionPolicy.permit_all()
                 .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, None))
    verifier = (PolicyBuilder().store(Store(list(anchors))).time(when)
                .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                                    ee_policy=ee_policy)
                .build_client_verifier())
    try:
        verifier.verify(leaf, intermediates)
    except ChainError as exc:
        raise PrescriberSignatureError("untrusted_chain", f"the certificate chain does not lead "
                                       f"to a trusted root: {exc}", subject=subject) from None


def _verify_signature(leaf: x509.Certificate, alg: str, signature: bytes, signing_input: bytes,
                      subject: str) -> None:
    try:
        key = leaf.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise PrescriberSignatureError("bad_certificate", "the certificate's key is unusable",
                                       subject=subject) from None
    mismatch = PrescriberSignatureError("unsupported_alg", f"alg {alg} does not match the "
                                        f"certificate's {type(key).__name__}", subject=subject)
    try:
        if alg.startswith(("RS", "PS")):
            if not isinstance(key, rsa.RSAPublicKey):
                raise mismatch
            digest = _HASHES[alg[2:]]()
            pad = (padding.PKCS1v15() if alg.startswith("RS") else
                   padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size))
            key.verify(signature, signing_input, pad, digest)
        elif alg.startswith("ES"):
            if not isinstance(key, ec.EllipticCurvePublicKey) \
                    or not isinstance(key.curve, _EC_CURVES[alg]):
                raise mismatch
            size = (key.curve.key_size + 7) // 8
            if len(signature) != 2 * size:
                raise InvalidSignature()
            der = encode_dss_signature(int.from_bytes(signature[:size], "big"),
                                       int.from_bytes(signature[size:], "big"))
            key.verify(der, signing_input, ec.ECDSA(_HASHES[alg[2:]]()))
        else:
            if not isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
                raise mismatch
            key.verify(signature, signing_input)
    except InvalidSignature:
        raise PrescriberSignatureError("bad_signature", "the signature does not verify over "
                                       "this document", subject=subject) from None
