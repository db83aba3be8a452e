"""People who use the console: ``erx-gateway users create|list|disable|enable|reset-password``,
their passwords (Argon2id, shown once), and a disabled party disabling its users."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.auth.users import USERNAME, UserError, normalise_username
from gateway.cli import main
from gateway.web.context import services
from tests.support.audit import audit_log
from tests.support.cli import cli_env
from tests.support.console import Browser, Person


def run(app_config: dict, *args: str):
    return CliRunner().invoke(main, list(args), env=cli_env(app_config))


def test_create_prints_the_password_once_and_stores_only_an_argon2id_hash(
        app: Flask, app_config: dict, make_party, database, browser: Browser) -> None:
    pharmacy = make_party("pharmacy", "NT0001")
    result = run(app_config, "users", "create", "--party", pharmacy.client_id,
                 "--username", "Lan.NT")
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert set(created) == {"username", "password"}
    assert created["username"] == "lan.nt" and len(created["password"]) >= 20
    stored = database["users"].find_one({"_id": "lan.nt"})
    assert stored["party_id"] == pharmacy.client_id and stored["status"] == "active"
    assert stored["password_hash"].startswith("$argon2id$")
    assert created["password"] not in json.dumps(stored, default=str)
    event = audit_log(database).find_one({"action": "user.created"})
    assert event["object"] == {"type": "user", "id": "lan.nt"}
    assert event["actor"]["party_id"] == "cli" and event["details"] == {"party": pharmacy.client_id}
    assert created["password"] not in json.dumps(event, default=str)
    # The person signs in with it and acts as the pharmacy.
    browser.login(Person(created["username"], created["password"], pharmacy.client_id))
    assert browser.get("/console/pharmacy/").status_code == 200


@pytest.mark.parametrize("args, message", [
    (("--party", "pharmacy-NOPE", "--username", "someone"), "no party pharmacy-NOPE"),
    (("--party", "pharmacy-NT0001", "--username", "x"), "username"),
    (("--party", "pharmacy-NT0001", "--username", "bad name"), "username"),
    (("--party", "admin-ops", "--username", "operator"), "do not use the console"),
])
def test_bad_creations_are_refused_clearly_and_store_nothing(
        app_config: dict, make_party, database, args: tuple[str, ...], message: str) -> None:
    make_party("pharmacy", "NT0001")
    make_party("admin", "ops")
    result = run(app_config, "users", "create", *args)
    assert result.exit_code != 0 and message in result.output
    assert database["users"].count_documents({}) == 0
    assert audit_log(database).count_documents({"action": "user.created"}) == 0


def test_a_taken_username_is_refused(app_config: dict, make_party, database) -> None:
    make_party("pharmacy", "NT0001")
    make_party("clinic", "79001")
    assert run(app_config, "users", "create", "--party", "pharmacy-NT0001",
               "--username", "an").exit_code != 0  # too short
    assert run(app_config, "users", "create", "--party", "pharmacy-NT0001",
               "--username", "nguyen.an").exit_code == 0
    again = run(app_config, "users", "create", "--party", "clinic-79001", "--username", "Nguyen.An")
    assert again.exit_code != 0 and "taken" in again.output
    assert database["users"].count_documents({}) == 1


def test_disable_enable_list_and_a_disabled_party(
        app: Flask, app_config: dict, make_party, browser_factory) -> None:
    clinic = make_party("clinic", "79001")
    created = json.loads(run(app_config, "users", "create", "--party", clinic.client_id,
                             "--username", "le.hoa").stdout)
    person = Person(created["username"], created["password"], clinic.client_id)
    signed_in = browser_factory()
    signed_in.login(person)
    disabled = run(app_config, "users", "disable", "le.hoa")
    assert disabled.exit_code == 0 and json.loads(disabled.stdout)["status"] == "disabled"
    # The open session ends at once, and the password no longer opens one.
    assert signed_in.get("/console/clinic/").status_code == 303
    refused = browser_factory()
    refused.get("/console/login")
    assert refused.post("/console/login", {"username": "le.hoa",
                                           "password": created["password"]}).status_code == 200
    assert run(app_config, "users", "enable", "le.hoa").exit_code == 0
    browser_factory().login(person)
    listed = json.loads(run(app_config, "users", "list").stdout)
    assert [(u["username"], u["role"], u["status"], u["active"]) for u in listed] == [
        ("le.hoa", "clinic", "active", True)]
    assert "password_hash" not in json.dumps(listed) and created["password"] not in json.dumps(listed)
    # A disabled party disables its people: listed inactive, sessions refused.
    services(app).parties.set_status(clinic.client_id, "disabled")
    listed = json.loads(run(app_config, "users", "list", "--party", clinic.client_id).stdout)
    assert listed[0]["status"] == "active" and listed[0]["active"] is False
    blocked = browser_factory()
    blocked.get("/console/login")
    assert blocked.post("/console/login", {"username": "le.hoa",
                                           "password": created["password"]}).status_code == 200
    assert run(app_config, "users", "disable", "nobody").exit_code != 0


def test_reset_password_ends_sessions_and_only_the_new_password_works(
        app_config: dict, make_party, browser_factory, database) -> None:
    make_party("regulator", "BYT")
    created = json.loads(run(app_config, "users", "create", "--party", "regulator-BYT",
                             "--username", "thanh.tra").stdout)
    old = Person("thanh.tra", created["password"], "regulator-BYT")
    session = browser_factory()
    session.login(old)
    reset = run(app_config, "users", "reset-password", "thanh.tra")
    assert reset.exit_code == 0
    new = json.loads(reset.stdout)
    assert new["password"] != created["password"]
    assert session.get("/console/inspector/").status_code == 303
    browser_factory().login(Person("thanh.tra", new["password"], "regulator-BYT"))
    stale = browser_factory()
    stale.get("/console/login")
    assert stale.post("/console/login", {"username": "thanh.tra",
                                         "password": created["password"]}).status_code == 200
    event = audit_log(database).find_one({"action": "user.password_changed"})
    assert event["details"] == {"by": "cli"}


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_a_username_is_accepted_exactly_when_its_lower_case_matches_the_rule(text: str) -> None:
    expected = USERNAME.match(text.strip().lower()) is not None
    try:
        name = normalise_username(text)
    except UserError as exc:
        assert not expected
        assert exc.errors[0]["code"] == "user.username"
    else:
        assert expected and name == text.strip().lower() and USERNAME.match(name)
