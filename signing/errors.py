"""Exceptions of the signing package.

Every exception that a verifier can meet carries a machine-readable ``reason`` (a short
snake_case code, listed below) and a human ``message``; the gateway maps them to HTTP at its
edge, the command line prints the reason.
"""

from __future__ import annotations


class SigningError(Exception):
    """Base class of every exception raised by :mod:`signing`."""


class CanonicalizationError(SigningError, ValueError):
    """A value has no RFC 8785 canonical form (NaN, an integer beyond 2**53, a non-string
    object key, a type JSON does not have)."""


class VerificationError(SigningError):
    """A gateway signature (detached JWS) does not verify.

    ``reason`` is one of:

    - ``malformed_jws``: not a compact detached JWS, or its protected header is not JSON, or a
      required header parameter (``alg``, ``kid``) is missing or of the wrong type;
    - ``unsupported_alg``: an ``alg`` other than EdDSA or ES256, or an unknown ``crit`` entry;
    - ``unknown_kid``: no key with the header's ``kid`` in the key set;
    - ``content_changed``: the payload is not the one signed (its SHA-256 differs from the
      ``payload_sha256`` the signature protects);
    - ``bad_signature``: the signature does not verify with the key (forged, truncated, the
      header altered, or a key of another type under that kid).
    """

    REASONS = ("malformed_jws", "unsupported_alg", "unknown_kid", "content_changed",
               "bad_signature")

    def __init__(self, reason: str, message: str | None = None, *, kid: str | None = None) -> None:
        self.reason = reason
        self.message = message or reason.replace("_", " ")
        self.kid = kid
        super().__init__(f"{reason}: {self.message}")


class KeyStoreError(SigningError):
    """The key store cannot give a usable key.

    ``reason`` is one of ``no_active_key``, ``no_key`` (``keys rotate``/``list`` with no key),
    ``key_exists`` (``keys generate`` when a key is already active), ``passphrase_required``
    (production without ``ERX_SIGNING_KEY_PASSPHRASE``), ``unencrypted_key`` (production and
    a key stored without encryption), ``bad_passphrase`` (the key does not decrypt),
    ``unsupported_alg``, ``corrupt_key``.
    """

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason
        self.message = message or reason.replace("_", " ")
        super().__init__(f"{reason}: {self.message}")


class NoActiveKey(KeyStoreError, LookupError):
    """The store holds no active signing key (``erx-gateway keys generate`` makes one)."""

    def __init__(self, message: str = "no active signing key; run `erx-gateway keys generate`") -> None:
        super().__init__("no_active_key", message)


class TrustAnchorError(SigningError):
    """A configured trust-anchor file cannot be read or holds no PEM certificate."""


class PrescriberSignatureError(SigningError):
    """A prescriber's signature (the document's ``signature``) is refused.

    ``reason`` is one of:

    - ``missing``: the policy requires a signature and the document has none;
    - ``malformed_jws``: not a compact JWS, header not JSON, ``x5c`` not a list of base64 DER;
    - ``unsupported_alg``: an ``alg`` outside RS/PS/ES 256-512 and EdDSA, or not matching the
      certificate's key, or an unknown ``crit`` entry;
    - ``missing_x5c``: no certificate chain in the header;
    - ``bad_certificate``: a certificate of ``x5c`` does not parse;
    - ``signing_time_in_future``: the claimed signing time is later than now (beyond the
      allowed clock skew);
    - ``certificate_not_yet_valid`` / ``certificate_expired``: the signer's certificate was not
      valid at the signing time;
    - ``key_usage``: the signer's certificate lacks the digitalSignature key usage;
    - ``untrusted_chain``: the chain does not lead to a configured trust anchor (or a CA in it
      was not valid at the signing time, or no anchor is configured);
    - ``content_changed``: the JWS carries a payload and it is not the document's canonical form;
    - ``bad_signature``: the signature does not verify over the document's canonical form.
    """

    REASONS = ("missing", "malformed_jws", "unsupported_alg", "missing_x5c", "bad_certificate",
               "signing_time_in_future", "certificate_not_yet_valid", "certificate_expired",
               "key_usage", "untrusted_chain", "content_changed", "bad_signature")

    def __init__(self, reason: str, message: str | None = None, *,
                 subject: str | None = None) -> None:
        self.reason = reason
        self.message = message or reason.replace("_", " ")
        self.subject = subject
        super().__init__(f"{reason}: {self.message}")
