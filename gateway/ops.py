"""Operations endpoints: liveness, readiness, metrics, and the rendered API docs.

Readiness is a list of named checks (``app.extensions['erx.readiness']``): the database is
registered here, other services (the signer) add theirs with :func:`add_readiness_check`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import swagger_ui_bundle
from flask import Flask, current_app, send_from_directory
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from gateway import metrics
from gateway.db import get_storage

blp = Blueprint("ops", __name__, description="Health, readiness and metrics")


class HealthSchema(Schema):
    status = fields.String(metadata={"example": "ok"})
    checks = fields.Dict(keys=fields.String(), values=fields.String())


def add_readiness_check(app: Flask, name: str, check: Callable[[], bool]) -> None:
    app.extensions.setdefault("erx.readiness", {})[name] = check


@blp.route("/healthz")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
def healthz() -> Any:
    """The process is alive."""
    return {"status": "ok"}


@blp.route("/readyz")
@blp.doc(security=[], responses={"503": {"description": "a dependency is not ready"}})
@blp.response(200, HealthSchema)
def readyz() -> Any:
    """The database answers and every service is ready (503 otherwise)."""
    checks = {name: "ok" if check() else "failing"
              for name, check in current_app.extensions.get("erx.readiness", {}).items()}
    ready = all(state == "ok" for state in checks.values())
    return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503


@blp.route("/metrics")
@blp.doc(security=[], responses={"200": {"description": "Prometheus text format",
                                         "content": {"text/plain": {}}}})
def prometheus_metrics() -> Any:
    """Prometheus metrics."""
    return metrics.render()


def _docs_assets(filename: str) -> Any:
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=3600)


def init_app(app: Flask) -> None:
    add_readiness_check(app, "database", lambda: get_storage().ping())
    # Swagger UI is served from the swagger-ui-bundle package: /docs works offline.
    app.add_url_rule("/docs/assets/<path:filename>", "docs_assets", _docs_assets)
