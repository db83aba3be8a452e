"""Attack class: an unsafe production set-up that starts anyway.

Production (``ERX_ENV=production``, the default) refuses to start without each secret it needs
and with a plain-http registry (the facility password would travel in clear). Each rule names
the variable to fix.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway import create_app
from gateway.container import build_forwarder
from gateway.core.config import ConfigError, check_embedded_database, load
from gateway.forwarding.worker import registry_client
from gateway.web.context import services
from tests.support.environment import free_port
from tests.support.production import production

BIN = Path(sys.executable).parent


def test_a_complete_production_configuration_starts(app_config: dict[str, Any]) -> None:
    app = create_app(production(app_config))
    services(app).close()


@pytest.mark.parametrize("change, variable", [
    ({"TOKEN_SECRET": ""}, "ERX_TOKEN_SECRET"),
    ({"AUDIT_PATIENT_KEY": ""}, "ERX_AUDIT_PATIENT_KEY"),
    ({"SIGNING_KEY_PASSPHRASE": ""}, "ERX_SIGNING_KEY_PASSPHRASE"),
    ({"DATA_KEY_FILE": ""}, "ERX_DATA_KEY_FILE"),
    ({"REGISTRY_BASE_URL": "http://registry.example.vn"}, "ERX_REGISTRY_BASE_URL"),
    ({"REGISTRY_BASE_URL": "HTTP://registry.example.vn"}, "ERX_REGISTRY_BASE_URL"),
    ({"TOKEN_SECRET": "short"}, "ERX_TOKEN_SECRET"),
    ({"MONGODB_URI": ""}, "ERX_EMBEDDED_DB_IN_PRODUCTION"),
])
def test_production_refuses_an_unsafe_set_up(app_config: dict[str, Any], change: dict[str, Any],
                                             variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        create_app(production(app_config, **change))


def test_the_forwarder_refuses_a_plain_http_or_missing_registry(app_config: dict[str, Any]) -> None:
    for url, message in (("http://registry.example.vn", "https"), ("", "required")):
        with pytest.raises(ConfigError, match=message):
            registry_client(load(production(app_config, REGISTRY_BASE_URL=url), environ={}))


def test_development_may_use_a_local_plain_http_registry(app: Any, app_config: dict[str, Any]) -> None:
    found = services(app)
    found.settings = found.settings.but(registry_base_url="http://127.0.0.1:9")
    forwarder = build_forwarder(found)
    assert forwarder is not None


def test_production_runs_on_the_embedded_database_only_when_told_it_is_one_node(
        tmp_path: Path) -> None:
    """``erx-gateway run`` and a command-line call in production without ERX_MONGODB_URI stop
    before starting anything, naming the setting; ``single-node`` lets the check pass."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ERX_")}
    env.update({"ERX_ENV": "production", "ERX_VAR_DIR": str(tmp_path / "var"),
                "ERX_EMBEDDED_DB_PORT": str(free_port()), "ERX_HTTP_PORT": str(free_port())})
    for command in (["run"], ["parties", "list"]):
        refused = subprocess.run([str(BIN / "erx-gateway"), *command], env=env,
                                 capture_output=True, text=True, timeout=120)
        assert refused.returncode == 1, refused.stderr
        assert "ERX_EMBEDDED_DB_IN_PRODUCTION=single-node" in refused.stderr
        assert "ERX_MONGODB_URI" in refused.stderr
    assert not (tmp_path / "var" / "db").exists()  # no database was started
    values = load({}, environ={"ERX_ENV": "production",
                               "ERX_EMBEDDED_DB_IN_PRODUCTION": "single-node"})
    check_embedded_database(values)
    check_embedded_database(values.but(embedded_db_in_production="",
                                       mongodb_uri="mongodb://db1,db2,db3/?replicaSet=rs0"))
    with pytest.raises(ConfigError, match="ERX_EMBEDDED_DB_IN_PRODUCTION"):
        load({}, environ={"ERX_EMBEDDED_DB_IN_PRODUCTION": "yes"})
