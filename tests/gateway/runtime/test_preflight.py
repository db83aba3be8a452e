"""Production start-up names every missing or unsafe setting at once, each with its remedy,
before it starts anything (it took six rounds to learn them one at a time)."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from gateway import create_app
from gateway.cli import main
from gateway.core.config import ConfigError
from gateway.runtime import supervisor
from gateway.web.context import services

BARE_PRODUCTION = {"ENV": "production", "TOKEN_SECRET": "", "AUDIT_PATIENT_KEY": "",
                   "DATA_KEY_FILE": "", "SIGNING_KEY_PASSPHRASE": "",
                   "PRESCRIBER_SIGNATURE": "required", "PRESCRIBER_TRUST_ANCHORS": "",
                   "REGISTRY_BASE_URL": "http://registry.example"}


def test_production_lists_every_problem_with_its_remedy(app_config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as refused:
        create_app({**app_config, **BARE_PRODUCTION})
    message = str(refused.value)
    assert message.startswith("6 settings prevent the start")
    for variable, remedy in (("ERX_TOKEN_SECRET", "secrets.token_urlsafe"),
                             ("ERX_AUDIT_PATIENT_KEY", "keep it"),
                             ("ERX_DATA_KEY_FILE", "erx-gateway data-key generate"),
                             ("ERX_SIGNING_KEY_PASSPHRASE", "encrypts"),
                             ("ERX_PRESCRIBER_SIGNATURE=required", "ERX_PRESCRIBER_TRUST_ANCHORS"),
                             ("ERX_REGISTRY_BASE_URL", "https://")):
        [line] = [line for line in message.splitlines() if variable in line
                  and line.startswith("  - ")]
        assert remedy in line, line


def test_the_old_unencrypted_development_key_is_listed_with_the_rest(
        app, app_config: dict[str, Any]) -> None:
    assert services(app).signatures.signer() is not None  # development made an unencrypted key
    with pytest.raises(ConfigError) as refused:
        create_app({**app_config, "ENV": "production", "TOKEN_SECRET": "",
                    "AUDIT_PATIENT_KEY": "p" * 40, "SIGNING_KEY_PASSPHRASE": "s" * 40})
    message = str(refused.value)
    assert message.startswith("2 settings prevent the start")
    assert "ERX_TOKEN_SECRET" in message
    assert "stored unencrypted" in message and "erx-gateway keys rotate" in message


def test_erx_gateway_run_refuses_before_starting_anything(monkeypatch, tmp_path) -> None:
    def started(*_: Any, **__: Any) -> int:
        raise AssertionError("nothing may start")

    monkeypatch.setattr(supervisor, "run", started)
    result = CliRunner().invoke(main, ["run"], env={
        "ERX_ENV": "production", "ERX_VAR_DIR": str(tmp_path), "ERX_MONGODB_URI": "",
        "ERX_TOKEN_SECRET": "", "ERX_AUDIT_PATIENT_KEY": "", "ERX_DATA_KEY_FILE": "",
        "ERX_SIGNING_KEY_PASSPHRASE": "", "ERX_REGISTRY_BASE_URL": ""})
    assert result.exit_code != 0
    assert "6 settings prevent the start" in result.output
    for variable in ("ERX_TOKEN_SECRET", "ERX_AUDIT_PATIENT_KEY", "ERX_DATA_KEY_FILE",
                     "ERX_SIGNING_KEY_PASSPHRASE", "ERX_REGISTRY_BASE_URL",
                     "ERX_EMBEDDED_DB_IN_PRODUCTION=single-node"):
        assert variable in result.output
