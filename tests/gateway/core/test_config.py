"""Settings: defaults, environment, overrides, production safety, and the README table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway import create_app
from gateway.core import config
from gateway.core.config import ConfigError
from gateway.web.context import services

README = Path(__file__).resolve().parents[3] / "README.md"


def test_defaults_then_environment_then_overrides() -> None:
    values = config.load({"WORKERS": 9}, environ={"ERX_WORKERS": "3", "ERX_HTTP_PORT": "9000"})
    assert values["WORKERS"] == 9
    assert values["HTTP_PORT"] == 9000
    assert values["TOKEN_TTL_SECONDS"] == 604_800
    assert values["ENV"] == "production"
    assert values["MAX_BODY_BYTES"] == 1_048_576


@pytest.mark.parametrize("name, raw", [("ERX_HTTP_PORT", "eighty"), ("ERX_WORKERS", "0"),
                                       ("ERX_ENV", "staging"), ("ERX_LOG_LEVEL", "loud")])
def test_bad_environment_values_name_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=name):
        config.load(environ={name: raw})


def test_production_refuses_to_start_without_a_token_secret(app_config: dict) -> None:
    with pytest.raises(ConfigError, match="ERX_TOKEN_SECRET"):
        create_app({**app_config, "ENV": "production", "TOKEN_SECRET": ""})


def test_short_token_secret_is_refused(app_config: dict) -> None:
    with pytest.raises(ConfigError, match="32"):
        create_app({**app_config, "TOKEN_SECRET": "short"})


def test_development_keeps_a_generated_token_secret(make_app, tmp_path: Path) -> None:
    var = tmp_path / "devvar"
    first = make_app(TOKEN_SECRET="", VAR_DIR=str(var))
    second = make_app(TOKEN_SECRET="", VAR_DIR=str(var))
    assert (var / "token-secret").stat().st_mode & 0o777 == 0o600
    assert services(first).tokens.secret == services(second).tokens.secret


def test_describe_masks_secrets() -> None:
    rows = {row["variable"]: row for row in config.describe(
        config.load({"TOKEN_SECRET": "x" * 40, "MONGODB_URI": "mongodb://u:p@h/"}))}
    assert rows["ERX_TOKEN_SECRET"]["value"] == "***"
    assert rows["ERX_MONGODB_URI"]["value"] == "***"


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text()
    table = re.search(r"<!-- config-table:start -->(.*)<!-- config-table:end -->", text, re.S)
    assert table, "README.md lost its configuration table markers"
    documented = set(re.findall(r"`(ERX_[A-Z0-9_]+)`", table.group(1)))
    assert documented == {setting.env_var for setting in config.SETTINGS}, (
        "regenerate with: .venv/bin/erx-gateway config --format markdown")
