"""The app the round-trip tests count database commands on (tests/gateway/prescriptions/
test_round_trips.py, and the FHIR face's costs beside it): a command listener on its clients,
its forwarder sending to a registry double, its change feed settled before counting; and the
prescriptions those tests submit, each of its own person. A test module takes the fixtures by
importing them (its ``app`` overrides the conftest's for that module only)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway import create_app
from gateway.web.context import services
from tests.support.commands import Commands
from tests.support.forwarding import FACILITY, FAST_FORWARDING, REGISTRY_PASSWORD
from tests.support.prescriptions import PARACETAMOL, prescription, submit
from tests.support.registry_double import RegistryDouble


@pytest.fixture
def registry() -> Iterator[RegistryDouble]:
    with RegistryDouble(facility_code=FACILITY, password=REGISTRY_PASSWORD) as double:
        yield double


@pytest.fixture
def commands() -> Commands:
    return Commands()


class Markers:
    """A subscriber to the ``feed_markers`` collection: what the feed has delivered."""

    def __init__(self) -> None:
        self.keys: set[Any] = set()

    def feed_event(self, change: Any) -> None:
        self.keys.add(change["documentKey"]["_id"])

    def feed_reset(self) -> None:
        pass


def settle(app: Flask) -> None:
    """Wait until the app's change feed has delivered every change made so far: a marker
    written now comes after them in the stream."""
    found, marker = services(app), uuid.uuid4().hex
    found.storage.database["feed_markers"].insert_one({"_id": marker})
    assert found.feed.wait_for(lambda: marker in app.extensions["markers"].keys, 90)


@pytest.fixture
def app(app_config: dict[str, Any], registry: RegistryDouble, commands: Commands) -> Iterator[Flask]:
    """The app with the command listener on its clients; its forwarder sends to the registry
    double (answering at once)."""
    application = create_app({**app_config, **FAST_FORWARDING, "REGISTRY_BASE_URL": registry.url,
                              "REGISTRY_FACILITY_CODE": FACILITY,
                              "REGISTRY_PASSWORD": REGISTRY_PASSWORD,
                              # idle getMores of the feed stay out of a short test
                              "CHANGE_STREAM_AWAIT_MS": 60_000},
                             listeners=[commands])
    application.config["TESTING"] = True
    assert services(application).wait_ready()
    # Subscribed once, before anything is counted: a new subscription reopens the stream
    # (at its next answer: a write wakes it).
    feed = services(application).feed
    session = feed.session
    application.extensions["markers"] = Markers()
    feed.subscribe("feed_markers", application.extensions["markers"])
    services(application).storage.database["feed_wake"].insert_one({})
    assert feed.wait_for(lambda: feed.session > session, 90)
    settle(application)
    yield application
    services(application).close()


def body_for(person: int, **fields: Any) -> dict[str, Any]:
    """A prescription of its own person (the cross-facility check finds nothing)."""
    return prescription(ma_dinh_danh_cong_dan=f"079090{person:06d}", **fields)


@pytest.fixture
def warm(app: Flask, client: FlaskClient, world: dict[str, Any]) -> dict[str, Any]:
    """Every party has made a request since the feed delivered their creation (a process
    reads a party once, then follows its changes) and the signing key is loaded."""
    assert submit(client, world["h"]["doctor_a"], body_for(0)).status_code == 201
    settle(app)
    for name in ("doctor_a", "pharmacy_1", "pharmacy_2", "clinic_a"):
        client.get("/v2/drugs/" + PARACETAMOL, headers=world["h"][name])
    assert submit(client, world["h"]["doctor_a"], body_for(1)).status_code == 201
    return world


def submitted(client: FlaskClient, world: dict[str, Any], person: int) -> str:
    answer = submit(client, world["h"]["doctor_a"], body_for(person))
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["ma_don_thuoc"]
