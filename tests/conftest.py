"""Shared fixtures: a real MongoDB-wire server (embedded SecantusDB, in memory) started once
per test session, a fresh database per test, the app, a client, and party/token helpers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymongo
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings

from gateway import create_app
from gateway.core.encryption import generate_master_key
from gateway.runtime.embedded import EmbeddedDatabase
from gateway.web.context import services
from tests.support.environment import TEST_CONFIG, free_port

# The suite runs on a 2-core machine that other work keeps busy (CI, engineers' runs): limits
# on wall-clock time measure the machine there, not the code. Every property test starts with
# no per-example deadline (Hypothesis's default is 200 ms, and an example over it fails the
# test as "unreliable timings") and without the too_slow health check (data generation timed
# by the wall clock). A test that sets its own suppress_health_check names too_slow itself.
settings.register_profile("erx", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("erx")


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedDatabase]:
    log = tmp_path_factory.mktemp("db-log") / "embedded-db.log"
    server = EmbeddedDatabase(storage_path=":memory:", port=free_port(), log_path=str(log),
                              test_commands=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mongo_client(mongo_server: EmbeddedDatabase) -> Iterator[pymongo.MongoClient]:
    client: pymongo.MongoClient = pymongo.MongoClient(mongo_server.uri, tz_aware=True)
    yield client
    client.close()


@pytest.fixture
def db_name(mongo_client: pymongo.MongoClient) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    yield name
    mongo_client.drop_database(name)


@pytest.fixture
def database(mongo_client: pymongo.MongoClient, db_name: str) -> pymongo.database.Database:
    return mongo_client[db_name]


@pytest.fixture(scope="session")
def data_key_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One master key for the session, so production-mode tests have one too."""
    return str(generate_master_key(tmp_path_factory.mktemp("data-key") / "master.key"))


@pytest.fixture
def app_config(mongo_server: EmbeddedDatabase, db_name: str, tmp_path: Path,
               data_key_file: str) -> dict[str, Any]:
    return {**TEST_CONFIG, "MONGODB_URI": mongo_server.uri, "DB_NAME": db_name,
            "VAR_DIR": str(tmp_path / "var"), "DATA_KEY_FILE": data_key_file}


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app(app_config)
    application.config["TESTING"] = True
    assert services(application).wait_ready(), "the app did not get ready"
    yield application
    services(application).close()


@pytest.fixture
def make_app(app_config: dict[str, Any]):
    """``make_app(**overrides)``: another app on the test database; closed at teardown."""
    made: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        application = create_app({**app_config, **overrides})
        application.config["TESTING"] = True
        made.append(application)
        services(application).wait_ready()
        return application

    yield make
    for application in made:
        services(application).close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class Credentials:
    client_id: str
    client_secret: str
    role: str
    code: str
    facility: str | None

    def headers(self, client: FlaskClient) -> dict[str, str]:
        response = client.post("/v2/auth/token", json={
            "grant_type": "client_credentials", "client_id": self.client_id,
            "client_secret": self.client_secret})
        assert response.status_code == 200, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


@pytest.fixture
def make_party(app: Flask):
    """``make_party(role, code, facility=None)`` creates a party and returns its credentials."""
    def make(role: str, code: str, facility: str | None = None, name: str | None = None,
             address: str | None = None, phone: str | None = None) -> Credentials:
        if role in ("clinic", "pharmacy"):  # facilities have contact details, as in life
            address = address or f"{code}, 1 Lê Lợi, Quận 1, TP. Hồ Chí Minh"
            phone = phone or "0283" + f"{abs(hash(code)) % 10**7:07d}"
        party, secret = services(app).parties.create(role=role, code=code,
                                                     name=name or f"{role} {code}",
                                                     facility=facility, address=address,
                                                     phone=phone)
        return Credentials(party.client_id, secret, role, code, party.facility)

    return make


@pytest.fixture
def auth_headers(client: FlaskClient, make_party):
    """``auth_headers(role, code, facility=None)``: a new party's bearer header."""

    def headers(role: str, code: str, facility: str | None = None) -> dict[str, str]:
        return make_party(role, code, facility).headers(client)

    return headers
