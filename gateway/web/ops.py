"""Operations endpoints: liveness, readiness, metrics, and the rendered API docs.

Readiness is the list of named checks the composition root gave the services (the database,
the signing key, the drug catalog loaded in memory), and says how the process's caches are
kept current (``change_streams``, or ``polling`` where the database has no change streams);
``/metrics`` adds the collectors that read figures from the database.
"""

from __future__ import annotations

from typing import Any

import swagger_ui_bundle
from flask import Flask, send_from_directory
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from gateway.web import metrics
from gateway.web.context import services

blp = Blueprint("ops", __name__, description="Health, readiness and metrics")


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"enum": ["ok", "unavailable"]})
    checks = fields.Dict(keys=fields.String(), values=fields.String(
        metadata={"enum": ["ok", "failing"]}))
    caches = fields.String(metadata={
        "description": "how parties, keys, webhooks and the drug catalog are kept current: "
                       "change_streams, polling (no change streams), starting or reconnecting",
        "enum": ["change_streams", "polling", "starting", "reconnecting", "stopped"],
        "example": "change_streams"})


@blp.route("/healthz")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
def healthz() -> Any:
    """The process is alive."""
    return {"status": "ok"}


@blp.route("/readyz")
@blp.doc(security=[], responses={"503": {"description": "a dependency is not ready",
                                         "content": {"application/json": {"schema": HealthSchema}}}})
@blp.response(200, HealthSchema)
def readyz() -> Any:
    """The database answers, the drug catalog is loaded and every service is ready (503
    otherwise); ``caches`` says whether caches follow change streams or poll."""
    found = services()
    checks = {name: "ok" if check() else "failing" for name, check in found.readiness.items()}
    ready = all(state == "ok" for state in checks.values())
    return ({"status": "ok" if ready else "unavailable", "checks": checks,
             "caches": found.feed.mode}, 200 if ready else 503)


@blp.route("/metrics")
@blp.doc(security=[], responses={"200": {"description": "Prometheus text format",
                                         "content": {"text/plain": {}}}})
def prometheus_metrics() -> Any:
    """Prometheus metrics."""
    return metrics.render(services().scrape_collectors)


def _docs_assets(filename: str) -> Any:
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=3600)


def init_app(app: Flask) -> None:
    # Swagger UI is served from the swagger-ui-bundle package: /docs works offline.
    app.add_url_rule("/docs/assets/<path:filename>", "docs_assets", _docs_assets)
