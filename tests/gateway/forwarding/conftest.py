"""Fixtures of the forwarding tests: the registry and webhook doubles serving on loopback, an app
that forwards to the registry double, a forwarder built from it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from pymongo.database import Database

from gateway.container import build_forwarder
from gateway.forwarding.worker import Forwarder
from gateway.web.context import services
from tests.support.forwarding import FACILITY, FAST_FORWARDING, REGISTRY_PASSWORD
from tests.support.registry_double import RegistryDouble, WebhookReceiver


# --- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def registry() -> Iterator[RegistryDouble]:
    double = RegistryDouble(facility_code=FACILITY, password=REGISTRY_PASSWORD)
    with double:
        yield double


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    with receiver:
        yield receiver


@pytest.fixture
def app_config(app_config: dict[str, Any], registry: RegistryDouble) -> dict[str, Any]:
    return {**app_config, **FAST_FORWARDING, "REGISTRY_BASE_URL": registry.url,
            "REGISTRY_FACILITY_CODE": FACILITY, "REGISTRY_PASSWORD": REGISTRY_PASSWORD}


@pytest.fixture
def make_forwarder(app: Flask) -> Callable[..., Forwarder]:
    def make(**overrides: Any) -> Forwarder:
        return build_forwarder(services(app), **overrides)

    return make


@pytest.fixture
def db(app: Flask) -> Database:
    return services(app).storage.database
