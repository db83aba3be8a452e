"""Database operations per request and per prescription end to end (issue 14), counted with
pymongo's command monitoring on the app's own clients: deterministic, no clock involved.

Budgets: a submit 2 (3 for an ``n`` or ``h`` one: the claim on the person's days), a
pharmacy's lookup 2 (its first view included), a dispense 4; end to end with the registry
delivery and the audit log, a prescription 5 and a dispense 6.

What is counted: every command the app's clients send (the request pool and the change
feed's own client), from every thread, except connection handshakes and authentication. Per
request: the commands of the thread that served it. End to end: every command of every
thread from the first submit until the log is sealed, the feed's getMores included.
"""

from __future__ import annotations

from collections import Counter

from flask import Flask
from flask.testing import FlaskClient

from gateway.container import build_forwarder
from gateway.web.context import services
from tests.support.commands import Commands
from tests.support.overlaps import DIAZEPAM, MORPHINE_ORAL, rx
from tests.support.prescriptions import PARACETAMOL, dispense, gtin_of, pack, submit
from tests.support.registry_double import RegistryDouble
from tests.support.round_trips import app, body_for, commands, registry, submitted, warm

__all__ = ["app", "commands", "registry", "warm"]  # fixtures, used by name


# --- per request --------------------------------------------------------------------------------

def test_a_submit_costs_two_operations(client: FlaskClient, warm: dict, commands: Commands) -> None:
    with commands.on_this_thread() as ops:
        submitted(client, warm, 1)
    # The insert carrying the outbox and the prescription.submitted audit event, then the
    # cross-facility check's one indexed read (a c prescription is checked once stored).
    assert ops == [("insert", "prescriptions"), ("find", "prescriptions")]


def test_a_controlled_submit_costs_one_more_the_claim_on_the_persons_days(
        client: FlaskClient, warm: dict, commands: Commands) -> None:
    """n and h: the claim that puts overlapping submissions one after the other
    (gateway/prescriptions/overlaps.py); c (above): none."""
    for person, (loai, drug) in enumerate((("n", MORPHINE_ORAL), ("h", DIAZEPAM)), 300):
        body = rx(warm, loai, [drug], [(0, 6)], cccd=f"079090{person:06d}")
        with commands.on_this_thread() as ops:
            answer = submit(client, warm["h"]["doctor_a"], body)
        assert answer.status_code == 201, answer.get_json()
        assert ops == [("find", "prescriptions"), ("update", "overlap_claims"),
                       ("insert", "prescriptions")]


def test_a_pharmacy_lookup_costs_two_operations_first_view_included(
        client: FlaskClient, warm: dict, commands: Commands) -> None:
    code = submitted(client, warm, 2)
    # The first view is remembered for cancellations, with its audit event, in one update;
    # a later one only queues its event.
    for expected in (("update", "prescriptions"), ("insert", "audit_queue")):
        with commands.on_this_thread() as ops:
            answer = client.get(f"/v2/prescriptions/{code}", headers=warm["h"]["pharmacy_1"])
        assert answer.status_code == 200
        assert ops == [("find", "prescriptions"), expected]
    with commands.on_this_thread() as ops:
        national = client.get(f"/api/v1/thong-tin-don-thuoc/{code}",
                              headers=warm["h"]["pharmacy_2"])
    assert national.status_code == 200
    assert len(ops) <= 2, ops


def test_a_dispense_costs_at_most_four_operations(client: FlaskClient, warm: dict,
                                                   commands: Commands) -> None:
    code = submitted(client, warm, 3)
    with commands.on_this_thread() as ops:
        answer = dispense(client, warm["h"]["pharmacy_1"], code, [{"line": 0, "so_luong_ban": 5}])
    assert answer.status_code == 201, answer.get_json()
    assert ops == [("find", "prescriptions"), ("update", "prescriptions")]
    scanned = pack(gtin_of(warm, PARACETAMOL), "SN-ROUND-1")
    with commands.on_this_thread() as ops:
        answer = dispense(client, warm["h"]["pharmacy_1"], code,
                          [{"line": 0, "so_luong_ban": 1, "packs": [scanned]}], invoice="HD2")
    assert answer.status_code == 201, answer.get_json()
    assert ops == [("find", "prescriptions"), ("insert", "dispensed_packs"),
                   ("update", "prescriptions")]
    # The answer is what the conditional update made: no read-back, and it is right.
    assert [line["dispensed"] for line in answer.get_json()["prescription"]["lines"]] == [6, 0]


def test_cancel_and_print_cost_two_operations(client: FlaskClient, warm: dict,
                                              commands: Commands) -> None:
    code = submitted(client, warm, 4)
    with commands.on_this_thread() as ops:
        printed = client.get(f"/v2/prescriptions/{code}/print.html", headers=warm["h"]["doctor_a"])
    assert printed.status_code == 200 and len(ops) <= 2, ops
    with commands.on_this_thread() as ops:
        cancelled = client.post(f"/v2/prescriptions/{code}/cancel", json={"ly_do": "Kê nhầm"},
                                headers=warm["h"]["doctor_a"])
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert ops == [("find", "prescriptions"), ("update", "prescriptions")]


def test_the_national_submit_costs_two_operations(client: FlaskClient, warm: dict,
                                                  commands: Commands) -> None:
    with commands.on_this_thread() as ops:
        answer = client.post("/api/v1/gui-don-thuoc", json=body_for(5),
                             headers=warm["h"]["doctor_a"])
    assert answer.status_code == 200 and answer.get_json()["success"], answer.get_json()
    assert ops == [("insert", "prescriptions"), ("find", "prescriptions")]


# --- end to end ------------------------------------------------------------------------------------

N = 40


def forward_and_seal(app: Flask) -> int:
    """Deliver what is due, then seal the log; how many prescriptions were forwarded."""
    forwarder = build_forwarder(services(app))
    forwarded = forwarder.run_until_idle()
    with app.app_context():
        services(app).sealer.seal()
    return forwarded


def test_end_to_end_a_prescription_costs_at_most_five_operations(
        app: Flask, client: FlaskClient, warm: dict, commands: Commands,
        registry: RegistryDouble) -> None:
    forward_and_seal(app)  # what the warm-up left
    with commands.everywhere() as ops:
        codes = [submitted(client, warm, 100 + n) for n in range(N)]
        assert forward_and_seal(app) == N
    assert set(codes) <= set(registry.prescriptions)
    per_prescription = len(ops) / N
    assert per_prescription <= 5, (per_prescription, str(sorted(Counter(ops).items())))


def test_end_to_end_a_dispense_costs_at_most_six_operations(
        app: Flask, client: FlaskClient, warm: dict, commands: Commands,
        registry: RegistryDouble) -> None:
    codes = [submitted(client, warm, 200 + n) for n in range(N)]
    forward_and_seal(app)
    with commands.everywhere() as ops:
        for code in codes:
            answer = dispense(client, warm["h"]["pharmacy_1"], code,
                              [{"line": 0, "so_luong_ban": 2}])
            assert answer.status_code == 201
        assert forward_and_seal(app) == N
    assert len(registry.dispenses) >= N
    per_dispense = len(ops) / N
    assert per_dispense <= 6, (per_dispense, Counter(ops).most_common())
