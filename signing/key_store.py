"""The gateway's signing keys: generation, encrypted storage, rotation, the public key set.

Keys are shared by every gateway process on every machine, so they live in MongoDB
(collection ``signing_keys``), one document per key::

    {"_id": kid, "alg": "EdDSA", "state": "active" | "retired",
     "created_at": datetime, "retired_at": datetime | None,
     "private_key_pem": "-----BEGIN ENCRYPTED PRIVATE KEY-----...",   # PKCS#8
     "encrypted": true, "public_jwk": {"kty": "OKP", ..., "kid": kid}}

The ``kid`` is the RFC 7638 thumbprint of the public key. The private key is PKCS#8 PEM
encrypted with the passphrase the process gets from its environment; a production store
refuses to work without a passphrase or with an unencrypted key. ``rotate`` inserts a new
active key and retires the others; retired keys are never deleted and stay in :meth:`jwks`,
so every signature ever made still verifies. The newest active key signs.

Processes cache the active key and the key set; a rotation made by another process is picked
up within ``KeyPolicy.refresh_seconds``, or as soon as the store is told of it
(:meth:`KeyStore.invalidate`: the gateway's change feed does so) when ``trust_cache`` says
such notices are being delivered. An unknown ``kid`` met while verifying refreshes the key set
at once (at most once a second).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pymongo import DESCENDING
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from signing.errors import KeyStoreError, NoActiveKey, VerificationError
from signing.jwk import ALGORITHMS, PrivateKey, public_jwk, thumbprint
from signing.jws import Signer, verify_compact, verify_detached, verify_document

log = logging.getLogger(__name__)

COLLECTION = "signing_keys"
ACTIVE, RETIRED = "active", "retired"
# How often an unknown kid may force a reload of the key set (seconds).
_MIN_FORCED_RELOAD_SECONDS = 1.0
_T = TypeVar("_T")


def generate_private_key(alg: str = "EdDSA") -> PrivateKey:
    """A new private key for ``alg`` (``EdDSA``: Ed25519; ``ES256``: ECDSA P-256).

    Raises:
        KeyStoreError: ``unsupported_alg``.
    """
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise KeyStoreError("unsupported_alg", f"alg {alg!r} is not one of {ALGORITHMS}")


def private_key_pem(key: PrivateKey, passphrase: bytes | None) -> bytes:
    """PKCS#8 PEM of a private key, encrypted with ``passphrase`` (None: unencrypted)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase
        else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             encryption)


def pem_is_encrypted(pem: bytes) -> bool:
    """Whether a PEM private key is an encrypted PKCS#8 (or legacy encrypted) key."""
    return b"ENCRYPTED PRIVATE KEY" in pem or b"Proc-Type: 4,ENCRYPTED" in pem


def load_private_key(pem: bytes, passphrase: bytes | None) -> PrivateKey:
    """Decrypt and parse a PEM private key.

    Raises:
        KeyStoreError: ``passphrase_required`` (encrypted, no passphrase), ``bad_passphrase``,
            ``corrupt_key`` (not a PEM key), ``unsupported_alg`` (not Ed25519 / P-256).
    """
    encrypted = pem_is_encrypted(pem)
    if encrypted and not passphrase:
        raise KeyStoreError("passphrase_required",
                            "the key is encrypted and ERX_SIGNING_KEY_PASSPHRASE is not set")
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase if encrypted else None)
    except ValueError as exc:
        if encrypted:
            raise KeyStoreError("bad_passphrase", "the key does not decrypt with the passphrase "
                                "in ERX_SIGNING_KEY_PASSPHRASE") from None
        raise KeyStoreError("corrupt_key", f"the stored key does not parse: {exc}") from None
    if not isinstance(key, (ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey)):
        raise KeyStoreError("unsupported_alg", f"unsupported key type {type(key).__name__}")
    return key


@dataclass(frozen=True)
class KeyPolicy:
    """How a process uses the key store (built from settings by the gateway).

    ``algorithm``: alg of newly generated keys. ``passphrase``: encrypts/decrypts private
    keys. ``production``: refuse to work without a passphrase or with an unencrypted key.
    ``refresh_seconds``: the longest a process keeps signing with a key after another process
    rotated (0: look at the store on every signature).
    """

    algorithm: str = "EdDSA"
    passphrase: bytes | None = field(default=None, repr=False)
    production: bool = True
    refresh_seconds: float = 30.0


@dataclass(frozen=True)
class KeyRecord:
    """One stored key, without its private part."""

    kid: str
    alg: str
    state: str
    created_at: datetime
    retired_at: datetime | None
    encrypted: bool
    public_jwk: dict[str, str]

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> KeyRecord:
        """The record of a ``signing_keys`` document.

        Raises:
            KeyError: a required field is missing.
        """
        return cls(kid=doc["_id"], alg=doc["alg"], state=doc["state"],
                   created_at=doc["created_at"], retired_at=doc.get("retired_at"),
                   encrypted=bool(doc.get("encrypted")), public_jwk=dict(doc["public_jwk"]))

    def public(self) -> dict[str, Any]:
        """For ``erx-gateway keys list``: never the private key."""
        return {"kid": self.kid, "alg": self.alg, "state": self.state,
                "created_at": self.created_at.isoformat(),
                "retired_at": self.retired_at.isoformat() if self.retired_at else None,
                "encrypted": self.encrypted}


def _milliseconds(moment: datetime) -> datetime:
    # BSON dates keep milliseconds: the record returned must equal the one read back.
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class KeyStore:
    """Signing keys in a MongoDB collection, shared by every process of the gateway."""

    def __init__(self, collection: Collection[dict[str, Any]], *, policy: KeyPolicy,
                 monotonic: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        """A store on ``collection`` (``signing_keys``) used as ``policy`` says.

        ``monotonic`` and ``now`` are the clocks (tests replace them).

        Raises:
            KeyStoreError: ``passphrase_required`` (production without a passphrase),
                ``unsupported_alg`` (``policy.algorithm`` not EdDSA / ES256).
        """
        if policy.algorithm not in ALGORITHMS:
            raise KeyStoreError("unsupported_alg",
                                f"ERX_SIGNING_ALG {policy.algorithm!r} is not one of {ALGORITHMS}")
        if policy.production and not policy.passphrase:
            raise KeyStoreError("passphrase_required", "production mode needs "
                                "ERX_SIGNING_KEY_PASSPHRASE to encrypt the signing keys")
        self.collection = collection
        self.policy = policy
        self._monotonic = monotonic
        self._now = now
        self._lock = threading.Lock()
        self._signers: dict[str, Signer] = {}  # kid -> decrypted signer, loaded once
        self._active_kid: str | None = None
        self._active_checked_at = float("-inf")
        self._jwks: dict[str, Any] | None = None
        self._jwks_loaded_at = float("-inf")
        self._warned_unencrypted: set[str] = set()
        # When it returns True, every change of the collection is announced through
        # invalidate(): what is cached stays valid without the refresh period.
        self.trust_cache: Callable[[], bool] = lambda: False
        self._generation = 0

    def invalidate(self) -> None:
        """Forget the active key and the key set (a key was generated or rotated elsewhere);
        reads already under way do not put back what they read."""
        with self._lock:
            self._generation += 1
            self._active_checked_at = float("-inf")
            self._jwks_loaded_at = float("-inf")

    def _fresh(self, checked_at: float, now: float) -> bool:
        return now - checked_at < self.policy.refresh_seconds or (
            checked_at > float("-inf") and self.trust_cache())

    # --- writing -----------------------------------------------------------------------
    def generate(self, *, alg: str | None = None) -> KeyRecord:
        """Make the first active key.

        Raises:
            KeyStoreError: ``key_exists`` (an active key exists: use :meth:`rotate`),
                ``unsupported_alg``.
        """
        if self.collection.find_one({"state": ACTIVE}, {"_id": 1}) is not None:
            raise KeyStoreError("key_exists", "an active signing key exists; use `keys rotate`")
        return self._insert_active(alg or self.policy.algorithm)

    def rotate(self, *, alg: str | None = None) -> KeyRecord:
        """Make a new active key and retire every other one (retired keys stay published).

        Raises:
            KeyStoreError: ``unsupported_alg``.
        """
        record = self._insert_active(alg or self.policy.algorithm)
        self.collection.update_many({"state": ACTIVE, "_id": {"$ne": record.kid}},
                                    {"$set": {"state": RETIRED, "retired_at": record.created_at}})
        return record

    def ensure_active_key(self) -> KeyRecord | None:
        """Generate a key when the store has no active one; the new record, or None.

        Raises:
            KeyStoreError: ``unsupported_alg``.
        """
        if self.collection.find_one({"state": ACTIVE}, {"_id": 1}) is not None:
            return None
        return self._insert_active(self.policy.algorithm)

    def _insert_active(self, alg: str) -> KeyRecord:
        key = generate_private_key(alg)
        jwk = public_jwk(key)
        pem = private_key_pem(key, self.policy.passphrase)
        if not self.policy.passphrase:
            log.warning("signing key %s stored UNENCRYPTED (development mode without "
                        "ERX_SIGNING_KEY_PASSPHRASE)", jwk["kid"])
        doc = {"_id": jwk["kid"], "alg": alg, "state": ACTIVE,
               "created_at": _milliseconds(self._now()), "retired_at": None,
               "private_key_pem": pem.decode("ascii"), "encrypted": pem_is_encrypted(pem),
               "public_jwk": jwk}
        try:
            self.collection.insert_one(doc)
        except DuplicateKeyError:  # 2**-256: a broken random generator, not a retry case
            raise KeyStoreError("corrupt_key", "a generated key already exists") from None
        self.invalidate()
        return KeyRecord.from_document(doc)

    # --- reading -----------------------------------------------------------------------
    def records(self) -> list[KeyRecord]:
        """Every key, oldest first."""
        return [KeyRecord.from_document(doc) for doc in
                self.collection.find({}, {"private_key_pem": 0}).sort([("created_at", 1), ("_id", 1)])]

    def active_record(self) -> KeyRecord:
        """The key that signs now (the newest active one).

        Raises:
            NoActiveKey: the store has no active key.
        """
        doc = self.collection.find_one({"state": ACTIVE}, {"private_key_pem": 0},
                                       sort=[("created_at", DESCENDING), ("_id", DESCENDING)])
        if doc is None:
            raise NoActiveKey()
        return KeyRecord.from_document(doc)

    def signer(self) -> Signer:
        """The signer of the active key, re-read at most every ``refresh_seconds``.

        Raises:
            NoActiveKey: the store has no active key.
            KeyStoreError: ``unencrypted_key`` (production), ``passphrase_required``,
                ``bad_passphrase``, ``corrupt_key``, ``unsupported_alg``.
            pymongo.errors.PyMongoError: the database does not answer.
        """
        now = self._monotonic()
        with self._lock:
            kid = self._active_kid
            fresh = self._fresh(self._active_checked_at, now)
            if kid is not None and fresh and kid in self._signers:
                return self._signers[kid]
            generation = self._generation
        kid = self.active_record().kid
        signer = self._load_signer(kid)
        with self._lock:
            if generation == self._generation:
                self._active_kid = kid
                self._active_checked_at = now
        return signer

    def _load_signer(self, kid: str) -> Signer:
        with self._lock:
            if kid in self._signers:
                return self._signers[kid]
        doc = self.collection.find_one({"_id": kid})
        if doc is None:
            raise NoActiveKey(f"key {kid} disappeared from the store")
        pem = doc["private_key_pem"].encode("ascii")
        if not pem_is_encrypted(pem):
            if self.policy.production:
                raise KeyStoreError("unencrypted_key", f"signing key {kid} is stored unencrypted; "
                                    "production mode refuses it")
            if kid not in self._warned_unencrypted:
                self._warned_unencrypted.add(kid)
                log.warning("signing with UNENCRYPTED key %s (development mode)", kid)
        signer = Signer(private_key=load_private_key(pem, self.policy.passphrase))
        if signer.kid != kid or thumbprint(doc["public_jwk"]) != kid:
            raise KeyStoreError("corrupt_key", f"stored key {kid} does not match its kid")
        with self._lock:
            self._signers[kid] = signer
        return signer

    def jwks(self, *, refresh: bool = False) -> dict[str, Any]:
        """The public key set (RFC 7517): every key, active and retired, oldest first.

        Cached for ``refresh_seconds``; ``refresh=True`` reads the store now.

        Raises:
            pymongo.errors.PyMongoError: the database does not answer.
        """
        now = self._monotonic()
        with self._lock:
            if not refresh and self._jwks is not None \
                    and self._fresh(self._jwks_loaded_at, now):
                return self._jwks
            generation = self._generation
        jwks = {"keys": [record.public_jwk for record in self.records()]}
        with self._lock:
            if generation == self._generation:
                self._jwks, self._jwks_loaded_at = jwks, now
        return jwks

    # --- verifying with the store's keys ---------------------------------------------------
    def verify_detached(self, payload: bytes, jws: str) -> str:
        """:func:`signing.jws.verify_detached` with this store's key set; returns the kid.

        Raises:
            VerificationError: as :func:`signing.jws.verify_detached`.
        """
        return self._with_fresh_keys(lambda jwks: verify_detached(payload, jws, jwks))

    def verify_document(self, obj: Any, jws: str) -> str:
        """:func:`signing.jws.verify_document` with this store's key set; returns the kid.

        Raises:
            VerificationError: as :func:`signing.jws.verify_document`.
        """
        return self._with_fresh_keys(lambda jwks: verify_document(obj, jws, jwks))

    def verify_compact(self, jws: str) -> tuple[str, dict[str, Any], bytes]:
        """:func:`signing.jws.verify_compact` with this store's key set: ``(kid, header,
        payload)``.

        Raises:
            VerificationError: as :func:`signing.jws.verify_compact`.
        """
        return self._with_fresh_keys(lambda jwks: verify_compact(jws, jwks))

    def _with_fresh_keys(self, verify: Callable[[dict[str, Any]], _T]) -> _T:
        try:
            return verify(self.jwks())
        except VerificationError as exc:
            # A key made by another process since our last read: look again, but do not let
            # made-up kids turn every request into a database read.
            if exc.reason != "unknown_kid" \
                    or self._monotonic() - self._jwks_loaded_at < _MIN_FORCED_RELOAD_SECONDS:
                raise
        return verify(self.jwks(refresh=True))
