"""The QR code of a printed prescription: a compact JWS (RFC 7515) signed by the gateway, which
anyone holding the gateway's JWK Set can check with no network (no HTTP here).

The token (README "Printable prescription")::

    BASE64URL({"alg","kid"}) "." BASE64URL({"iat","ma_don_thuoc","sha256"}) "." BASE64URL(sig)

- the protected header is only ``alg`` and ``kid`` (the RFC 7638 thumbprint of the key that
  signed, found in ``/.well-known/jwks.json``), both RFC 8785 serialised;
- the payload is the RFC 8785 form of ``{"iat", "ma_don_thuoc", "sha256"}``: ``iat`` when it
  was printed (seconds since the epoch), the prescription's code, and ``sha256`` the hex
  SHA-256 of its canonical document (``content_sha256``), which is exactly the
  ``payload_sha256`` of the prescription's detached gateway signature.

The token is 346 characters whatever the key (EdDSA or ES256: both sign in 64 bytes), so it
always fits a version 14 QR symbol at error-correction level M in byte mode (73 × 73 modules):
:data:`QR_VERSION` and :data:`QR_ERROR` are what the printed page uses. No ``typ`` is added:
it would cost a QR version, and the gateway signs nothing else with an attached payload (its
other tokens are detached), so the payload's shape already tells what the token is.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.core.errors import QrNotGenuine, error_item
from gateway.signatures.service import Signatures
from signing.canonical import canonicalize
from signing.errors import VerificationError
from signing.jwk import b64url_decode
from signing.jws import verify_compact

QR_VERSION = 14
QR_ERROR = "M"
PAYLOAD_FIELDS = frozenset({"iat", "ma_don_thuoc", "sha256"})
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MAX_CODE = 64
# Why a token is refused: VerificationError's reasons, and one of its own.
NOT_PRESCRIPTION_QR = "not_prescription_qr"
UNREADABLE = "malformed_jws"

# reason -> (stable code, Vietnamese message) of the error the lookups answer.
_ERRORS = {
    UNREADABLE: ("qr.unreadable", "Không đọc được mã QR: đây không phải mã QR đơn thuốc của cổng"),
    "unsupported_alg": ("qr.forged", "Mã QR không hợp lệ: thuật toán ký không được chấp nhận"),
    "unknown_kid": ("qr.forged", "Mã QR không hợp lệ: không phải khóa ký của cổng"),
    "bad_signature": ("qr.forged", "Mã QR không hợp lệ: chữ ký sai, mã đã bị sửa hoặc giả mạo"),
    NOT_PRESCRIPTION_QR: ("qr.not_prescription", "Mã QR do cổng ký nhưng không phải mã QR đơn thuốc"),
}


@dataclass(frozen=True)
class QrClaim:
    """What a genuine printed QR proves: the gateway signed, at ``iat``, that prescription
    ``code`` has content hash ``sha256``; ``kid`` is the key that signed."""

    code: str
    sha256: str
    iat: int
    kid: str


class QrRefused(Exception):
    """A text is not a genuine prescription QR token; ``reason`` says why (one of
    VerificationError's reasons, or ``not_prescription_qr``), ``claimed_code`` is the code an
    unverified but readable payload names."""

    def __init__(self, reason: str, message: str, *, kid: str | None = None,
                 claimed_code: str | None = None) -> None:
        self.reason = reason
        self.message = message
        self.kid = kid
        self.claimed_code = claimed_code
        super().__init__(f"{reason}: {message}")

    @property
    def unreadable(self) -> bool:
        """The text cannot be read as a compact JWS at all."""
        return self.reason == UNREADABLE


def is_qr_text(text: str) -> bool:
    """Whether a lookup was given QR text rather than a code (codes never hold a ``.``)."""
    return "." in text


def qr_payload(code: str, sha256: str, iat: int) -> bytes:
    """The bytes a QR token carries (RFC 8785)."""
    return canonicalize({"iat": iat, "ma_don_thuoc": code, "sha256": sha256})


def claim_of(kid: str, payload: bytes) -> QrClaim:
    """The claim of a verified token's payload.

    Raises:
        QrRefused: ``not_prescription_qr``: not the JSON object of a prescription QR.
    """
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict) or set(body) != PAYLOAD_FIELDS \
            or not isinstance(body["ma_don_thuoc"], str) \
            or not 0 < len(body["ma_don_thuoc"]) <= _MAX_CODE \
            or is_qr_text(body["ma_don_thuoc"]) \
            or not isinstance(body["sha256"], str) or not _SHA256.match(body["sha256"]) \
            or isinstance(body["iat"], bool) or not isinstance(body["iat"], int):
        raise QrRefused(NOT_PRESCRIPTION_QR, "the token is signed by the gateway but is not a "
                        "prescription QR ({iat, ma_don_thuoc, sha256})", kid=kid)
    return QrClaim(code=body["ma_don_thuoc"], sha256=body["sha256"], iat=body["iat"], kid=kid)


def verify_qr(text: str, verify: Callable[[str], tuple[str, dict[str, Any], bytes]]) -> QrClaim:
    """Check a scanned text with ``verify`` (:func:`signing.jws.verify_compact` bound to a key
    set, or the key store's); surrounding blanks a scanner adds do not matter.

    Raises:
        QrRefused: with the reason.
    """
    token = text.strip() if isinstance(text, str) else text
    try:
        kid, _, payload = verify(token)
    except VerificationError as exc:
        raise QrRefused(exc.reason, exc.message, kid=exc.kid,
                        claimed_code=_claimed_code(token)) from None
    return claim_of(kid, payload)


def offline_verdict(text: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """``erx-gateway verify-qr``: a scanned text checked against a saved or fetched JWK Set.

    Returns ``{"valid", "ma_don_thuoc", "sha256", "iat", "kid", "reason", "message"}``; when not
    valid, ``ma_don_thuoc`` is what the (unproven) token claims, if it can be read.
    """
    try:
        claim = verify_qr(text, lambda token: verify_compact(token, jwks))
    except QrRefused as refused:
        return {"valid": False, "ma_don_thuoc": refused.claimed_code, "sha256": None,
                "iat": None, "kid": refused.kid, "reason": refused.reason,
                "message": refused.message}
    return {"valid": True, "ma_don_thuoc": claim.code, "sha256": claim.sha256, "iat": claim.iat,
            "kid": claim.kid, "reason": None,
            "message": "genuine: the gateway signed this prescription code and content hash"}


def refusal_error(refused: QrRefused) -> QrNotGenuine:
    """The 422 a lookup answers for a refused QR text."""
    code, message = _ERRORS.get(refused.reason, _ERRORS["bad_signature"])
    item = error_item("", code, message)
    item.update(parameter="ma_don_thuoc", reason=refused.reason)
    return QrNotGenuine(refused.message, reason=refused.reason, item=item)


class PrescriptionQr:
    """Issues and reads the QR tokens with the gateway's keys."""

    def __init__(self, signatures: Signatures, *, clock: Callable[[], float] = time.time) -> None:
        self.signatures = signatures
        self.clock = clock

    def issue(self, code: str, sha256: str) -> str:
        """A token for prescription ``code`` with content hash ``sha256``, signed now with the
        active key.

        Raises:
            ValueError: ``sha256`` is not 64 lowercase hex digits or ``code`` is no code.
            signing.errors.KeyStoreError: no usable signing key.
        """
        if not _SHA256.match(sha256) or not 0 < len(code) <= _MAX_CODE or is_qr_text(code):
            raise ValueError("a QR token names a prescription code and its hex SHA-256")
        return self.signatures.signer().sign_compact(qr_payload(code, sha256, int(self.clock())))

    def read(self, text: str) -> QrClaim:
        """The claim of a genuine token, checked against every key the gateway ever had.

        Raises:
            gateway.core.errors.QrNotGenuine: not a genuine prescription QR (``qr.unreadable``,
                ``qr.forged`` or ``qr.not_prescription``, with the ``reason``).
        """
        try:
            return verify_qr(text, self.signatures.key_store.verify_compact)
        except QrRefused as refused:
            raise refusal_error(refused) from None


def _claimed_code(token: Any) -> str | None:
    """The code an unverified token's payload names, if it can be read at all."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        return None
    try:
        body = json.loads(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError):
        return None
    code = body.get("ma_don_thuoc") if isinstance(body, dict) else None
    return code if isinstance(code, str) and 0 < len(code) <= _MAX_CODE else None
