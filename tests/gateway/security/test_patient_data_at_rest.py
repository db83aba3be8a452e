"""Attack class: patient identifiers readable at rest (database files, journal, oplog, backups,
the idempotency store) or in a log.

Probe findings: CCCD, card number and name were plain text in the database files, journal and
oplog (0644 files); the idempotency store kept full answers with patient data for 24 h.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import bson
import pytest
from bson.binary import Binary
from click.testing import CliRunner
from flask.testing import FlaskClient

from gateway.cli import main
from gateway.core import config
from gateway.core.config import ConfigError
from gateway.core.encryption import DETERMINISTIC_FIELDS, PATIENT_FIELDS, master_key
from gateway.runtime.embedded import EmbeddedDatabase
from gateway.web.context import services
from tests.support.environment import free_port
from tests.support.prescriptions import prescription, submit

NAME = "Trần Thị Bí Mật"
CCCD = "001090004321"
CARD = "DN4797912345678"


def _patient(**extra: Any) -> dict[str, Any]:
    return prescription(ho_ten_benh_nhan=NAME, ma_dinh_danh_cong_dan=CCCD,
                        ma_so_the_bao_hiem_y_te=CARD, **extra)


def _everything(database) -> bytes:
    return b"".join(bson.encode(doc) for name in database.list_collection_names()
                    for doc in database[name].find())


def test_patient_fields_are_ciphertext_in_the_database_and_plain_to_entitled_readers(
        client: FlaskClient, world: dict, database) -> None:
    body = _patient()  # built once: the replay must send the very same bytes
    first = submit(client, world["h"]["doctor_a"], body, **{"Idempotency-Key": "rx-1"})
    second = submit(client, world["h"]["doctor_a"], _patient())
    assert first.status_code == second.status_code == 201, first.get_json()
    codes = [answer.get_json()["ma_don_thuoc"] for answer in (first, second)]
    stored = [database["prescriptions"].find_one({"_id": code})["document"] for code in codes]
    for document in stored:
        for name in PATIENT_FIELDS:
            if name in document:
                assert isinstance(document[name], Binary) and document[name].subtype == 6, name
    for name in DETERMINISTIC_FIELDS:  # searchable: the same CCCD, the same ciphertext
        assert stored[0][name] == stored[1][name]
    assert stored[0]["ho_ten_benh_nhan"] != stored[1]["ho_ten_benh_nhan"]  # random for the rest
    raw = _everything(database)
    for secret in (NAME, CCCD, CARD):
        assert secret.encode() not in raw, secret
    kept = database["idempotency"].find_one({})
    assert isinstance(kept["answer"], Binary)
    # the issuing clinic and a pharmacy read plain values; the idempotent replay too
    read = client.get(f"/v2/prescriptions/{codes[0]}", headers=world["h"]["pharmacy_1"]).get_json()
    assert read["prescription"]["ho_ten_benh_nhan"] == NAME
    assert read["prescription"]["ma_dinh_danh_cong_dan"] == CCCD
    replay = submit(client, world["h"]["doctor_a"], body, **{"Idempotency-Key": "rx-1"})
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.get_json()["prescription"]["ho_ten_benh_nhan"] == NAME


def test_the_database_files_never_hold_the_patient_in_plain_text(make_app, make_party,
                                                                  demo_catalog_into,
                                                                  tmp_path: Path) -> None:
    storage = tmp_path / "db"
    server = EmbeddedDatabase(storage_path=str(storage), port=free_port())
    server.start()
    try:
        app = make_app(MONGODB_URI=server.uri)
        demo_catalog_into(app)  # imported, and in this process's catalog before the submit
        client = app.test_client()
        party, secret = services(app).parties.create(role="doctor", code="BS1", facility="79001",
                                                      name="Bác sĩ")
        token = client.post("/v2/auth/token", json={"grant_type": "client_credentials",
                                                     "client_id": party.client_id,
                                                     "client_secret": secret}).get_json()
        control = "LOIDANKIEMCHUNG"  # a field that is not encrypted: proves the scan can see text
        answer = submit(client, {"Authorization": f"Bearer {token['access_token']}"},
                        _patient(loi_dan=control))
        assert answer.status_code == 201, answer.get_json()
        services(app).close()
    finally:
        server.stop()  # a clean shutdown: everything is in the files
    assert stat.S_IMODE(storage.stat().st_mode) == 0o700
    for path in storage.rglob("*"):
        if path.is_file():  # written by the server under umask 077: the gateway's user only
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    files = b"".join(path.read_bytes() for path in storage.rglob("*") if path.is_file())
    assert control.encode() in files
    for secret_text in (NAME, CCCD, CARD):
        assert secret_text.encode() not in files, secret_text


def test_documents_stored_before_encryption_are_migrated(client: FlaskClient, world: dict, database,
                                                         app) -> None:
    answer = submit(client, world["h"]["doctor_a"], _patient())
    code = answer.get_json()["ma_don_thuoc"]
    with app.app_context():
        plain = services().prescription_store.get(code)["document"]
    database["prescriptions"].update_one({"_id": code}, {"$set": {"document": plain}})
    database["idempotency"].insert_one({"_id": "old", "answer": {"status": 201, "body": {"n": NAME}}})
    assert NAME.encode() in _everything(database)
    # still readable before the migration (mixed data during a rollout)
    assert client.get(f"/v2/prescriptions/{code}", headers=world["h"]["doctor_a"]).status_code == 200
    result = CliRunner().invoke(main, ["data-key", "migrate"], env={
        f"ERX_{k}": str(v) for k, v in services(app).settings.by_name().items()
        if v not in (None, "")
        and not isinstance(v, (tuple, list))})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"prescriptions": 1, "idempotency": 1}
    assert NAME.encode() not in _everything(database)
    shown = client.get(f"/v2/prescriptions/{code}", headers=world["h"]["doctor_a"]).get_json()
    assert shown["prescription"]["ho_ten_benh_nhan"] == NAME


def test_the_master_key_file(tmp_path: Path) -> None:
    runner = CliRunner()
    key_file = tmp_path / "keys" / "master.key"
    made = runner.invoke(main, ["data-key", "generate", str(key_file)])
    assert made.exit_code == 0, made.output
    assert len(key_file.read_bytes()) == 96
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = runner.invoke(main, ["data-key", "generate", str(key_file)])
    assert again.exit_code != 0 and "never overwritten" in again.output
    production = config.load({"ENV": "production"}, environ={})
    with pytest.raises(ConfigError, match="ERX_DATA_KEY_FILE is required in production"):
        master_key(production)
    assert master_key(production.but(data_key_file=str(key_file))) == key_file.read_bytes()
    short = tmp_path / "short.key"
    short.write_bytes(b"x" * 32)
    with pytest.raises(ConfigError, match="32 bytes, not 96"):
        master_key(production.but(data_key_file=str(short)))
