"""erx-gateway: the HTTP service, its storage wiring, auth and forwarding.

``create_app(config)`` is the composition root: settings (defaults, ``ERX_*`` environment,
then ``config``), the typed container of services (:mod:`gateway.container`), and every
blueprint, registered from the explicit list :data:`BLUEPRINTS`. The README's "Architecture"
section shows the packages and the order in which they may import each other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Flask, current_app
from flask_smorest import Api
from flask_smorest import Blueprint as ApiBlueprint

from gateway.audit import views as audit_views
from gateway.auth import party_views
from gateway.auth import views as auth_views
from gateway.catalog import views as catalog_views
from gateway.console import account_views, clinic_views, inspector_views, pharmacy_views
from gateway.console import pages as console_pages
from gateway.container import build_services
from gateway.core import config as settings
from gateway.fhir import views as fhir_views
from gateway.forwarding import views as forwarding_views
from gateway.forwarding.worker import METRICS as forwarder_metrics
from gateway.national import views as national_views
from gateway.prescriptions import print_views, report_views
from gateway.prescriptions import views as prescription_views
from gateway.runtime import preflight
from gateway.signatures import views as signature_views
from gateway.web import examples, http, metrics, openapi, ops, problems
from gateway.web.context import EXTENSION_KEY, services
from gateway.web.json_provider import WholeNumbersJSON
from gateway.web.problems import ApiError, ProblemSchema, handle_exception
from schemas.identifiers import typed_code

API_SPEC_OPTIONS: dict[str, Any] = {
    "info": {"description": "Interconnection gateway for Vietnam's national electronic "
                            "prescriptions. Errors are RFC 9457 problem+json."},
    "security": [{"bearerAuth": []}],
    "components": {"securitySchemes": {
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        "appKey": {"type": "apiKey", "in": "header", "name": "app-key",
                   "description": "a pharmacy's secret (national pharmacy calls), sent with "
                                  "`app-name`"},
        "appName": {"type": "apiKey", "in": "header", "name": "app-name",
                    "description": "a pharmacy's client id (`pharmacy-<code>`), sent with "
                                   "`app-key`"},
    }},
}


# Every blueprint: the API's in the order the OpenAPI document lists them, then the console's
# pages (plain Flask blueprints: HTML for people, not part of the API's description).
BLUEPRINTS = (ops.blp, auth_views.blp, party_views.blp, signature_views.blp, forwarding_views.blp,
              forwarding_views.webhooks_blp, audit_views.blp, report_views.blp,
              catalog_views.blp, prescription_views.blp, print_views.blp, national_views.blp,
              fhir_views.blp,
              account_views.blp, pharmacy_views.blp, clinic_views.blp, inspector_views.blp)


class GatewayApi(Api):
    """flask-smorest's Api with the gateway's one error envelope, and an OpenAPI document
    that states every answer (gateway.web.openapi) with examples made when it is served."""

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = None  # every status is stated, none left to "default"
    _finished: dict[str, Any] | None = None

    def handle_http_exception(self, error: Exception) -> Any:
        return handle_exception(error)

    def document(self) -> dict[str, Any]:
        """The OpenAPI document as served: completed once, examples made now."""
        if self._finished is None:
            self._finished = openapi.finish(self.spec.to_dict())
        return openapi.with_examples(self._finished, examples.by_schema(
            services().timezone))

    def _openapi_json(self) -> Any:
        return current_app.response_class(json.dumps(self.document(), ensure_ascii=False),
                                          mimetype="application/json")


def create_app(config: Mapping[str, Any] | None = None, *, start: bool = True,
               listeners: Sequence[Any] = ()) -> Flask:
    """Build the app. ``start``: run the background work of a serving process (the change
    feed, the catalog's first load; command-line tools pass False). ``listeners``: pymongo
    command listeners for every database client (tests count operations with them).

    Raises:
        gateway.core.config.ConfigError: a setting is invalid or a production requirement is
            unmet.
    """
    configured = settings.load(config)  # the process's one typed Settings (services().settings)
    app = http.GatewayFlask(__name__)
    app.json = WholeNumbersJSON(app)  # integers when whole, in every answer
    app.config.update(
        API_TITLE="erx-gateway", API_VERSION="2", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs", OPENAPI_SWAGGER_UI_URL="/docs/assets/",
        API_SPEC_OPTIONS=API_SPEC_OPTIONS, JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    preflight.refuse(preflight.problems(configured))  # every problem at once, before building
    http.configure_logging(configured.log_level)
    found = app.extensions[EXTENSION_KEY] = build_services(configured, listeners=listeners)
    http.init_app(app, configured)
    metrics.init_app(app, forwarder_metrics)
    if start:
        found.start()
    ops.init_app(app)
    console_pages.init_app(app)
    api = GatewayApi(app)
    for blueprint in BLUEPRINTS:
        if isinstance(blueprint, ApiBlueprint):
            api.register_blueprint(blueprint)
        else:
            app.register_blueprint(blueprint)
    problems.init_app(app, faces={national_views.blp.name: national_views.national_error,
                                  fhir_views.blp.name: fhir_views.outcome_error})
    app.url_value_preprocessor(_typed_code)
    return app


def _typed_code(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """A prescription code in a path as typed from paper (blanks, any case) in its stored
    spelling; the look-up itself accepts O for 0 and I or L for 1."""
    if values and isinstance(values.get("code"), str):
        values["code"] = typed_code(values["code"])


__all__ = ["ApiError", "create_app"]
