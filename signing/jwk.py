"""Public keys as JSON Web Keys (RFC 7517, RFC 8037) and their RFC 7638 thumbprints.

The gateway signs with Ed25519 (JWS ``alg`` EdDSA, JWK ``kty`` OKP) or ECDSA P-256 (``alg``
ES256, ``kty`` EC); its key ids are the base64url SHA-256 thumbprints of the public keys, so
anyone holding a public key can recompute its ``kid``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from signing.canonical import canonicalize

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey

# JWS alg -> the key it needs.
ALGORITHMS = ("EdDSA", "ES256")

# RFC 7638 section 3.2 / RFC 8037 section 2: the members a thumbprint hashes, per kty.
_THUMBPRINT_MEMBERS = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y"),
                       "RSA": ("e", "kty", "n")}


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 section 2) of ``data``."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url.

    Raises:
        ValueError: characters outside the base64url alphabet, padding, or a bad length.
    """
    if not isinstance(text, str) or "=" in text or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("not unpadded base64url") from None
    return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))


def algorithm_of(key: PrivateKey | PublicKey) -> str:
    """The JWS ``alg`` for a key.

    Raises:
        ValueError: neither Ed25519 nor ECDSA P-256.
    """
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "EdDSA"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)) \
            and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise ValueError(f"unsupported signing key {type(key).__name__}: use Ed25519 or EC P-256")


def public_jwk(key: PrivateKey | PublicKey) -> dict[str, str]:
    """The public JWK of a key, with ``kid`` (RFC 7638 thumbprint), ``alg`` and ``use``.

    Raises:
        ValueError: neither Ed25519 nor ECDSA P-256.
    """
    public = key.public_key() if isinstance(key, (ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey)) \
        else key
    alg = algorithm_of(public)
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
    else:
        numbers = public.public_numbers()
        jwk = {"kty": "EC", "crv": "P-256", "x": b64url_encode(numbers.x.to_bytes(32, "big")),
               "y": b64url_encode(numbers.y.to_bytes(32, "big"))}
    return {**jwk, "kid": thumbprint(jwk), "alg": alg, "use": "sig"}


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of a public JWK.

    Raises:
        ValueError: unknown ``kty`` or a required member missing.
    """
    members = _THUMBPRINT_MEMBERS.get(jwk.get("kty", ""))
    if members is None or any(not isinstance(jwk.get(name), str) for name in members):
        raise ValueError("not a public JWK with the members RFC 7638 requires")
    # The required members are strings, so RFC 7638's JSON form is exactly RFC 8785's.
    digest = hashlib.sha256(canonicalize({name: jwk[name] for name in members})).digest()
    return b64url_encode(digest)


def public_key_from_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    """The public key a JWK describes (OKP Ed25519 or EC P-256).

    Raises:
        ValueError: another key type or curve, or coordinates that are not a valid point.
    """
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "OKP" and crv == "Ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
    if kty == "EC" and crv == "P-256":
        x, y = b64url_decode(jwk["x"]), b64url_decode(jwk["y"])
        if len(x) != 32 or len(y) != 32:
            raise ValueError("P-256 coordinates must be 32 bytes")
        numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"),
                                                int.from_bytes(y, "big"), ec.SECP256R1())
        return numbers.public_key()
    raise ValueError(f"unsupported JWK kty={kty!r} crv={crv!r}")
