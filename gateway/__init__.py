"""erx-gateway: the HTTP service, its storage wiring, auth and forwarding.

``create_app(config)`` builds the Flask app: settings (defaults, ``ERX_*`` environment, then
``config``), the Mongo client, services in ``app.extensions``, and every blueprint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_smorest import Api

from gateway import config as settings
from gateway.errors import ApiError, ProblemSchema, handle_exception

API_SPEC_OPTIONS: dict[str, Any] = {
    "info": {"description": "Interconnection gateway for Vietnam's national electronic "
                            "prescriptions. Errors are RFC 9457 problem+json."},
    "security": [{"bearerAuth": []}],
    "components": {"securitySchemes": {
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        "appKey": {"type": "apiKey", "in": "header", "name": "app-key"},
    }},
}


class GatewayApi(Api):
    """flask-smorest's Api with the gateway's one error envelope."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: Exception) -> Any:  # noqa: D102 - flask-smorest hook
        return handle_exception(error)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app.

    Raises:
        gateway.config.ConfigError: a setting is invalid or a production requirement is unmet.
    """
    app = Flask(__name__)
    app.config.update(settings.load(config))
    app.config.update(
        API_TITLE="erx-gateway", API_VERSION="2", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs", OPENAPI_SWAGGER_UI_URL="/docs/assets/",
        API_SPEC_OPTIONS=API_SPEC_OPTIONS, JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    from gateway import audit, auth, db, errors, http, metrics, ops, reports, signatures
    from gateway import deliveries, webhooks
    from gateway import drugs, national, prescriptions, ratelimit

    http.configure_logging(app.config["LOG_LEVEL"])
    http.init_app(app)
    metrics.init_app(app)
    auth.init_app(app)  # checks secrets before anything opens a connection
    audit.init_app(app)
    reports.init_app(app)
    db.init_app(app)
    try:
        ops.init_app(app)
        ratelimit.init_app(app)
        signatures.init_app(app)
        deliveries.init_app(app)
        drugs.init_app(app)
        prescriptions.init_app(app)  # after the catalog, the signer and the audit log
    except BaseException:
        app.extensions["erx.storage"].client.close()
        raise

    api = GatewayApi(app)
    app.extensions["erx.api"] = api
    for blueprint in (ops.blp, auth.blp, signatures.blp, deliveries.blp, webhooks.blp,
                      audit.blp, reports.blp, drugs.blp, prescriptions.blp, national.blp):
        api.register_blueprint(blueprint)
    errors.init_app(app)
    return app


__all__ = ["create_app", "ApiError"]
