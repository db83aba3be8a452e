"""The FHIR face costs the database what the native face does: it is the same path
(database commands counted as in tests/gateway/prescriptions/test_round_trips.py)."""

from __future__ import annotations

from flask.testing import FlaskClient

from gateway.fhir.examples import transaction
from tests.gateway.fhir.test_fhir import FHIR, SYSTEMS
from tests.gateway.prescriptions.test_round_trips import (
    Commands,
    app,
    body_for,
    commands,
    registry,
    submitted,
    warm,
    world,
)

__all__ = ["app", "commands", "registry", "warm", "world"]  # fixtures, used by name


def test_a_fhir_submit_costs_what_a_native_submit_costs(client: FlaskClient, warm: dict,
                                                        commands: Commands) -> None:
    bundle = transaction(body_for(7), SYSTEMS)
    with commands.on_this_thread() as ops:
        answer = client.post("/fhir/R4", json=bundle,
                             headers={**warm["h"]["doctor_a"], "Content-Type": FHIR})
    assert answer.status_code == 200, answer.get_json()
    assert ops == [("find", "prescriptions"), ("insert", "prescriptions")]


def test_a_pharmacys_fhir_read_costs_what_its_native_read_costs(
        client: FlaskClient, warm: dict, commands: Commands) -> None:
    code = submitted(client, warm, 8)
    for expected in (("update", "prescriptions"), ("insert", "audit_queue")):
        with commands.on_this_thread() as ops:
            answer = client.get(f"/fhir/R4/MedicationRequest/{code}.1",
                                headers=warm["h"]["pharmacy_1"])
        assert answer.status_code == 200
        assert ops == [("find", "prescriptions"), expected]
