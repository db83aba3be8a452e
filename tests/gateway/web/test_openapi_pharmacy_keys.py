"""The OpenAPI document says what the server accepts: a pharmacy's native calls take its
national `app-name` / `app-key` headers as well as a bearer token."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.support.prescriptions import issued

APP_KEY = {"appKey": [], "appName": []}


def test_native_pharmacy_calls_declare_and_accept_app_keys(client: FlaskClient,
                                                           world: dict) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    for path, method in (("/v2/prescriptions/{code}", "get"),
                         ("/v2/prescriptions/{code}/dispenses", "post"),
                         ("/v2/pharmacies/me/webhook", "put")):
        assert APP_KEY in paths[path][method]["security"], (path, method)
    assert "security" not in paths["/v2/prescriptions"]["post"]  # prescribers: bearer only
    pharmacy = world["parties"]["pharmacy_1"]
    code = issued(client, world)
    answer = client.get(f"/v2/prescriptions/{code}", headers={
        "app-name": pharmacy.client_id, "app-key": pharmacy.client_secret})
    assert answer.status_code == 200
