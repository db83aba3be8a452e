"""Settings: defaults, environment, overrides, production safety, and the README table."""

from __future__ import annotations

import ast
import re
from dataclasses import FrozenInstanceError, fields
from pathlib import Path
from typing import get_type_hints

import pytest

from gateway import create_app
from gateway.core import config
from gateway.core.config import ConfigError
from gateway.core.settings import Settings
from gateway.prescriptions.overlaps import OverlapPolicy
from gateway.web.context import services

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"


def test_defaults_then_environment_then_overrides() -> None:
    values = config.load({"WORKERS": 9}, environ={"ERX_WORKERS": "3", "ERX_HTTP_PORT": "9000"})
    assert values.workers == 9
    assert values.http_port == 9000
    assert values.token_ttl_seconds == 604_800
    assert values.env == "production"
    assert values.max_body_bytes == 1_048_576


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


def test_the_typed_settings_hold_every_setting_of_the_table_in_its_order() -> None:
    names = [item.name for item in fields(Settings)]
    assert names == [setting.name.lower() for setting in config.SETTINGS]
    hints = get_type_hints(Settings)
    for setting in config.SETTINGS:
        wanted = {"bool": bool, "int": int, "float": float, "str": str}.get(
            getattr(hints[setting.name.lower()], "__name__", ""), tuple)
        # A whole number is a decimal setting's default too (RX_OVERLAP_WAIT_SECONDS: 5).
        assert type(setting.default) is wanted or (wanted is float and type(setting.default) is int), \
            setting.name


def test_defaults_are_written_once_in_the_table() -> None:
    loaded = config.load({}, environ={})
    assert loaded.by_name() == {setting.name: setting.default for setting in config.SETTINGS}


def test_unknown_override_names_are_refused(app_config: dict) -> None:
    with pytest.raises(ConfigError, match="unknown settings: TOKEN_TTL, WORKER"):
        config.load({"WORKER": 3, "TOKEN_TTL": 5, "WORKERS": 2}, environ={})
    with pytest.raises(ConfigError, match="unknown settings: MAX_BODY"):
        create_app({**app_config, "MAX_BODY": 10})


@pytest.mark.parametrize("override, message", [
    ({"WORKERS": "0"}, "WORKERS: expected a positive whole number"),
    ({"WORKERS": 2.5}, "WORKERS: expected int"),
    ({"WORKERS": True}, "WORKERS: expected int"),
    ({"RX_DUPLICATE_THERAPY": "maybe"}, "RX_DUPLICATE_THERAPY: expected true/false"),
    ({"NOMINATION": "strict"}, "NOMINATION: expected one of advisory, binding"),
    ({"RX_CANCER_ICD10": 7}, "RX_CANCER_ICD10: expected tuple"),
])
def test_overrides_are_checked_like_the_environment(override: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.load(override, environ={})


def test_overrides_take_the_settings_types() -> None:
    loaded = config.load({"WORKERS": "4", "CACHE_POLL_SECONDS": 2, "RX_CANCER_ICD10": ["C00-C97"],
                          "RX_DUPLICATE_THERAPY": "off"}, environ={})
    assert (loaded.workers, loaded.cache_poll_seconds, loaded.rx_cancer_icd10,
            loaded.rx_duplicate_therapy) == (4, 2.0, ("C00-C97",), False)
    assert isinstance(loaded.cache_poll_seconds, float)


def test_the_settings_are_frozen_and_reach_the_services(app) -> None:
    found = services(app).settings
    with pytest.raises(FrozenInstanceError):
        found.workers = 3  # type: ignore[misc]
    assert found.db_name == app.extensions["erx"].settings.db_name
    assert "TOKEN_TTL_SECONDS" not in app.config  # no setting is looked up by name in Flask's


def test_the_overlap_policy_defaults_are_the_settings_defaults() -> None:
    """OverlapPolicy keeps defaults for the unit tests that build one; they are the table's."""
    assert OverlapPolicy() == OverlapPolicy.from_settings(config.load({}, environ={}))


def test_no_setting_is_read_by_its_name_outside_the_table() -> None:
    """Services take the typed Settings (or a policy built from it), never ``config["NAME"]``."""
    names = {setting.name for setting in config.SETTINGS}
    found = []
    for path in sorted((ROOT / "gateway").rglob("*.py")):
        if path.name == "config.py" and path.parent.name == "core":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            key = None
            if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
                key = node.slice.value
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "get" and node.args and isinstance(node.args[0], ast.Constant):
                key = node.args[0].value
            if key in names:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {key}")
    # The run file a running gateway publishes is keyed by setting name (supervisor.PUBLISHED).
    assert [item for item in found if not item.startswith("gateway/runtime/supervisor.py")] == []
