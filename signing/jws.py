"""The gateway's signatures: compact JWS with a detached, unencoded payload.

Format (chosen for this gateway; README "Signatures" says the same)::

    BASE64URL(protected header) ".." BASE64URL(signature)

- RFC 7515 Appendix F (detached content): the payload segment is empty; the verifier
  supplies the payload (the RFC 8785 bytes of a document, or a webhook body) itself.
- RFC 7797 (``"b64": false``, ``"crit": ["b64"]``): the signature covers the payload bytes
  as they are, not their base64url form, so a verifier hashes exactly the bytes it holds.
- Protected header: ``alg`` (``EdDSA`` default, or ``ES256``), ``kid`` (RFC 7638 thumbprint
  of the public key), ``iat`` (signing time, seconds since the epoch), ``payload_sha256``
  (hex SHA-256 of the payload; lets a verifier tell "content changed" from "bad signature"),
  ``b64`` and ``crit``. Extra protected parameters may be added by the caller (e.g. ``typ``).

The header is serialised with RFC 8785, so a signature is deterministic for Ed25519 at a
given second. Any JOSE library with RFC 7797 support (jwcrypto, the ``jose`` JS package, ...)
verifies these tokens given the payload.

Attached tokens (:meth:`Signer.sign_compact`, :func:`verify_compact`) are plain RFC 7515
compact serialisations, ``BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature)``,
with the smallest header (``alg``, ``kid`` and what the caller adds): they carry their payload,
for where nothing else does (the QR code of a printed prescription).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from signing.canonical import canonicalize
from signing.errors import CanonicalizationError, VerificationError
from signing.jwk import (
    ALGORITHMS,
    PrivateKey,
    PublicKey,
    algorithm_of,
    b64url_decode,
    b64url_encode,
    public_jwk,
    public_key_from_jwk,
)

_RESERVED = frozenset({"alg", "kid", "iat", "b64", "crit", "payload_sha256"})
_RESERVED_COMPACT = frozenset({"alg", "kid", "b64", "crit"})


class Signer:
    """Signs payloads with one private key under one ``kid``.

    Thread-safe: the keys of pyca/cryptography are immutable.
    """

    def __init__(self, *, private_key: PrivateKey, kid: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """``kid`` defaults to the RFC 7638 thumbprint of the public key.

        Raises:
            ValueError: the key is neither Ed25519 nor ECDSA P-256.
        """
        self.alg = algorithm_of(private_key)
        self._key = private_key
        self.public_jwk = public_jwk(private_key)
        self.kid = kid or self.public_jwk["kid"]
        self.public_jwk["kid"] = self.kid
        self._clock = clock

    @classmethod
    def from_pem(cls, pem: bytes, *, passphrase: bytes | None = None, kid: str | None = None,
                 clock: Callable[[], float] = time.time) -> Signer:
        """A signer from a PKCS#8 PEM private key, encrypted (give ``passphrase``) or not.

        Raises:
            ValueError: the PEM does not parse, the passphrase is wrong or missing, or the key
                is neither Ed25519 nor ECDSA P-256.
            TypeError: a passphrase was given for an unencrypted key.
        """
        key = serialization.load_pem_private_key(pem, password=passphrase)
        return cls(private_key=key, kid=kid, clock=clock)  # type: ignore[arg-type]

    def sign_detached(self, payload: bytes, *, header: Mapping[str, Any] | None = None) -> str:
        """A compact detached JWS (``b64: false``) over ``payload``.

        ``header``: extra protected header parameters (e.g. ``{"typ": "erx-webhook"}``); the
        names ``alg``, ``kid``, ``iat``, ``b64``, ``crit`` and ``payload_sha256`` are the
        signer's own.

        Raises:
            ValueError: ``header`` tries to set one of the signer's own parameters.
            TypeError: ``payload`` is not bytes.
        """
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise TypeError("payload must be bytes")
        payload = bytes(payload)
        extra = dict(header or {})
        clash = _RESERVED.intersection(extra)
        if clash:
            raise ValueError(f"header parameters reserved to the signer: {sorted(clash)}")
        protected = {**extra, "alg": self.alg, "kid": self.kid, "iat": int(self._clock()),
                     "payload_sha256": hashlib.sha256(payload).hexdigest(),
                     "b64": False, "crit": ["b64"]}
        encoded_header = b64url_encode(canonicalize(protected))
        signature = self._sign(encoded_header.encode("ascii") + b"." + payload)
        return f"{encoded_header}..{b64url_encode(signature)}"

    def sign_document(self, obj: Any, *, header: Mapping[str, Any] | None = None) -> dict[str, str]:
        """Sign the RFC 8785 form of a JSON document: ``{"alg", "kid", "jws"}``.

        This is the ``signature`` object of a prescription resource (README.md "Signatures").

        Raises:
            signing.errors.CanonicalizationError: the document has no canonical form.
        """
        return {"alg": self.alg, "kid": self.kid,
                "jws": self.sign_detached(canonicalize(obj), header=header)}

    def sign_compact(self, payload: bytes, *, header: Mapping[str, Any] | None = None) -> str:
        """A compact JWS carrying ``payload`` (RFC 7515 section 7.1, base64url payload).

        The protected header is ``alg`` and ``kid`` plus ``header`` (RFC 8785 form), nothing
        else: the token stays as short as the payload allows.

        Raises:
            ValueError: ``header`` tries to set ``alg``, ``kid``, ``b64`` or ``crit``.
            TypeError: ``payload`` is not bytes.
        """
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise TypeError("payload must be bytes")
        extra = dict(header or {})
        clash = _RESERVED_COMPACT.intersection(extra)
        if clash:
            raise ValueError(f"header parameters reserved to the signer: {sorted(clash)}")
        encoded_header = b64url_encode(canonicalize({**extra, "alg": self.alg, "kid": self.kid}))
        signing_input = f"{encoded_header}.{b64url_encode(bytes(payload))}"
        signature = self._sign(signing_input.encode("ascii"))
        return f"{signing_input}.{b64url_encode(signature)}"

    def _sign(self, signing_input: bytes) -> bytes:
        if isinstance(self._key, ed25519.Ed25519PrivateKey):
            return self._key.sign(signing_input)
        der = self._key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def read_protected_header(jws: str) -> dict[str, Any]:
    """The protected header of a compact JWS, not verified.

    Raises:
        VerificationError: ``malformed_jws`` (not three dot-separated parts, header not
            base64url JSON object).
    """
    if not isinstance(jws, str):
        raise VerificationError("malformed_jws", "the JWS must be a string")
    parts = jws.split(".")
    if len(parts) != 3:
        raise VerificationError("malformed_jws", "a compact JWS has three parts separated by '.'")
    try:
        return decode_header(parts[0])
    except HeaderError as exc:
        raise VerificationError(exc.reason, exc.message) from None


class HeaderError(ValueError):
    """A protected header breaks RFC 7515 or RFC 7797; ``reason`` is ``malformed_jws`` or
    ``unsupported_alg``, as the verifiers' own errors name them (each verifier re-raises it as
    its own exception: :class:`VerificationError`, ``PrescriberSignatureError``)."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(f"{reason}: {message}")


def decode_header(encoded: str) -> dict[str, Any]:
    """The JSON object of a base64url protected header.

    Raises:
        HeaderError: ``malformed_jws``, not base64url JSON or not an object.
    """
    try:
        header = json.loads(b64url_decode(encoded))
    except (ValueError, UnicodeDecodeError):
        raise HeaderError("malformed_jws", "the protected header is not base64url JSON") from None
    if not isinstance(header, dict):
        raise HeaderError("malformed_jws", "the protected header is not a JSON object")
    return header


def payload_encoded(header: Mapping[str, Any], *, understood: frozenset[str] = frozenset({"b64"})
                    ) -> bool:
    """Whether the payload is base64url-encoded (RFC 7797 ``b64``, true by default), after the
    checks every verifier makes of ``crit`` and ``b64``: ``crit`` a non-empty list of names
    (RFC 7515 section 4.1.11) the verifier ``understood``, ``b64`` a boolean listed in ``crit``
    when false (RFC 7797 section 6).

    Raises:
        HeaderError: ``unsupported_alg`` for a critical parameter not understood,
            ``malformed_jws`` for anything else.
    """
    crit = header.get("crit", [])
    if not isinstance(crit, list) or not all(isinstance(name, str) for name in crit) \
            or ("crit" in header and not crit):
        raise HeaderError("malformed_jws", "crit must be a non-empty list of names")
    unknown = set(crit) - understood
    if unknown:
        raise HeaderError("unsupported_alg", f"unknown critical parameters {sorted(unknown)}")
    b64 = header.get("b64", True)
    if not isinstance(b64, bool):
        raise HeaderError("malformed_jws", "b64 must be a boolean")
    if b64 is False and "b64" not in crit:
        raise HeaderError("malformed_jws", "b64: false must be listed in crit")
    return b64


def verify_detached(payload: bytes, jws: str, jwks: Mapping[str, Any]) -> str:
    """Verify a detached compact JWS over ``payload`` with a key set; return the ``kid``.

    ``jwks`` is a JWK Set (``{"keys": [...]}``, RFC 7517 section 5), e.g. the gateway's
    ``/.well-known/jwks.json``. Both RFC 7797 (``b64: false``, what :class:`Signer` makes)
    and plain RFC 7515 Appendix F tokens (base64url payload) are accepted.

    Raises:
        VerificationError: with ``reason`` ``malformed_jws``, ``unsupported_alg``,
            ``unknown_kid``, ``content_changed`` or ``bad_signature`` (see
            :class:`signing.errors.VerificationError`).
    """
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError("payload must be bytes")
    payload = bytes(payload)
    header = read_protected_header(jws)
    encoded_header, attached, encoded_signature = jws.split(".")
    if attached:
        raise VerificationError("malformed_jws", "the payload must be detached (empty middle part)")
    try:
        signature = b64url_decode(encoded_signature)
    except ValueError:
        raise VerificationError("malformed_jws", "the signature is not base64url") from None
    alg, kid = header.get("alg"), header.get("kid")
    if not isinstance(alg, str) or not isinstance(kid, str) or not kid:
        raise VerificationError("malformed_jws", "the header needs string alg and kid")
    if alg not in ALGORITHMS:
        raise VerificationError("unsupported_alg", f"alg {alg!r} is not one of {ALGORITHMS}", kid=kid)
    b64 = _b64_parameter(header, kid)
    key = _find_key(jwks, kid, alg)
    claimed = header.get("payload_sha256")
    if claimed is not None and claimed != hashlib.sha256(payload).hexdigest():
        raise VerificationError("content_changed", "the payload differs from the one signed", kid=kid)
    signed_payload = b64url_encode(payload).encode("ascii") if b64 else payload
    signing_input = encoded_header.encode("ascii") + b"." + signed_payload
    # As in verify_compact: a signature spelled non-canonically (other unused bits in its last
    # base64url character) is refused, so no changed character of a signature verifies.
    if b64url_encode(signature) != encoded_signature \
            or not _signature_holds(key, signature, signing_input):
        raise VerificationError("bad_signature", "the signature does not verify with key " + kid,
                                kid=kid)
    return kid


def verify_compact(jws: str, jwks: Mapping[str, Any]) -> tuple[str, dict[str, Any], bytes]:
    """Verify a compact JWS that carries its payload; return ``(kid, header, payload)``.

    Structure is checked before the key and the signature, so ``malformed_jws`` means the
    text cannot be read as such a token at all, and any change to a readable token (its
    header, payload or signature) is ``bad_signature`` or ``unknown_kid``; a readable header
    naming another algorithm (``none``, even unsigned) is ``unsupported_alg`` first.

    Raises:
        VerificationError: ``malformed_jws`` (not three base64url parts, an empty payload or
            signature, ``b64: false``, the header not a JSON object with string ``alg`` and ``kid``),
            ``unsupported_alg``, ``unknown_kid`` or ``bad_signature`` (also for a signature
            not spelled in canonical base64url).
    """
    header = read_protected_header(jws)
    encoded_header, encoded_payload, encoded_signature = jws.split(".")
    alg, kid = header.get("alg"), header.get("kid")
    # A readable header naming an algorithm we never sign with ("none" above all, with or
    # without a signature or kid) is a forgery attempt, not an unreadable text.
    if isinstance(alg, str) and alg not in ALGORITHMS:
        raise VerificationError("unsupported_alg", f"alg {alg!r} is not one of {ALGORITHMS}",
                                kid=kid if isinstance(kid, str) else None)
    if not encoded_payload:
        raise VerificationError("malformed_jws", "the payload is detached (empty middle part)")
    if not encoded_signature:
        raise VerificationError("malformed_jws", "the token is not signed (empty last part)")
    try:
        payload = b64url_decode(encoded_payload)
        signature = b64url_decode(encoded_signature)
    except ValueError:
        raise VerificationError("malformed_jws", "the payload or signature is not base64url") from None
    if not isinstance(alg, str) or not isinstance(kid, str) or not kid:
        raise VerificationError("malformed_jws", "the header needs string alg and kid")
    if alg not in ALGORITHMS:
        raise VerificationError("unsupported_alg", f"alg {alg!r} is not one of {ALGORITHMS}", kid=kid)
    if not _b64_parameter(header, kid):
        raise VerificationError("malformed_jws", "an attached payload must be base64url (no b64: false)",
                                kid=kid)
    key = _find_key(jwks, kid, alg)
    signing_input = f"{encoded_header}.{encoded_payload}".encode("ascii")
    # The last base64url character of a 64-byte signature carries 4 unused bits: a token whose
    # text differs there decodes to the same signature. Refuse it, so that no changed
    # character of a printed token still verifies.
    if b64url_encode(signature) != encoded_signature \
            or not _signature_holds(key, signature, signing_input):
        raise VerificationError("bad_signature", "the signature does not verify with key " + kid,
                                kid=kid)
    return kid, header, payload


def verify_document(obj: Any, jws: str, jwks: Mapping[str, Any]) -> str:
    """Verify a detached JWS over the RFC 8785 form of ``obj``; return the ``kid``.

    Raises:
        VerificationError: as :func:`verify_detached`; ``content_changed`` also when the
            document has no canonical form.
    """
    try:
        payload = canonicalize(obj)
    except CanonicalizationError as exc:
        raise VerificationError("content_changed", f"the document has no canonical form: {exc}") from None
    return verify_detached(payload, jws, jwks)


def _b64_parameter(header: Mapping[str, Any], kid: str) -> bool:
    try:
        return payload_encoded(header)
    except HeaderError as exc:
        raise VerificationError(exc.reason, exc.message, kid=kid) from None


def _find_key(jwks: Mapping[str, Any], kid: str, alg: str) -> PublicKey:
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        raise VerificationError("unknown_kid", "the key set has no keys", kid=kid)
    for jwk in keys:
        if isinstance(jwk, Mapping) and jwk.get("kid") == kid:
            if jwk.get("alg", alg) != alg:
                raise VerificationError("bad_signature", f"key {kid} is for {jwk.get('alg')}, "
                                        f"not {alg}", kid=kid)
            try:
                key = public_key_from_jwk(jwk)
            except (ValueError, KeyError, TypeError):
                raise VerificationError("bad_signature", f"key {kid} is not a usable public key",
                                        kid=kid) from None
            if algorithm_of(key) != alg:
                raise VerificationError("bad_signature", f"key {kid} cannot verify {alg}", kid=kid)
            return key
    raise VerificationError("unknown_kid", f"no key {kid} in the key set", kid=kid)


def _signature_holds(key: PublicKey, signature: bytes, signing_input: bytes) -> bool:
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, signing_input)
        else:
            if len(signature) != 64:
                return False
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                       int.from_bytes(signature[32:], "big"))
            key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
