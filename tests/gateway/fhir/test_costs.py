"""The FHIR face costs the database what the native face does: it is the same path
(database commands counted as in tests/gateway/prescriptions/test_round_trips.py, with the app
of tests/support/round_trips.py, the native request measured beside the FHIR one)."""

from __future__ import annotations

from flask.testing import FlaskClient

from gateway.fhir.examples import transaction
from tests.support.commands import Commands
from tests.support.fhir_http import FHIR, SYSTEMS
from tests.support.round_trips import app, body_for, commands, registry, submitted, warm

__all__ = ["app", "commands", "registry", "warm"]  # fixtures, used by name


def test_a_fhir_submit_costs_what_a_native_submit_costs(client: FlaskClient, warm: dict,
                                                        commands: Commands) -> None:
    with commands.on_this_thread() as native:
        submitted(client, warm, 6)
    bundle = transaction(body_for(7), SYSTEMS)
    with commands.on_this_thread() as fhir:
        answer = client.post("/fhir/R4", json=bundle,
                             headers={**warm["h"]["doctor_a"], "Content-Type": FHIR})
    assert answer.status_code == 200, answer.get_json()
    assert fhir == native and len(fhir) <= 3


def test_a_pharmacys_fhir_read_costs_what_its_native_read_costs(
        client: FlaskClient, warm: dict, commands: Commands) -> None:
    for person, pharmacy in ((8, "pharmacy_1"), (9, "pharmacy_2")):
        native_code, fhir_code = submitted(client, warm, person), submitted(client, warm, 50 + person)
        for _first_look_then_again in range(2):
            with commands.on_this_thread() as native:
                assert client.get(f"/v2/prescriptions/{native_code}",
                                  headers=warm["h"][pharmacy]).status_code == 200
            with commands.on_this_thread() as fhir:
                assert client.get(f"/fhir/R4/MedicationRequest/{fhir_code}.1",
                                  headers=warm["h"][pharmacy]).status_code == 200
            assert fhir == native and len(fhir) == 2
