"""Webhook registration, delivery status, admin retry and delivery metrics over HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.web.context import services
from tests.support.forwarding import FACILITY, deliveries_of, insert_prescriptions


# --- webhooks -----------------------------------------------------------------------------------
def test_a_pharmacy_registers_reads_and_replaces_its_webhook(client, auth_headers) -> None:
    headers = auth_headers("pharmacy", "NT001")
    assert client.get("/v2/pharmacies/me/webhook", headers=headers).status_code == 404
    put = client.put("/v2/pharmacies/me/webhook", headers=headers,
                     json={"url": "https://nt001.example/erx"})
    assert put.status_code == 200
    assert put.get_json()["events"] == ["prescription.issued", "prescription.cancelled"]
    client.put("/v2/pharmacies/me/webhook", headers=headers,
               json={"url": "https://nt001.example/v2", "events": ["prescription.cancelled"]})
    got = client.get("/v2/pharmacies/me/webhook", headers=headers).get_json()
    assert got["url"] == "https://nt001.example/v2"
    assert got["events"] == ["prescription.cancelled"]


@pytest.mark.parametrize("body, pointer, code", [
    ({}, "/url", "request.required"),
    ({"url": 5}, "/url", "request.required"),
    ({"url": "ftp://x.example/a"}, "/url", "webhook.https_required"),
    ({"url": "https:///nohost"}, "/url", "webhook.url_invalid"),
    ({"url": "https://user:pw@x.example/"}, "/url", "webhook.url_credentials"),
    ({"url": "https://x.example/" + "a" * 2000}, "/url", "webhook.url_too_long"),
    ({"url": "https://x.example/", "events": []}, "/events", "request.invalid"),
    ({"url": "https://x.example/", "events": ["dispense.recorded"]}, "/events/0",
     "webhook.unknown_event"),
    ({"url": "https://x.example/", "secret": "x"}, "/secret", "request.unknown_field"),
])
def test_a_bad_webhook_is_refused_with_its_reason(client, auth_headers, body, pointer,
                                                  code) -> None:
    answer = client.put("/v2/pharmacies/me/webhook", headers=auth_headers("pharmacy", "NT001"),
                        json=body)
    assert answer.status_code == 422
    assert {"pointer": pointer, "code": code} in [
        {"pointer": e["pointer"], "code": e["code"]} for e in answer.get_json()["errors"]]


def test_plain_http_webhooks_only_in_development(app, client, auth_headers) -> None:
    from gateway.core.errors import Invalid
    from gateway.forwarding.webhooks import validate_webhook

    assert services(app).settings.env == "development"
    answer = client.put("/v2/pharmacies/me/webhook", headers=auth_headers("pharmacy", "NT001"),
                        json={"url": "http://nt.example/erx"})
    assert answer.status_code == 200
    with pytest.raises(Invalid) as refused:  # what the endpoint applies outside development
        validate_webhook({"url": "http://nt.example/erx"}, allow_http=False)
    assert refused.value.errors[0]["code"] == "webhook.https_required"
    assert validate_webhook({"url": "https://nt.example/erx"}, allow_http=False)[0] == \
        "https://nt.example/erx"
    for internal in ("https://127.0.0.1/x", "https://localhost:8443/", "https://10.1.2.3/",
                     "https://169.254.169.254/latest", "https://[::1]/"):
        with pytest.raises(Invalid) as refused:
            validate_webhook({"url": internal}, allow_http=False)
        assert refused.value.errors[0]["code"] == "webhook.url_internal", internal
    assert validate_webhook({"url": "https://8.8.8.8/hook"}, allow_http=False)


def test_only_pharmacies_register_webhooks(client, auth_headers) -> None:
    answer = client.put("/v2/pharmacies/me/webhook", headers=auth_headers("clinic", FACILITY),
                        json={"url": "https://x.example/"})
    assert answer.status_code == 403
    assert client.get("/v2/pharmacies/me/webhook").status_code == 401


# --- delivery status ------------------------------------------------------------------------------
def test_who_sees_deliveries(db, client, auth_headers, make_forwarder) -> None:
    [code] = insert_prescriptions(db, 1)
    make_forwarder().run_until_idle()
    path = f"/v2/prescriptions/{code}/deliveries"
    for role, party_code, facility, status in (
            ("clinic", FACILITY, None, 200), ("doctor", "BS01", FACILITY, 200),
            ("regulator", "SYT", None, 200), ("admin", "ops", None, 200),
            ("pharmacy", "NT001", None, 403), ("clinic", "79002", None, 403),
            ("doctor", "BS02", "79002", 403)):
        answer = client.get(path, headers=auth_headers(role, party_code, facility))
        assert answer.status_code == status, (role, party_code)
    answer = client.get(path, headers=auth_headers("regulator", "BYT"))
    [delivery] = answer.get_json()["deliveries"]
    assert delivery["state"] == "delivered" and delivery["target"] == "registry"
    assert delivery["event"] == "prescription.issued" and delivery["attempts"] == 1
    assert delivery["delivered_at"] and delivery["next_attempt_at"] is None
    missing = client.get("/v2/prescriptions/79001ZZZZZZZ-c/deliveries",
                         headers=auth_headers("regulator", "CUC"))
    assert missing.status_code == 404


def test_a_waiting_delivery_names_what_it_waits_for(app, db, client, auth_headers, registry,
                                                    make_forwarder) -> None:
    from tests.support.forwarding import cancel

    [code] = insert_prescriptions(db, 1)
    registry.reject_codes = {code}
    make_forwarder().run_until_idle()
    cancel(app, code)
    make_forwarder().run_until_idle()
    shown = client.get(f"/v2/prescriptions/{code}/deliveries",
                       headers=auth_headers("clinic", FACILITY)).get_json()["deliveries"]
    assert [d["state"] for d in shown] == ["failed_permanent", "pending"]
    assert shown[1]["waiting_for"] == shown[0]["id"]
    assert registry.calls[registry.CANCEL] == 0


# --- retry ---------------------------------------------------------------------------------------
def test_admin_retries_a_failed_delivery(db, client, auth_headers, registry,
                                         make_forwarder) -> None:
    [code] = insert_prescriptions(db, 1)
    registry.reject_codes = {code}
    make_forwarder().run_until_idle()
    [failed] = deliveries_of(db, code)
    assert failed["state"] == "failed_permanent"
    admin = auth_headers("admin", "ops")
    assert client.post(f"/v2/deliveries/{failed['id']}/retry",
                       headers=auth_headers("clinic", FACILITY)).status_code == 403
    answer = client.post(f"/v2/deliveries/{failed['id']}/retry", headers=admin)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["state"] == "pending" and answer.get_json()["attempts"] == 0
    assert answer.get_json()["retried_by"] == "admin-ops"
    registry.reject_codes = set()  # the registry's data problem was fixed
    make_forwarder().run_until_idle()
    [done] = deliveries_of(db, code)
    assert done["state"] == "delivered" and code in registry.prescriptions
    again = client.post(f"/v2/deliveries/{failed['id']}/retry", headers=admin)
    assert again.status_code == 409
    assert again.get_json()["errors"][0]["code"] == "delivery.state"
    assert client.post("/v2/deliveries/nope/retry", headers=admin).status_code == 404


def test_a_dead_delivery_can_be_sent_again(db, client, auth_headers, registry,
                                           make_forwarder) -> None:
    [code] = insert_prescriptions(db, 1)
    registry.status = 503
    forwarder = make_forwarder(max_age=timedelta(seconds=0))
    forwarder.run_until_idle()
    [dead] = deliveries_of(db, code)
    assert dead["state"] == "dead" and "gave up" in dead["last_error"]
    registry.status = None
    answer = client.post(f"/v2/deliveries/{dead['id']}/retry",
                         headers=auth_headers("admin", "ops"))
    assert answer.status_code == 200
    make_forwarder().run_until_idle()
    assert deliveries_of(db, code)[0]["state"] == "delivered"


# --- metrics ------------------------------------------------------------------------------------
def test_metrics_show_deliveries_by_state_and_the_oldest_pending(db, client, registry,
                                                                 make_forwarder) -> None:
    codes = insert_prescriptions(db, 3)
    registry.reject_codes = {codes[0]}
    registry.status = None
    make_forwarder().run_until_idle()
    insert_prescriptions(db, 2, start=10)  # not forwarded yet
    text = client.get("/metrics").get_data(as_text=True)
    assert 'erx_deliveries{state="failed_permanent",target="registry"} 1.0' in text
    assert 'erx_deliveries{state="pending",target="registry"} 2.0' in text
    assert 'erx_deliveries{state="dead",target="pharmacy"} 0.0' in text
    age = next(line for line in text.splitlines()
               if line.startswith('erx_delivery_oldest_pending_age_seconds{target="registry"}'))
    assert float(age.split()[-1]) >= 0.0
    assert "erx_forward_attempts_total" in text
