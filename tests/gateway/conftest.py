"""Fixtures of the gateway tests: the demo catalog loaded into the test database."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from drug_catalog.demo import demo_catalog_path
from gateway.web.context import services


def load_demo_catalog(app: Flask) -> Any:
    """Import the shipped demo catalog into ``app``'s database; the refreshed catalog."""
    service = services(app).catalog
    service.import_catalog(str(demo_catalog_path()), "ndjson")
    service.catalog.refresh()
    return service.catalog


@pytest.fixture
def demo_catalog(app: Flask) -> Any:
    return load_demo_catalog(app)


@pytest.fixture
def demo_catalog_into():
    """``demo_catalog_into(app)`` for apps made in the test (``make_app``)."""
    return load_demo_catalog
