"""Fixtures of the gateway tests: the demo catalog loaded into the test database, the parties of
a small world (clinics, doctors, pharmacies, a regulator, an admin), the overlap scenarios, the
environment of `erx-gateway run`, console users and a client that fills forms as a browser does."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.web.context import services
from tests.support.catalog import load_demo_catalog
from tests.support.console import Browser, Person
from tests.support.environment import free_port
from tests.support.overlaps import BIRTH, DIAZEPAM, MORPHINE_INJ, MORPHINE_ORAL, PATIENT_NAME, SEDUXEN, accepted, rx
from tests.support.prescriptions import submit


@pytest.fixture
def demo_catalog(app: Flask) -> Any:
    return load_demo_catalog(app)


@pytest.fixture
def demo_catalog_into():
    """``demo_catalog_into(app)`` for apps made in the test (``make_app``)."""
    return load_demo_catalog


@pytest.fixture
def world(app: Flask, client: FlaskClient, make_party, demo_catalog) -> dict[str, Any]:
    """Two clinics with a doctor each, two pharmacies, a regulator and an admin."""
    parties = {
        "clinic_a": make_party("clinic", "79001"),
        "doctor_a": make_party("doctor", "BS001", facility="79001"),
        "clinic_b": make_party("clinic", "01002"),
        "pharmacy_1": make_party("pharmacy", "NT0001"),
        "pharmacy_2": make_party("pharmacy", "NT0002"),
        "regulator": make_party("regulator", "BYT"),
        "admin": make_party("admin", "ops"),
    }
    headers = {name: party.headers(client) for name, party in parties.items()}
    return {"parties": parties, "h": headers, "catalog": demo_catalog}


@pytest.fixture
def two(world: dict[str, Any], client: FlaskClient, make_party) -> dict[str, Any]:
    """Two facilities with a named clinic and a named doctor each (plus the world's parties)."""
    made = {"clinic_1": make_party("clinic", "79011", name="Bệnh viện Quận Một"),
            "doctor_1": make_party("doctor", "BS011", facility="79011", name="BS Nguyễn Văn Một"),
            "clinic_2": make_party("clinic", "01022", name="Phòng khám Đống Đa"),
            "doctor_2": make_party("doctor", "BS022", facility="01022", name="BS Trần Thị Hai")}
    world["h"].update({name: party.headers(client) for name, party in made.items()})
    world["parties"].update(made)
    return world


@pytest.fixture
def run_env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ERX_")}
    env.update({"ERX_ENV": "development", "ERX_VAR_DIR": str(tmp_path / "var"),
                "ERX_HTTP_PORT": str(free_port()), "ERX_EMBEDDED_DB_PORT": str(free_port()),
                "ERX_WORKERS": "1", "ERX_SECRET_HASH_TIME_COST": "1",
                "ERX_SECRET_HASH_MEMORY_KIB": "1024"})
    return env


@pytest.fixture
def caught(client: FlaskClient, two: dict[str, Any]) -> dict[str, Any]:
    """A refused narcotic overlap and a warned psychotropic one, across the two facilities."""
    person = {"ho_ten_benh_nhan": PATIENT_NAME, "ngay_sinh_benh_nhan": BIRTH}
    first = accepted(client, two["h"]["doctor_1"],
                     rx(two, "n", [MORPHINE_ORAL], [(0, 6)], **person))
    refused = submit(client, two["h"]["doctor_2"],
                     rx(two, "n", [MORPHINE_INJ], [(4, 10)], **person))
    assert refused.status_code == 422
    calm = accepted(client, two["h"]["doctor_1"], rx(two, "h", [DIAZEPAM], [(0, 9)], **person))
    warned = accepted(client, two["h"]["doctor_2"], rx(two, "h", [SEDUXEN], [(9, 12)], **person))
    return {**two, "first": first["ma_don_thuoc"], "calm": calm["ma_don_thuoc"],
            "warned": warned["ma_don_thuoc"]}


@pytest.fixture
def make_person(app: Flask, make_party):
    """``make_person(role, code, username, facility=None)``: a party (made if new) and a user."""
    made: dict[str, Any] = {}

    def make(role: str, code: str, username: str, facility: str | None = None) -> Person:
        key = f"{role}:{code}:{facility}"
        if key not in made:
            made[key] = make_party(role, code, facility)
        party = made[key]
        user, password = services(app).users.create(party_id=party.client_id, role=role,
                                                    username=username)
        return Person(user.username, password, party.client_id)

    return make


@pytest.fixture
def browser(client: FlaskClient) -> Browser:
    return Browser(client)


@pytest.fixture
def browser_factory(app: Flask):
    return lambda: Browser(app.test_client())
