"""Every request-body example of the OpenAPI document is accepted, as Swagger's "Try it out"
sends it: the examples are schemas/examples.py, which the document and the docs show.

Only what a reader must fill in is replaced: a secret (shown once when a party is made) and
the code of a prescription made by the basic example."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from gateway.web.context import services

#: (method, path) -> the party that sends it.
SENDER = {
    ("post", "/v2/prescriptions"): "doctor",
    ("post", "/api/v1/gui-don-thuoc"): "doctor",
    ("post", "/v2/prescriptions/{code}/dispenses"): "pharmacy",
    ("post", "/api/v1/cap-nhat-don-thuoc"): "pharmacy",
    ("post", "/v2/prescriptions/{code}/cancel"): "doctor",
    ("post", "/v2/parties"): "admin",
    ("patch", "/v2/parties/{client_id}"): "admin",
    ("put", "/v2/pharmacies/me/webhook"): "pharmacy",
    ("post", "/v2/signatures/verify"): "pharmacy",
    ("post", "/v2/auth/token"): None,
    ("post", "/api/auth/dang-nhap-co-so-kham-chua-benh"): None,
    ("post", "/api/auth/dang-nhap-bac-si"): None,
}


def _documented(client: FlaskClient) -> dict[tuple[str, str], dict[str, Any]]:
    spec = client.get("/openapi.json").get_json()
    found = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            if body:
                content = body["content"]["application/json"]
                assert content.get("examples"), f"{method.upper()} {path} has no example"
                found[(method, path)] = content["examples"]
    return found


def test_every_request_body_has_an_example_that_succeeds(client: FlaskClient, make_party,
                                                         demo_catalog) -> None:
    clinic = make_party("clinic", "79001")
    doctor = make_party("doctor", "BS001", facility="79001")
    pharmacy = make_party("pharmacy", "NT0009")
    admin = make_party("admin", "ops")
    headers = {"doctor": doctor.headers(client), "pharmacy": pharmacy.headers(client),
               "admin": admin.headers(client)}
    documented = _documented(client)
    assert set(documented) == set(SENDER), "an operation with a body is not in this test"

    def basic_code() -> str:
        example = documented[("post", "/v2/prescriptions")]["basic"]["value"]
        answer = client.post("/v2/prescriptions", json=example, headers=headers["doctor"])
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()["ma_don_thuoc"]

    secrets = {"client_secret": clinic.client_secret}
    sent = 0
    for (method, path), examples in documented.items():
        for name, example in examples.items():
            body = dict(example["value"])
            target = path
            if "{code}" in path:
                target = path.replace("{code}", basic_code())
            if path == "/v2/parties/{client_id}":
                target = path.replace("{client_id}", pharmacy.client_id)
            if path == "/api/v1/cap-nhat-don-thuoc":
                body["ma_don_thuoc"] = basic_code()
            if path == "/v2/auth/token":
                body.update(secrets)
            if path.startswith("/api/auth/"):
                body["password"] = (doctor if "bac-si" in path else clinic).client_secret
            role = SENDER[(method, path)]
            answer = client.open(target, method=method.upper(), json=body,
                                 headers=headers[role] if role else {})
            assert answer.status_code in (200, 201), (method, path, name, answer.get_json())
            reply = answer.get_json()
            assert reply.get("success", True) is True, (path, name, reply)
            sent += 1
    assert sent >= 14
    # The examples made what they say: the narcotic one an n prescription, the child's with a
    # guardian, the dispense a substitution with its scanned pack.
    stored = list(services(client.application).storage.database["prescriptions"].find())
    assert {doc["document"]["loai_don_thuoc"] for doc in stored} == {"c", "n"}
    assert any("thong_tin_nguoi_giam_ho" in doc["document"] for doc in stored)
    dispensed = [item for doc in stored for dispense in doc.get("dispenses", [])
                 for item in dispense["items"]]
    assert any(item["substituted"] and item["packs"] for item in dispensed)


def test_examples_are_fresh_each_time_the_document_is_served(client: FlaskClient) -> None:
    first = _documented(client)[("post", "/v2/prescriptions/{code}/dispenses")]
    again = _documented(client)[("post", "/v2/prescriptions/{code}/dispenses")]
    packs = [example["value"]["items"][0]["packs"][0] for example in (*first.values(),
                                                                       *again.values())]
    assert len(set(packs)) == len(packs), "a scanned serial is dispensed once: new each time"
