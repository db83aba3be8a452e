"""Patient data at rest: MongoDB explicit client-side field-level encryption (CSFLE).

The gateway encrypts a patient's identifiers and personal fields before they leave the process,
with pymongo's explicit encryption (libmongocrypt, through ``pymongocrypt``), and decrypts them
only where a party entitled to them reads them. The database files, journal, oplog, backups and
the idempotency store hold ciphertext (BSON binary subtype 6) for these fields.

- **Data key**: one AES-256 data key, named ``erx-patient-data``, in the key-vault collection
  ``<ERX_DB_NAME>.data_keys`` (a unique index on ``keyAltNames`` makes concurrent first starts
  agree on one key).
- **Master key**: wraps the data key. ``ERX_DATA_KEY_FILE`` names a local 96-byte key file
  (``erx-gateway data-key generate FILE`` writes one, mode 0600). Production refuses to start
  without it; development keeps a generated one in ``VAR_DIR/data-key``. For production the
  master key belongs in a KMS: libmongocrypt also speaks AWS KMS, Azure Key Vault, Google Cloud
  KMS and any KMIP server (``kms_providers`` / ``master_key`` of
  :meth:`pymongo.encryption.ClientEncryption.create_data_key`); see README "Security".
- **Algorithms**: deterministic (AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic) for the CCCD, so
  an equality query on the ciphertext finds a patient; random for everything else.

See docs/README "Security" for what is encrypted, and :func:`FieldCipher.seal_document` /
:func:`FieldCipher.open_document` for where.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bson.binary import Binary, UuidRepresentation
from bson.codec_options import CodecOptions
from pymongo import ASCENDING, IndexModel
from pymongo.database import Database
from pymongo.encryption import Algorithm, ClientEncryption
from pymongo.errors import DuplicateKeyError, EncryptionError

from gateway.core.config import ConfigError
from gateway.core.field_aead import FieldAead, unwrap_local
from gateway.core.settings import Settings

KEY_VAULT = "data_keys"
KEY_NAME = "erx-patient-data"
MASTER_KEY_BYTES = 96
ENCRYPTED_SUBTYPE = 6
INDEXES = {KEY_VAULT: [IndexModel([("keyAltNames", ASCENDING)], unique=True, name="key_alt_names",
                                  partialFilterExpression={"keyAltNames": {"$exists": True}})]}

#: fields of the national prescription document that identify or describe the patient
DETERMINISTIC_FIELDS = ("ma_dinh_danh_cong_dan",)
RANDOM_FIELDS = ("ho_ten_benh_nhan", "ngay_sinh_benh_nhan", "ma_so_the_bao_hiem_y_te",
                 "ma_so_bao_hiem_y_te", "dia_chi", "so_dien_thoai_nguoi_kham_benh",
                 "thong_tin_nguoi_giam_ho", "can_nang")
PATIENT_FIELDS = DETERMINISTIC_FIELDS + RANDOM_FIELDS


def generate_master_key(path: str | Path) -> Path:
    """Write a new 96-byte local master key to ``path`` (mode 0600); never overwrite one.

    Raises:
        FileExistsError: ``path`` exists.
    """
    target = Path(path)
    if target.exists():
        raise FileExistsError(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under a temporary name, then linked into place: another process starting
    # at the same moment sees either no file or the complete key, never a partial one.
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(MASTER_KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, target)  # FileExistsError when another process won
    finally:
        temporary.unlink(missing_ok=True)
    return target


def master_key(settings: Settings) -> bytes:
    """The local master key the settings name; in development, when unset, one generated once
    in ``VAR_DIR/data-key``.

    Raises:
        ConfigError: unset in production, unreadable, or not 96 bytes.
    """
    configured: str | Path = settings.data_key_file
    if not configured:
        if settings.env == "production":
            raise ConfigError("ERX_DATA_KEY_FILE is required in production: the master key that "
                              "protects patient data (erx-gateway data-key generate FILE)")
        configured = Path(settings.var_dir) / "data-key"
        if not configured.exists():
            with contextlib.suppress(FileExistsError):  # another process made it first
                generate_master_key(configured)
    try:
        key = Path(configured).read_bytes()
    except OSError as exc:
        raise ConfigError(f"ERX_DATA_KEY_FILE: cannot read {configured}: {exc.strerror}") from None
    if len(key) != MASTER_KEY_BYTES:
        raise ConfigError(f"ERX_DATA_KEY_FILE: {configured} holds {len(key)} bytes, not "
                          f"{MASTER_KEY_BYTES} (erx-gateway data-key generate FILE)")
    return key


class FieldCipher:
    """Encrypts and decrypts patient fields with the one data key (thread-safe).

    Values are encrypted and decrypted in this process (:mod:`gateway.core.field_aead`, the
    same bytes as libmongocrypt's, about ten times cheaper); libmongocrypt keeps the key vault
    (creating and finding the data key) and anything the former leaves to it."""

    def __init__(self, database: Database[dict[str, Any]], key: bytes) -> None:
        self.database = database
        self.options: CodecOptions[Any] = CodecOptions(
            tz_aware=True, uuid_representation=UuidRepresentation.STANDARD)
        self.encryption: ClientEncryption[dict[str, Any]] = ClientEncryption(
            {"local": {"key": key}}, f"{database.name}.{KEY_VAULT}", database.client,
            self.options)
        self._master = key
        self._key_id: Any = None
        self._direct: FieldAead | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self.encryption.close()

    def key_id(self) -> Any:
        """The data key's id, created on first use (one key, even when processes race)."""
        if self._key_id is None:
            with self._lock:
                if self._key_id is None:
                    self._key_id = self._find_or_create_key()
        return self._key_id

    def _find_or_create_key(self) -> Any:
        found = self.encryption.get_key_by_alt_name(KEY_NAME)
        if found is None:
            try:
                created = self.encryption.create_data_key("local", key_alt_names=[KEY_NAME])
            except (DuplicateKeyError, EncryptionError):
                found = self.encryption.get_key_by_alt_name(KEY_NAME)
                if found is None:
                    raise
            else:
                found = self.encryption.get_key(created)
                if found is None:  # removed in between: libmongocrypt says so on first use
                    return created
        self._direct = self._in_process(found)
        return found["_id"]

    def _in_process(self, key: Mapping[str, Any]) -> FieldAead | None:
        """The in-process cipher of the data key ``key`` (its key-vault document), when its
        master key is the local one this process holds."""
        if (key.get("masterKey") or {}).get("provider") != "local":
            return None
        data_key = unwrap_local(self._master, bytes(key["keyMaterial"]))
        identifier = key["_id"]
        raw = identifier.bytes if hasattr(identifier, "bytes") else bytes(identifier)
        return FieldAead(raw, data_key, self.options) if data_key is not None else None

    # --- single values -----------------------------------------------------------------------
    def encrypt(self, value: Any, *, deterministic: bool = False) -> Binary:
        key_id = self.key_id()
        if self._direct is not None:
            sealed = self._direct.encrypt(value, deterministic=deterministic)
            if sealed is not None:
                return sealed
        algorithm = (Algorithm.AEAD_AES_256_CBC_HMAC_SHA_512_Deterministic if deterministic
                     else Algorithm.AEAD_AES_256_CBC_HMAC_SHA_512_Random)
        return self.encryption.encrypt(value, algorithm, key_id=key_id)

    def decrypt(self, value: Any) -> Any:
        """``value`` decrypted when it is ciphertext; anything else as it is (documents written
        before encryption, or not yet migrated)."""
        if isinstance(value, Binary) and value.subtype == ENCRYPTED_SUBTYPE:
            return self._decrypted(value)
        return value

    def _decrypted(self, value: Binary) -> Any:
        self.key_id()
        opened = self._direct.decrypt(value) if self._direct is not None else None
        return opened[0] if opened is not None else self.encryption.decrypt(value)

    def search_value(self, cccd: str) -> Binary:
        """The deterministic ciphertext of a CCCD, to find it with an equality query."""
        return self.encrypt(cccd, deterministic=True)

    # --- a prescription document -------------------------------------------------------------
    def seal_document(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of a national document with its patient fields encrypted."""
        sealed = dict(document)
        for name in PATIENT_FIELDS:
            value = sealed.get(name)
            if value is None or (isinstance(value, Binary) and value.subtype == ENCRYPTED_SUBTYPE):
                continue
            sealed[name] = self.encrypt(value, deterministic=name in DETERMINISTIC_FIELDS)
        return sealed

    def open_document(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of a stored national document with its patient fields in plain text."""
        opened = dict(document)
        for name in PATIENT_FIELDS:
            if name in opened:
                opened[name] = self.decrypt(opened[name])
        return opened

    def is_sealed(self, document: Mapping[str, Any]) -> bool:
        return all(not isinstance(document.get(name), (str, int, float))
                   for name in PATIENT_FIELDS)

    # --- opaque values (kept answers) ----------------------------------------------------------
    def seal_value(self, value: Any) -> Binary:
        """Any BSON value, encrypted at random (e.g. a kept HTTP answer)."""
        return self.encrypt({"v": value})

    def open_value(self, value: Any) -> Any:
        if isinstance(value, Binary) and value.subtype == ENCRYPTED_SUBTYPE:
            return self._decrypted(value)["v"]
        return value
