"""The gateway's signatures in the process: key store, signer, JWKS, verification, and the
prescriber-signature policy (no HTTP here).

:func:`build_signatures` makes, once per process, the :class:`signing.key_store.KeyStore` on the
gateway's database and the prescriber trust anchors; the :class:`Signatures` service gives:

- :meth:`Signatures.signer` — the active :class:`signing.jws.Signer`;
- :meth:`Signatures.sign_prescription` / :meth:`Signatures.verify_prescription`;
- :meth:`Signatures.jwks` — the public key set;
- :meth:`Signatures.check_prescriber` — ``ERX_PRESCRIBER_SIGNATURE`` applied to a normalised
  document.

In development (``ERX_ENV=development``) a missing key is generated on first use (and by the
``erx-gateway run`` bootstrap), unencrypted when no passphrase is set, with a warning. In
production the app refuses to start without ``ERX_SIGNING_KEY_PASSPHRASE`` or with an
unencrypted active key, and ``/readyz`` fails until ``erx-gateway keys generate`` has run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from pymongo import IndexModel
from pymongo.database import Database
from pymongo.errors import PyMongoError

from gateway.core.config import ConfigError
from gateway.core.settings import Settings
from signing.errors import KeyStoreError, NoActiveKey, TrustAnchorError
from signing.jws import Signer
from signing.key_store import COLLECTION, KeyPolicy, KeyStore
from signing.prescriber import PrescriberSignature, check_prescriber_signature, load_trust_anchors

log = logging.getLogger(__name__)

_ALGORITHMS = {"eddsa": "EdDSA", "es256": "ES256"}

INDEXES = {COLLECTION: [IndexModel([("state", 1), ("created_at", -1)], name="state_created")]}


@dataclass(frozen=True)
class PrescriberSignaturePolicy:
    """``ERX_PRESCRIBER_SIGNATURE`` and its trust anchors, loaded once per process."""

    policy: str
    anchors: tuple[x509.Certificate, ...]
    clock_skew: timedelta


def key_policy(settings: Settings) -> KeyPolicy:
    """The key store's policy from the settings.

    Raises:
        ConfigError: ``SIGNING_ALG`` is not EdDSA or ES256.
    """
    alg = _ALGORITHMS.get(str(settings.signing_alg).lower())
    if alg is None:
        raise ConfigError(f"ERX_SIGNING_ALG: expected EdDSA or ES256, got {settings.signing_alg!r}")
    passphrase = settings.signing_key_passphrase
    return KeyPolicy(algorithm=alg, passphrase=passphrase.encode("utf-8") if passphrase else None,
                     production=settings.env == "production",
                     refresh_seconds=float(settings.signing_key_refresh_seconds))


class Signatures:
    """The key store and the prescriber-signature policy of one process."""

    def __init__(self, store: KeyStore, prescriber_policy: PrescriberSignaturePolicy) -> None:
        self.key_store = store
        self.prescriber_policy = prescriber_policy

    def signer(self) -> Signer:
        """The active signer. In development a missing key is generated (with a warning).

        Raises:
            signing.errors.NoActiveKey: production and no key yet.
            signing.errors.KeyStoreError: the key cannot be used (passphrase, production rules).
        """
        store = self.key_store
        try:
            return store.signer()
        except NoActiveKey:
            if store.policy.production:
                raise
        record = store.ensure_active_key()
        if record is not None:
            log.warning("development: generated signing key %s (%s)", record.kid, record.alg)
        return store.signer()

    def ready(self) -> bool:
        """Readiness: a usable signing key exists."""
        try:
            self.signer()
        except (KeyStoreError, PyMongoError) as exc:
            log.warning("signing key not ready: %s", exc)
            return False
        return True

    def jwks(self) -> dict[str, Any]:
        """Every public key that ever signed (active and retired)."""
        return self.key_store.jwks()

    def sign_prescription(self, prescription: Mapping[str, Any]) -> dict[str, str]:
        """The ``signature`` object of a prescription resource: ``{"alg", "kid", "jws"}``.

        Raises:
            signing.errors.CanonicalizationError: the document has no canonical form.
            signing.errors.KeyStoreError: no usable signing key.
        """
        return self.signer().sign_document(prescription)

    def verify_prescription(self, prescription: Mapping[str, Any], jws: str) -> str:
        """Verify a prescription resource's ``signature.jws`` over its ``prescription``; the kid.

        Raises:
            signing.errors.VerificationError: with its reason.
        """
        return self.key_store.verify_document(prescription, jws)

    def check_prescriber(self, document: Mapping[str, Any], *, now: datetime | None = None
                         ) -> PrescriberSignature | None:
        """Apply ``ERX_PRESCRIBER_SIGNATURE`` to a normalised prescription document.

        Raises:
            signing.errors.PrescriberSignatureError: missing (when required) or invalid; the
                error table answers 422 ``signature.prescriber_invalid`` at ``/signature``.
        """
        policy = self.prescriber_policy
        return check_prescriber_signature(document, policy.policy, policy.anchors,
                                          now or datetime.now(UTC),
                                          clock_skew=policy.clock_skew)

    def bootstrap(self) -> None:
        """``erx-gateway run``: in development, generate a signing key when there is none."""
        store = self.key_store
        if store.policy.production:
            return
        record = store.ensure_active_key()
        if record is not None:
            log.warning("development: generated signing key %s (%s)", record.kid, record.alg)


def build_key_store(database: Database, settings: Settings) -> KeyStore:
    """A key store on ``database``.

    Raises:
        ConfigError: production without a passphrase, or an unknown algorithm.
    """
    try:
        return KeyStore(database[COLLECTION], policy=key_policy(settings))
    except KeyStoreError as exc:
        raise ConfigError(exc.message) from None


def build_signatures(database: Database, settings: Settings) -> Signatures:
    """Build the key store and the prescriber-signature policy; refuse unsafe production set-ups.

    Raises:
        ConfigError: production without ``ERX_SIGNING_KEY_PASSPHRASE``, with an unencrypted
            active key, or requiring prescriber signatures without trust anchors; an unreadable
            trust-anchor file.
    """
    store = build_key_store(database, settings)
    production = settings.env == "production"
    if not store.policy.passphrase:
        log.warning("ERX_SIGNING_KEY_PASSPHRASE is not set: signing keys are stored UNENCRYPTED "
                    "(development mode only)")
    if production:
        try:
            store.signer()
        except KeyStoreError as exc:
            if exc.reason in {"unencrypted_key", "bad_passphrase", "corrupt_key"}:
                raise ConfigError(f"signing key: {exc.message}; set ERX_SIGNING_KEY_PASSPHRASE "
                                  "and run `erx-gateway keys rotate`" if exc.reason ==
                                  "unencrypted_key" else f"signing key: {exc.message}") from None
            log.warning("no usable signing key yet (%s): /readyz fails until "
                        "`erx-gateway keys generate` has run", exc.reason)
        except PyMongoError:
            log.warning("the database does not answer: the signing key is checked when it does")
    return Signatures(store, prescriber_policy(settings))


def prescriber_policy(settings: Settings) -> PrescriberSignaturePolicy:
    """The prescriber-signature policy of the settings.

    Raises:
        ConfigError: an unreadable trust-anchor file; production requiring prescriber
            signatures without trust anchors.
    """
    production = settings.env == "production"
    try:
        anchors = tuple(load_trust_anchors(settings.prescriber_trust_anchors))
    except TrustAnchorError as exc:
        raise ConfigError(f"ERX_PRESCRIBER_TRUST_ANCHORS: {exc}") from None
    policy = settings.prescriber_signature
    if policy != "off" and not anchors:
        if production and policy == "required":
            raise ConfigError("ERX_PRESCRIBER_SIGNATURE=required needs "
                              "ERX_PRESCRIBER_TRUST_ANCHORS (a PEM file of the national root CA), "
                              "or set ERX_PRESCRIBER_SIGNATURE=optional")
        log.warning("no ERX_PRESCRIBER_TRUST_ANCHORS: every signed prescription will be refused "
                    "(untrusted_chain)")
    return PrescriberSignaturePolicy(policy, anchors,
                                     timedelta(seconds=float(settings.prescriber_clock_skew_seconds)))
