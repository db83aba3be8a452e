"""The demo drug catalog loaded into a test app."""

from __future__ import annotations

from typing import Any

from flask import Flask

from drug_catalog.demo import demo_catalog_path
from gateway.web.context import services


def load_demo_catalog(app: Flask) -> Any:
    """Import the shipped demo catalog into ``app``'s database; the refreshed catalog."""
    service = services(app).catalog
    service.import_catalog(str(demo_catalog_path()), "ndjson")
    service.catalog.refresh()
    return service.catalog
