"""MongoDB's explicit field-level encryption format, computed in this process.

libmongocrypt (through ``pymongocrypt``) spends about 0.1 ms of Python per value on building
a context and calling back into Python for each primitive; the construction itself costs
about 10 µs with ``cryptography``'s AES and HMAC. :class:`FieldAead` writes and reads the
same bytes as libmongocrypt for values under the gateway's one local data key, so either can
read what the other wrote (tests/gateway/core/test_field_aead.py checks both ways, and that
deterministic ciphertext is identical byte for byte).

The format (MongoDB client-side encryption specification, "FLE1" values, BSON binary
subtype 6): one byte of algorithm (1 deterministic, 2 random), the data key's 16-byte UUID,
the value's BSON type, then AEAD_AES_256_CBC_HMAC_SHA_512 of the BSON value's bytes with those
18 bytes as associated data ``A``: with the 96-byte data key split as ``MAC_KEY || ENC_KEY ||
IV_KEY``, ``C = AES-256-CBC(ENC_KEY, IV, PKCS7(P))``, ``T = HMAC-SHA-512(MAC_KEY, A || IV || C
|| AL)[:32]`` (``AL``: A's length in bits, 64-bit big-endian), and the ciphertext ``IV || C ||
T``. ``IV`` is random, or for deterministic values ``HMAC-SHA-512(IV_KEY, A || AL || P)[:16]``.
A data key under a local master key is stored the same way (no associated data).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from typing import Any

import bson
from bson.binary import Binary
from bson.codec_options import CodecOptions
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

DETERMINISTIC, RANDOM = 1, 2
SUBTYPE = 6
KEY_BYTES = 96
_TAG_BYTES = 32
#: BSON types this module encrypts itself (what libmongocrypt accepts for each algorithm;
#: anything else is left to libmongocrypt, which refuses it or handles it)
_RANDOM_TYPES = frozenset({0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x09, 0x10, 0x12})
_DETERMINISTIC_TYPES = frozenset({0x02, 0x09, 0x10, 0x12})


def _seal(key: bytes, plaintext: bytes, associated: bytes, iv: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key[32:64]), modes.CBC(iv)).encryptor()
    body = iv + encryptor.update(padded) + encryptor.finalize()
    length = struct.pack(">Q", len(associated) * 8)
    return body + hmac.new(key[:32], associated + body + length,
                           hashlib.sha512).digest()[:_TAG_BYTES]


def _open(key: bytes, ciphertext: bytes, associated: bytes) -> bytes | None:
    """The plaintext, or None when the tag does not verify (or the ciphertext is malformed)."""
    if len(ciphertext) < 16 + 16 + _TAG_BYTES or (len(ciphertext) - _TAG_BYTES) % 16:
        return None
    body, tag = ciphertext[:-_TAG_BYTES], ciphertext[-_TAG_BYTES:]
    length = struct.pack(">Q", len(associated) * 8)
    expected = hmac.new(key[:32], associated + body + length, hashlib.sha512).digest()
    if not hmac.compare_digest(expected[:_TAG_BYTES], tag):
        return None
    decryptor = Cipher(algorithms.AES(key[32:64]), modes.CBC(body[:16])).decryptor()
    padded = decryptor.update(body[16:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        return None


def unwrap_local(master_key: bytes, key_material: bytes) -> bytes | None:
    """A data key's 96 bytes from its ``keyMaterial`` under a local master key; None when the
    master key does not open it."""
    opened = _open(master_key, key_material, b"")
    return opened if opened is not None and len(opened) == KEY_BYTES else None


class FieldAead:
    """Encrypts and decrypts single values under one data key (``key_id``: its 16-byte UUID).
    ``encrypt`` and ``decrypt`` return None for what they leave to libmongocrypt: a BSON type
    outside the lists above, another data key, a ciphertext that does not verify (libmongocrypt
    then says why)."""

    def __init__(self, key_id: bytes, data_key: bytes, codec_options: CodecOptions[Any]) -> None:
        if len(key_id) != 16 or len(data_key) != KEY_BYTES:
            raise ValueError("a 16-byte key id and a 96-byte data key")
        self.key_id = key_id
        self.key = data_key
        self.options = codec_options

    def encrypt(self, value: Any, *, deterministic: bool) -> Binary | None:
        encoded = bson.encode({"v": value}, codec_options=self.options)
        kind = encoded[4]
        if kind not in (_DETERMINISTIC_TYPES if deterministic else _RANDOM_TYPES):
            return None
        plaintext = encoded[7:-1]  # after int32 size, type, "v\0"; before the final NUL
        algorithm = DETERMINISTIC if deterministic else RANDOM
        associated = bytes((algorithm,)) + self.key_id + bytes((kind,))
        if deterministic:
            iv = hmac.new(self.key[64:], associated + struct.pack(">Q", len(associated) * 8)
                          + plaintext, hashlib.sha512).digest()[:16]
        else:
            iv = os.urandom(16)
        return Binary(associated + _seal(self.key, plaintext, associated, iv), SUBTYPE)

    def decrypt(self, value: bytes) -> tuple[Any] | None:
        """``(value,)`` decrypted, or None (see the class)."""
        blob = bytes(value)
        if len(blob) < 18 or blob[0] not in (DETERMINISTIC, RANDOM) or blob[1:17] != self.key_id:
            return None
        associated = blob[:18]
        plaintext = _open(self.key, blob[18:], associated)
        if plaintext is None:
            return None
        document = struct.pack("<i", len(plaintext) + 8) + blob[17:18] + b"v\x00" + plaintext + b"\x00"
        try:
            return (bson.decode(document, codec_options=self.options)["v"],)
        except (bson.errors.InvalidBSON, KeyError):
            return None
