"""Field encryption in this process (gateway/core/field_aead.py) writes and reads exactly what
libmongocrypt does, so values written before and after it, or by either, stay readable."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from bson.binary import Binary
from pymongo.database import Database
from pymongo.encryption import Algorithm
from pymongo.errors import EncryptionError

from gateway.core.encryption import ENCRYPTED_SUBTYPE, FieldCipher
from gateway.core.field_aead import unwrap_local

RANDOM = Algorithm.AEAD_AES_256_CBC_HMAC_SHA_512_Random
DETERMINISTIC = Algorithm.AEAD_AES_256_CBC_HMAC_SHA_512_Deterministic
VALUES: list[Any] = [
    "Nguyễn Thị Hồng Nhung", "", "x" * 1000, 52.5, 0.0, 20, 2**40, True,
    {"ho_ten": "Trần Văn B", "quan_he": "cha", "so": [1, 2.5]}, ["a", {"b": None}],
    datetime(2026, 12, 7, 1, 2, 3, 4000, tzinfo=UTC), b"\x00\x01bytes",
]


@pytest.fixture
def cipher(database: Database[dict[str, Any]]) -> Iterator[FieldCipher]:
    found = FieldCipher(database, os.urandom(96))
    yield found
    found.close()


def library(cipher: FieldCipher) -> Any:
    """libmongocrypt itself, as the gateway used it before."""
    return cipher.encryption


def test_values_are_encrypted_in_process_not_by_libmongocrypt(cipher: FieldCipher,
                                                              monkeypatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("libmongocrypt was called")

    cipher.key_id()
    monkeypatch.setattr(cipher.encryption, "encrypt", refuse)
    monkeypatch.setattr(cipher.encryption, "decrypt", refuse)
    for value in VALUES:
        sealed = cipher.encrypt(value)
        assert isinstance(sealed, Binary) and sealed.subtype == ENCRYPTED_SUBTYPE
        assert cipher.decrypt(sealed) == value
    assert cipher.decrypt(cipher.search_value("079190001234")) == "079190001234"


@pytest.mark.parametrize("value", VALUES, ids=[type(v).__name__ + str(i) for i, v in
                                                enumerate(VALUES)])
def test_libmongocrypt_reads_what_this_process_writes_and_back(cipher: FieldCipher,
                                                               value: Any) -> None:
    key_id = cipher.key_id()
    assert library(cipher).decrypt(cipher.encrypt(value)) == value
    assert cipher.decrypt(library(cipher).encrypt(value, RANDOM, key_id=key_id)) == value
    assert cipher.open_value(cipher.seal_value(value)) == value
    assert library(cipher).decrypt(cipher.seal_value(value)) == {"v": value}


@pytest.mark.parametrize("cccd", ["079190001234", "001085012345", "Đ"])
def test_deterministic_ciphertext_is_libmongocrypts_byte_for_byte(cipher: FieldCipher,
                                                                 cccd: str) -> None:
    ours = cipher.encrypt(cccd, deterministic=True)
    theirs = library(cipher).encrypt(cccd, DETERMINISTIC, key_id=cipher.key_id())
    assert bytes(ours) == bytes(theirs)
    assert ours[0] == 1 and cipher.encrypt("x")[0] == 2  # algorithm byte: 1 deterministic


def test_random_ciphertexts_differ_and_the_key_is_the_gateways(cipher: FieldCipher,
                                                              database) -> None:
    first, second = cipher.encrypt("Nguyễn"), cipher.encrypt("Nguyễn")
    assert bytes(first) != bytes(second)
    key = database["data_keys"].find_one({"keyAltNames": "erx-patient-data"})
    assert bytes(first)[1:17] == bytes(key["_id"])
    assert unwrap_local(os.urandom(96), key["keyMaterial"]) is None  # another master key


def test_tampered_ciphertext_is_refused_as_libmongocrypt_refuses_it(cipher: FieldCipher) -> None:
    sealed = bytearray(bytes(cipher.encrypt("Nguyễn Thị Hồng Nhung")))
    sealed[30] ^= 1
    with pytest.raises(EncryptionError):
        cipher.decrypt(Binary(bytes(sealed), ENCRYPTED_SUBTYPE))


def test_what_libmongocrypt_refuses_is_still_refused(cipher: FieldCipher) -> None:
    with pytest.raises(EncryptionError):
        cipher.encrypt(52.5, deterministic=True)  # a double cannot be deterministic
    with pytest.raises(EncryptionError):
        cipher.encrypt(None)


def test_a_document_sealed_in_process_opens_with_libmongocrypt(cipher: FieldCipher) -> None:
    document = {"ma_dinh_danh_cong_dan": "079190001234", "ho_ten_benh_nhan": "Nguyễn Thị B",
                "can_nang": 52.5, "thong_tin_nguoi_giam_ho": {"ho_ten": "Trần Văn C"},
                "loai_don_thuoc": "c"}
    sealed = cipher.seal_document(document)
    assert all(isinstance(sealed[name], Binary) for name in document if name != "loai_don_thuoc")
    assert sealed["loai_don_thuoc"] == "c"
    assert {name: library(cipher).decrypt(value) if isinstance(value, Binary) else value
            for name, value in sealed.items()} == document
    assert cipher.open_document(sealed) == document
