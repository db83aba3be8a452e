"""Attack class: an administrator over HTTP reaching roles that read prescriptions and the audit
trail, or outliving its own revocation.

Probe findings: an API admin created a regulator and another admin through ``POST /v2/parties``;
the only admin could disable itself; a just-disabled admin rotated its own secret within the
party cache's revocation window; refused attempts left no trace in the audit log.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from flask import Flask

from gateway.cli import main
from gateway.web.context import services
from tests.support.audit import audit_log
from tests.support.cli import cli_env
from tests.support.http import assert_problem

CLI_ONLY = ("regulator", "admin")


def _events(app: Flask, action: str) -> list[dict]:
    return list(audit_log(services(app).storage.database).find({"action": action}).sort("_id", 1))


@pytest.mark.parametrize("role", CLI_ONLY)
def test_an_admin_cannot_create_a_regulator_or_admin_over_http(app, client, auth_headers,
                                                             role: str) -> None:
    admin = auth_headers("admin", "ops")
    answer = client.post("/v2/parties", headers=admin, json={"role": role, "code": "X1",
                                                             "name": "Sở Y tế"})
    body = assert_problem(answer, 403, "forbidden")
    assert "erx-gateway parties" in body["detail"] and role in body["detail"]
    assert services(app).parties.get(f"{role}-X1") is None  # nothing stored
    refused = _events(app, "party.refused")
    assert [(e["outcome"], e["actor"]["party_id"], e["object"]["id"], e["details"]["reason"])
            for e in refused] == [("failure", "admin-ops", f"{role}-X1", "cli_only")]


@pytest.mark.parametrize("role", CLI_ONLY)
def test_an_admin_cannot_change_a_regulator_or_admin_over_http(app, client, auth_headers,
                                                             make_party, role: str) -> None:
    admin = auth_headers("admin", "ops")
    make_party("admin", "other")  # so the admin under test is never the last one
    target = make_party(role, "T1")
    for method, path, body in [
            ("PATCH", f"/v2/parties/{target.client_id}", {"name": "Y"}),
            ("POST", f"/v2/parties/{target.client_id}/disable", None),
            ("POST", f"/v2/parties/{target.client_id}/enable", None),
            ("POST", f"/v2/parties/{target.client_id}/rotate-secret", None)]:
        answer = client.open(path, method=method, headers=admin, json=body)
        assert_problem(answer, 403, "forbidden")
    stored = services(app).parties.fresh(target.client_id)
    assert stored.name == f"{role} T1" and stored.active and stored.generation == 0
    assert len(_events(app, "party.refused")) == 4
    assert not list(audit_log(services(app).storage.database).find(
        {"object.id": target.client_id, "outcome": "success"}))


def test_an_admin_still_manages_clinics_doctors_and_pharmacies(client, auth_headers) -> None:
    admin = auth_headers("admin", "ops")
    for body in ({"role": "clinic", "code": "79001", "name": "PK"},
                 {"role": "doctor", "code": "BS1", "facility": "79001", "name": "BS"},
                 {"role": "pharmacy", "code": "NT1", "name": "NT"}):
        assert client.post("/v2/parties", headers=admin, json=body).status_code == 201


def test_the_last_enabled_admin_cannot_disable_itself(app, client, make_party) -> None:
    only = make_party("admin", "ops")
    headers = only.headers(client)
    answer = client.post(f"/v2/parties/{only.client_id}/disable", headers=headers)
    assert_problem(answer, 409, "conflict")
    assert "quản trị viên cuối cùng" in answer.get_json()["detail"]  # Vietnamese by default
    english = client.post(f"/v2/parties/{only.client_id}/disable",
                          headers={**headers, "Accept-Language": "en"})
    assert "last enabled admin" in english.get_json()["detail"]
    assert services(app).parties.fresh(only.client_id).active
    assert [e["details"]["reason"] for e in _events(app, "party.refused")] == ["last_admin"] * 2
    assert client.get("/v2/parties", headers=headers).status_code == 200  # still works


def test_the_command_line_manages_regulators_and_admins_audited_as_cli(app, app_config,
                                                                      client) -> None:
    runner = CliRunner()
    env = cli_env(app_config)

    def cli(*args: str) -> dict:
        result = runner.invoke(main, ["parties", *args], env=env)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    cli("create", "--role", "admin", "--code", "root", "--name", "Root")
    cli("create", "--role", "regulator", "--code", "BYT", "--name", "Bộ Y tế")
    cli("rotate-secret", "regulator-BYT")
    cli("disable", "regulator-BYT")
    cli("enable", "regulator-BYT")
    last = runner.invoke(main, ["parties", "disable", "admin-root"], env=env)
    assert last.exit_code == 1 and "last enabled admin" in last.output
    assert services(app).parties.fresh("admin-root").active
    events = audit_log(services(app).storage.database).find(
        {"action": {"$regex": "^party[.]"}}).sort("_id", 1)
    assert [(e["action"], e["object"]["id"], e["actor"]["party_id"]) for e in events] == [
        ("party.created", "admin-root", "cli"), ("party.created", "regulator-BYT", "cli"),
        ("party.secret_rotated", "regulator-BYT", "cli"), ("party.disabled", "regulator-BYT", "cli"),
        ("party.enabled", "regulator-BYT", "cli")]


def test_a_refused_role_on_the_admin_api_is_audited(app, client, auth_headers) -> None:
    pharmacy = auth_headers("pharmacy", "NT9")
    assert_problem(client.post("/v2/parties", headers=pharmacy, json={
        "role": "pharmacy", "code": "NT10", "name": "X"}), 403, "forbidden")
    assert_problem(client.get("/v2/parties", headers=pharmacy), 403, "forbidden")
    refused = _events(app, "party.refused")
    assert [(e["actor"]["party_id"], e["details"]) for e in refused] == [
        ("pharmacy-NT9", {"reason": "role", "method": "POST"}),
        ("pharmacy-NT9", {"reason": "role", "method": "GET"})]


def test_party_changes_check_the_caller_against_the_database_not_the_cache(
        app, client, make_party, monkeypatch: pytest.MonkeyPatch) -> None:
    """A disabled admin whose record a cache still holds as active (the window before the change
    feed reaches this process) can change nothing."""
    make_party("admin", "other")
    admin = make_party("admin", "ops")
    headers = admin.headers(client)
    parties = services(app).parties
    stale = parties.collection.find_one({"_id": admin.client_id}, {"secret_hash": 0})
    parties.set_status(admin.client_id, "disabled")
    assert parties.cache is not None
    monkeypatch.setattr(parties.cache, "get", lambda key, load: dict(stale)
                        if key == admin.client_id else load(key))
    assert parties.get(admin.client_id).active  # the cache's stale view
    for method, path in [("POST", f"/v2/parties/{admin.client_id}/rotate-secret"),
                         ("POST", f"/v2/parties/{admin.client_id}/enable"),
                         ("GET", "/v2/parties")]:
        assert_problem(client.open(path, method=method, headers=headers), 401, "unauthenticated")
    assert not parties.fresh(admin.client_id).active


@pytest.mark.parametrize("role", ["clinic", "regulator", "admin"])
def test_app_name_and_app_key_authenticate_pharmacies_only(client, make_party, role: str) -> None:
    party = make_party(role, "79011" if role == "clinic" else "K1")
    answer = client.get("/v2/drugs?q=para", headers={"app-name": party.client_id,
                                                     "app-key": party.client_secret})
    body = assert_problem(answer, 401, "unauthenticated")
    assert "chỉ dùng cho nhà thuốc" in body["detail"]  # Vietnamese by default
    english = client.get("/v2/drugs?q=para", headers={
        "app-name": party.client_id, "app-key": party.client_secret, "Accept-Language": "en"})
    assert "pharmacies only" in english.get_json()["detail"]
    pharmacy = make_party("pharmacy", "NT5")
    assert client.get("/v2/drugs?q=para", headers={"app-name": pharmacy.client_id,
                                                   "app-key": pharmacy.client_secret}).status_code == 200


def test_a_bearer_token_and_an_app_key_together_are_400(client, make_party) -> None:
    pharmacy = make_party("pharmacy", "NT5")
    headers = {**pharmacy.headers(client), "app-name": pharmacy.client_id,
               "app-key": pharmacy.client_secret}
    body = assert_problem(client.get("/v2/drugs?q=para", headers=headers), 400, "malformed")
    assert "Chỉ gửi một trong hai" in body["detail"]  # Vietnamese by default
    english = client.get("/v2/drugs?q=para", headers={**headers, "Accept-Language": "en"})
    assert "not both" in assert_problem(english, 400, "malformed")["detail"]
