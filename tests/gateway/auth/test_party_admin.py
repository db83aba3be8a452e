"""Parties carry contact details; administrators manage parties over HTTP and the command line."""

from __future__ import annotations

import json

from click.testing import CliRunner

from gateway.cli import main
from gateway.web.context import services
from tests.support.audit import audit_log
from tests.support.cli import cli_env
from tests.support.http import assert_problem


def test_admin_creates_updates_disables_and_rotates_a_party(app, client, auth_headers) -> None:
    admin = auth_headers("admin", "ops")
    created = client.post("/v2/parties", headers=admin, json={
        "role": "pharmacy", "code": "NT0042", "name": "Nhà thuốc Bốn Hai",
        "address": "42 Nguyễn Huệ, Quận 1, TP. Hồ Chí Minh", "phone": "028 3823 4567"})
    assert created.status_code == 201, created.get_json()
    secret = created.get_json()["client_secret"]
    shown = client.get("/v2/parties/pharmacy-NT0042", headers=admin).get_json()
    assert shown["phone"] == "02838234567" and shown["address"].startswith("42 Nguyễn Huệ")
    assert "secret" not in json.dumps(shown)
    token = client.post("/v2/auth/token", json={"grant_type": "client_credentials",
                                                 "client_id": "pharmacy-NT0042", "client_secret": secret})
    assert token.status_code == 200

    updated = client.patch("/v2/parties/pharmacy-NT0042", headers=admin, json={"phone": "+84912345678"})
    assert updated.status_code == 200 and updated.get_json()["phone"] == "+84912345678"
    listed = client.get("/v2/parties?role=pharmacy", headers=admin).get_json()["items"]
    assert [p["client_id"] for p in listed] == ["pharmacy-NT0042"]

    rotated = client.post("/v2/parties/pharmacy-NT0042/rotate-secret", headers=admin).get_json()
    assert rotated["client_secret"] != secret
    assert client.post("/v2/parties/pharmacy-NT0042/disable", headers=admin).get_json()["status"] == "disabled"
    assert client.post("/v2/parties/pharmacy-NT0042/enable", headers=admin).get_json()["status"] == "active"

    events = audit_log(services(app).storage.database).find(
        {"object.id": "pharmacy-NT0042", "action": {"$regex": "^party[.]"}})
    assert [(e["action"], e["actor"]["role"]) for e in events.sort("_id", 1)] == [(action, "admin") for action in [
        "party.created", "party.updated", "party.secret_rotated", "party.disabled", "party.enabled"]]


def test_party_administration_refuses_bad_input_and_other_roles(client, auth_headers) -> None:
    admin = auth_headers("admin", "ops")
    bad_phone = client.post("/v2/parties", headers=admin, json={
        "role": "pharmacy", "code": "NT1", "name": "X", "phone": "12345"})
    body = assert_problem(bad_phone, 422, "validation")
    assert "Số điện thoại" in body["detail"]
    unknown = client.post("/v2/parties", headers=admin, json={
        "role": "pharmacy", "code": "NT1", "name": "X", "secret_hash": "x", "name2": 1})
    assert {e["pointer"] for e in assert_problem(unknown, 422, "validation")["errors"]} == {
        "/secret_hash", "/name2"}
    missing = client.post("/v2/parties", headers=admin, json={"role": "pharmacy"})
    assert {e["pointer"] for e in assert_problem(missing, 422, "validation")["errors"]} == {"/code", "/name"}
    long_address = client.post("/v2/parties", headers=admin, json={
        "role": "pharmacy", "code": "NT1", "name": "X", "address": "a" * 501})
    assert_problem(long_address, 422, "validation")
    assert client.get("/v2/parties/pharmacy-NT1", headers=admin).status_code == 404  # nothing stored
    assert_problem(client.patch("/v2/parties/nobody", headers=admin, json={"name": "Y"}), 404, "not-found")
    assert_problem(client.patch("/v2/parties/nobody", headers=admin, json={}), 422, "validation")
    client.post("/v2/parties", headers=admin, json={"role": "pharmacy", "code": "SYT", "name": "NT"})
    taken = client.post("/v2/parties", headers=admin, json={"role": "pharmacy", "code": "SYT", "name": "Z"})
    assert_problem(taken, 409, "conflict")
    assert_problem(client.get("/v2/parties?role=emperor", headers=admin), 422, "validation")
    pharmacy = auth_headers("pharmacy", "NT9")
    assert_problem(client.get("/v2/parties", headers=pharmacy), 403, "forbidden")
    assert_problem(client.get("/v2/parties"), 401, "unauthenticated")


def test_the_command_line_sets_contact_details(app_config) -> None:
    runner = CliRunner()
    env = cli_env(app_config)
    created = runner.invoke(main, ["parties", "create", "--role", "clinic", "--code", "79009",
                                   "--name", "Phòng khám Chín", "--address", "9 Pasteur, Quận 3",
                                   "--phone", "0283 999 0009"], env=env)
    assert created.exit_code == 0, created.output
    updated = runner.invoke(main, ["parties", "update", "clinic-79009", "--phone", "0909999999"], env=env)
    assert updated.exit_code == 0, updated.output
    party = json.loads(updated.stdout)
    assert party["phone"] == "0909999999" and party["address"] == "9 Pasteur, Quận 3"
    refused = runner.invoke(main, ["parties", "update", "clinic-79009", "--phone", "not a phone"], env=env)
    assert refused.exit_code != 0 and "phone" in refused.output
    nothing = runner.invoke(main, ["parties", "update", "clinic-79009"], env=env)
    assert nothing.exit_code != 0
