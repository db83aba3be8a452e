"""End to end through the prescription lifecycle: what the HTTP API accepts, cancels and
dispenses reaches the registry double and the nominated pharmacy's webhook, in order."""

from __future__ import annotations

import json

from gateway.forwarding.webhooks import EVENT_HEADER, SIGNATURE_HEADER
from signing.jws import verify_detached
from tests.support.forwarding import deliveries_of
from tests.support.prescriptions import PARACETAMOL, prescription


def test_submit_dispense_cancel_are_forwarded(client, make_party, demo_catalog, db, registry,
                                              webhook_receiver, make_forwarder) -> None:
    doctor = make_party("doctor", "BS001", facility="79001").headers(client)
    clinic = make_party("clinic", "79001").headers(client)
    pharmacy = make_party("pharmacy", "NT0001", name="Nhà thuốc Số Một").headers(client)
    assert client.put("/v2/pharmacies/me/webhook", headers=pharmacy,
                      json={"url": webhook_receiver.url + "/hook"}).status_code == 200
    submitted = client.post("/v2/prescriptions", headers=doctor, json=prescription(
        ma_co_so_cung_ung_thuoc_chi_dinh="NT0001"))
    assert submitted.status_code == 201, submitted.get_json()
    code = submitted.get_json()["ma_don_thuoc"]
    dispensed = client.post(f"/v2/prescriptions/{code}/dispenses", headers=pharmacy, json={
        "ma_hoa_don": "HD0001", "items": [{"line": 0, "so_luong_ban": 5}]})
    assert dispensed.status_code == 201, dispensed.get_json()
    cancelled = client.post(f"/v2/prescriptions/{code}/cancel", headers=clinic,
                            json={"ly_do": "Bệnh nhân dị ứng"})
    assert cancelled.status_code == 200, cancelled.get_json()

    make_forwarder().run_until_idle()

    deliveries = deliveries_of(db, code)
    assert [(d["target"], d["event"], d["state"]) for d in deliveries] == [
        ("registry", "prescription.issued", "delivered"),
        ("pharmacy:NT0001", "prescription.issued", "delivered"),
        ("registry", "dispense.recorded", "delivered"),
        ("registry", "prescription.cancelled", "delivered"),
        ("pharmacy:NT0001", "prescription.cancelled", "delivered")]
    sent = registry.prescriptions[code]
    assert "ma_co_so_cung_ung_thuoc_chi_dinh" not in sent
    assert sent["thong_tin_don_thuoc"][0]["so_luong"] == 20
    [(report_key, report)] = registry.dispenses.items()
    assert report_key == (code, "HD0001")
    assert report["ten_co_so_cung_ung_thuoc"] == "Nhà thuốc Số Một"
    assert report["thong_tin_thuoc"][0]["so_luong_ban"] == 5
    assert report["thong_tin_thuoc"][0]["ma_thuoc_da_ke_don"] == PARACETAMOL
    assert registry.cancellations[code]["ly_do"] == "Bệnh nhân dị ứng"
    assert registry.out_of_order == 0

    jwks = client.get("/.well-known/jwks.json").get_json()
    events = []
    for push in webhook_receiver.received:
        verify_detached(push["body"], push["headers"][SIGNATURE_HEADER], jwks)
        events.append(push["headers"][EVENT_HEADER])
        resource = json.loads(push["body"])
        assert resource["ma_don_thuoc"] == code
        assert resource["prescription"]["ma_don_thuoc"] == code
    assert events == ["prescription.issued", "prescription.cancelled"]

    shown = client.get(f"/v2/prescriptions/{code}/deliveries", headers=clinic).get_json()
    assert [d["state"] for d in shown["deliveries"]] == ["delivered"] * 5
    assert client.get(f"/v2/prescriptions/{code}/deliveries",
                      headers=pharmacy).status_code == 403
