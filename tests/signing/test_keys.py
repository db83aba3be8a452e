"""The key store on a real MongoDB-wire server: encryption, production rules, rotation and how
fast other processes see it."""

from __future__ import annotations

import logging

import pytest
from pymongo.database import Database

from signing.errors import KeyStoreError, NoActiveKey, VerificationError
from signing.jwk import thumbprint
from signing.jws import verify_document
from signing.key_store import (
    COLLECTION,
    KeyPolicy,
    KeyStore,
    generate_private_key,
    load_private_key,
    private_key_pem,
)
from tests.support.pki import prescription

PASSPHRASE = b"correct horse battery staple"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def store(database: Database, clock: Clock | None = None, **policy) -> KeyStore:
    options = {"passphrase": PASSPHRASE, "production": True, "refresh_seconds": 30.0, **policy}
    return KeyStore(database[COLLECTION], policy=KeyPolicy(**options),
                    monotonic=clock or Clock())


def reason(call) -> str:
    with pytest.raises(KeyStoreError) as raised:
        call()
    return raised.value.reason


def test_generate_stores_an_encrypted_pkcs8_key_and_its_public_jwk(database: Database):
    keys = store(database)
    record = keys.generate()
    assert record.state == "active" and record.alg == "EdDSA" and record.encrypted
    stored = database[COLLECTION].find_one({"_id": record.kid})
    assert stored["private_key_pem"].startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert PASSPHRASE.decode() not in str(stored)
    assert thumbprint(stored["public_jwk"]) == record.kid
    assert keys.signer().kid == record.kid
    assert keys.jwks() == {"keys": [record.public_jwk]}
    assert "private" not in str(record.public())


def test_es256_is_a_setting(database: Database):
    keys = store(database, algorithm="ES256")
    record = keys.generate()
    assert record.alg == "ES256" and record.public_jwk["kty"] == "EC"
    signature = keys.signer().sign_document(prescription())
    assert signature["alg"] == "ES256"
    assert keys.verify_document(prescription(), signature["jws"]) == record.kid


def test_generate_refuses_when_a_key_is_active(database: Database):
    keys = store(database)
    keys.generate()
    assert reason(keys.generate) == "key_exists"


def test_no_key_yet(database: Database):
    keys = store(database)
    with pytest.raises(NoActiveKey):
        keys.signer()
    assert keys.records() == [] and keys.jwks() == {"keys": []}
    assert keys.ensure_active_key() is not None
    assert keys.ensure_active_key() is None  # only when there is none
    assert len(keys.records()) == 1


def test_rotation_keeps_old_signatures_verifiable(database: Database):
    keys = store(database)
    first = keys.generate()
    document = prescription()
    before = keys.signer().sign_document(document)
    saved_jwks_before = keys.jwks(refresh=True)
    second = keys.rotate()
    states = {record.kid: record.state for record in keys.records()}
    assert states == {first.kid: "retired", second.kid: "active"}
    assert keys.signer().kid == second.kid
    after = keys.signer().sign_document(document)
    assert keys.verify_document(document, before["jws"]) == first.kid
    assert keys.verify_document(document, after["jws"]) == second.kid
    published = keys.jwks(refresh=True)
    assert [jwk["kid"] for jwk in published["keys"]] == [first.kid, second.kid]
    # Offline, with a key set saved after the rotation, both verify; one saved before does
    # not know the new key.
    assert verify_document(document, before["jws"], published) == first.kid
    with pytest.raises(VerificationError) as raised:
        verify_document(document, after["jws"], saved_jwks_before)
    assert raised.value.reason == "unknown_kid"


def test_other_processes_pick_up_a_rotation_within_the_refresh_delay(database: Database):
    clock = Clock()
    rotating, other = store(database, clock), store(database, clock, refresh_seconds=30)
    first = rotating.generate()
    assert other.signer().kid == first.kid
    second = rotating.rotate()
    clock.now += 29
    assert other.signer().kid == first.kid  # still within the delay
    clock.now += 1
    assert other.signer().kid == second.kid
    assert other.records()[0].retired_at == second.created_at


def test_zero_refresh_delay_sees_a_rotation_at_once(database: Database):
    rotating, other = store(database), store(database, refresh_seconds=0)
    rotating.generate()
    other.signer()
    second = rotating.rotate()
    assert other.signer().kid == second.kid


def test_an_unknown_kid_reloads_the_key_set_at_most_once_a_second(database: Database):
    clock = Clock()
    rotating, other = store(database, clock), store(database, clock)
    rotating.generate()
    other.jwks()  # cached, without the next key
    second = rotating.rotate()
    signature = rotating.signer().sign_document({"a": 1})
    with pytest.raises(VerificationError) as raised:  # loaded just now: no forced reload
        other.verify_document({"a": 1}, signature["jws"])
    assert raised.value.reason == "unknown_kid"
    clock.now += 1
    assert other.verify_document({"a": 1}, signature["jws"]) == second.kid


def test_compact_tokens_verify_with_the_store_and_a_key_made_elsewhere(database: Database):
    clock = Clock()
    rotating, other = store(database, clock), store(database, clock)
    first = rotating.generate()
    before = rotating.signer().sign_compact(b"printed")
    other.jwks()  # cached, without the next key
    second = rotating.rotate()
    after = rotating.signer().sign_compact(b"printed again")
    clock.now += 1
    assert other.verify_compact(before) == (first.kid, {"alg": "EdDSA", "kid": first.kid}, b"printed")
    assert other.verify_compact(after)[0] == second.kid  # an unknown kid reloaded the key set


def test_production_refuses_to_work_without_a_passphrase(database: Database):
    assert reason(lambda: store(database, passphrase=None)) == "passphrase_required"
    assert reason(lambda: store(database, passphrase=b"")) == "passphrase_required"


def test_production_refuses_an_unencrypted_key(database: Database, caplog):
    development = store(database, passphrase=None, production=False)
    with caplog.at_level(logging.WARNING, logger="signing.key_store"):
        record = development.generate()
        assert development.signer().kid == record.kid
    assert not record.encrypted
    assert "UNENCRYPTED" in caplog.text
    assert reason(store(database).signer) == "unencrypted_key"


def test_a_wrong_or_missing_passphrase_is_told_apart(database: Database):
    store(database).generate()
    assert reason(store(database, passphrase=b"wrong").signer) == "bad_passphrase"
    assert reason(store(database, passphrase=None, production=False).signer) == "passphrase_required"


def test_a_key_that_does_not_match_its_kid_is_refused(database: Database):
    keys = store(database)
    record = keys.generate()
    impostor = private_key_pem(generate_private_key(), PASSPHRASE).decode()
    database[COLLECTION].update_one({"_id": record.kid}, {"$set": {"private_key_pem": impostor}})
    assert reason(store(database).signer) == "corrupt_key"


def test_unparseable_keys_and_algorithms():
    assert reason(lambda: load_private_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                                           None)) == "corrupt_key"
    assert reason(lambda: generate_private_key("RS256")) == "unsupported_alg"


def test_an_unknown_algorithm_setting_is_refused(database: Database):
    assert reason(lambda: store(database, algorithm="HS256")) == "unsupported_alg"
