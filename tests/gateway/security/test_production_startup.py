"""Attack class: an unsafe production set-up that starts anyway.

Production (``ERX_ENV=production``, the default) refuses to start without each secret it needs
and with a plain-http registry (the facility password would travel in clear). Each rule names
the variable to fix.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway import create_app
from gateway.container import build_forwarder
from gateway.core.config import ConfigError, load
from gateway.forwarding.worker import registry_client
from gateway.web.context import services
from tests.support.production import production


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
