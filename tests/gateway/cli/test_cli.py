"""The command line reaches the same database as the gateway."""

from __future__ import annotations

import json

from click.testing import CliRunner
from flask.testing import FlaskClient

from gateway.cli import main
from tests.support.cli import cli_env


def test_party_created_with_the_cli_gets_a_token(app_config: dict, client: FlaskClient) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["parties", "create", "--role", "clinic", "--code", "79001",
                                  "--name", "Phòng khám Đa khoa"], env=cli_env(app_config))
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["client_id"] == "clinic-79001"
    answer = client.post("/v2/auth/token", json={"grant_type": "client_credentials",
                                                 "client_id": created["client_id"],
                                                 "client_secret": created["client_secret"]})
    assert answer.status_code == 200
    national = client.post("/api/auth/dang-nhap-co-so-kham-chua-benh", json={
        "ma_lien_thong_co_so_kham_chua_benh": "79001", "mat_khau": created["client_secret"]})
    assert national.status_code == 200


def test_cli_errors_are_clear_and_nonzero(app_config: dict) -> None:
    runner = CliRunner()
    env = cli_env(app_config)
    bad = runner.invoke(main, ["parties", "create", "--role", "doctor", "--code", "BS1",
                               "--name", "x"], env=env)
    assert bad.exit_code != 0 and "--facility" in bad.output
    runner.invoke(main, ["parties", "create", "--role", "pharmacy", "--code", "NT1",
                         "--name", "x"], env=env)
    dup = runner.invoke(main, ["parties", "create", "--role", "pharmacy", "--code", "NT1",
                               "--name", "x"], env=env)
    assert dup.exit_code != 0 and "exists" in dup.output
    missing = runner.invoke(main, ["parties", "disable", "pharmacy-nope"], env=env)
    assert missing.exit_code != 0 and "no party" in missing.output


def test_disable_enable_and_list(app_config: dict) -> None:
    runner = CliRunner()
    env = cli_env(app_config)
    runner.invoke(main, ["parties", "create", "--role", "regulator", "--code", "SYT79",
                         "--name", "Sở Y tế TP.HCM"], env=env)
    disabled = runner.invoke(main, ["parties", "disable", "regulator-SYT79"], env=env)
    assert json.loads(disabled.stdout)["status"] == "disabled"
    listed = json.loads(runner.invoke(main, ["parties", "list"], env=env).stdout)
    assert [p["client_id"] for p in listed] == ["regulator-SYT79"]
    assert "secret" not in json.dumps(listed)


def test_config_command_prints_every_setting() -> None:
    result = CliRunner().invoke(main, ["config", "--format", "json"], env={"ERX_WORKERS": "5"})
    assert result.exit_code == 0
    rows = {row["variable"]: row for row in json.loads(result.stdout)}
    assert rows["ERX_WORKERS"]["value"] == "5" and rows["ERX_WORKERS"]["default"] == "2"
    bad = CliRunner().invoke(main, ["config"], env={"ERX_WORKERS": "many"})
    assert bad.exit_code != 0 and "ERX_WORKERS" in bad.output


def test_create_rotate_if_exists_gives_a_new_secret(app_config: dict, client: FlaskClient) -> None:
    runner, env = CliRunner(), cli_env(app_config)
    args = ["parties", "create", "--role", "pharmacy", "--code", "NT0001", "--name", "Số 1",
            "--phone", "02838225678", "--rotate-if-exists"]
    first = json.loads(runner.invoke(main, args, env=env).stdout)
    again = runner.invoke(main, [*args[:-3], "--phone", "0909123456", "--rotate-if-exists"],
                          env=env)
    assert again.exit_code == 0, again.output
    second = json.loads(again.stdout)
    assert second["client_id"] == first["client_id"] == "pharmacy-NT0001"
    assert second["client_secret"] != first["client_secret"]
    assert "new secret" in again.stderr

    def token(secret: str) -> int:
        return client.post("/v2/auth/token", json={
            "grant_type": "client_credentials", "client_id": "pharmacy-NT0001",
            "client_secret": secret}).status_code

    assert token(second["client_secret"]) == 200 and token(first["client_secret"]) == 401
    listed = json.loads(runner.invoke(main, ["parties", "list"], env=env).stdout)
    assert listed[0]["phone"] == "0909123456"
    plain = runner.invoke(main, args[:-1], env=env)
    assert plain.exit_code != 0 and "--rotate-if-exists" in plain.output
