"""The forwarder against the registry double and a webhook receiver: delivered once, in order,
refusals kept and visible, token expiry handled with one re-login, signed webhook pushes."""

from __future__ import annotations

import json

from gateway.forwarding.webhooks import DELIVERY_ID_HEADER, EVENT_HEADER, SIGNATURE_HEADER
from gateway.web.context import services
from signing.jws import verify_detached
from tests.support.audit import audit_log
from tests.support.forwarding import (
    FACILITY,
    cancel,
    deliveries_of,
    dispense,
    insert_prescriptions,
    running,
    states,
    wait_until,
)


def test_issue_cancel_and_dispense_reach_the_registry_once_in_order(app, db, registry, demo_catalog,
                                                                   make_forwarder) -> None:
    codes = insert_prescriptions(db, 5)
    dispense(app, codes[0], pharmacy="NT001", ma_hoa_don="HD1")
    cancel(app, codes[1])
    assert make_forwarder().run_until_idle() >= 5
    assert states(db) == {"delivered": 7}
    assert set(registry.prescriptions) == set(codes)
    assert registry.duplicates == {} and registry.out_of_order == 0
    assert list(registry.cancellations) == [codes[1]]
    report = registry.dispenses[(codes[0], "HD1")]
    assert report["thong_tin_thuoc"][0]["ma_thuoc_da_ke_don"] == "VD-35032-23"
    assert report["thong_tin_thuoc"][0]["so_luong_ban"] == 10
    assert report["ma_dinh_danh_co_so_cung_ung_thuoc"] == "NT001"
    # The extension field never reaches the registry; the national document does.
    assert registry.prescriptions[codes[2]]["ma_don_thuoc"] == codes[2]
    assert registry.logins == 1
    doc = db["prescriptions"].find_one({"_id": codes[1]})
    assert doc["forward_due_at"] is None and doc["forward_lease_owner"] is None


def test_cancellation_waits_for_its_prescription(app, db, registry, make_forwarder) -> None:
    [code] = insert_prescriptions(db, 1)
    registry.status = 503
    forwarder = make_forwarder()
    forwarder.run_until_idle()
    cancel(app, code)
    forwarder.run_until_idle()  # the issue delivery is in backoff: the cancellation waits
    issued, cancelled = deliveries_of(db, code)
    assert issued["state"] == "pending" and issued["attempts"] >= 1
    assert cancelled["state"] == "pending" and cancelled["attempts"] == 0
    assert registry.calls[registry.CANCEL] == 0
    registry.status = None
    with running(make_forwarder()):
        wait_until(lambda: states(db) == {"delivered": 2}, message="both delivered")
    assert registry.out_of_order == 0 and list(registry.cancellations) == [code]


def test_a_validation_refusal_is_failed_permanent_and_shown_to_the_clinic(
        db, registry, make_forwarder, client, auth_headers) -> None:
    good, bad = insert_prescriptions(db, 2)
    registry.reject_codes = {bad}
    make_forwarder().run_until_idle()
    [entry] = deliveries_of(db, bad)
    assert entry["state"] == "failed_permanent" and entry["attempts"] == 1
    answer = client.get(f"/v2/prescriptions/{bad}/deliveries",
                        headers=auth_headers("clinic", FACILITY))
    assert answer.status_code == 200
    [shown] = answer.get_json()["deliveries"]
    assert shown["state"] == "failed_permanent"
    assert "refused" in shown["last_error"]
    assert shown["response"] == {"status": 400, "body": {"success": False, "error": {
        "thong_tin_don_thuoc": ["Mã thuốc không hợp lệ"]}}}
    assert deliveries_of(db, good)[0]["state"] == "delivered"


def test_code_already_at_the_registry_counts_as_delivered(db, registry, make_forwarder) -> None:
    [code] = insert_prescriptions(db, 1)
    registry.prescriptions[code] = {"ma_don_thuoc": code}  # e.g. sent directly by the HIS
    make_forwarder().run_until_idle()
    [entry] = deliveries_of(db, code)
    assert entry["state"] == "delivered"
    assert "đã tồn tại" in json.dumps(entry["response"], ensure_ascii=False)


def test_token_expiry_mid_run_means_exactly_one_new_login(db, registry, make_forwarder) -> None:
    insert_prescriptions(db, 20)
    with running(make_forwarder(concurrency=8)):
        wait_until(lambda: states(db).get("delivered") == 20, message="first batch")
        registry.expire_tokens()
        insert_prescriptions(db, 40, start=20)
        wait_until(lambda: states(db).get("delivered") == 60, message="second batch")
    assert registry.logins == 2
    assert len(registry.prescriptions) == 60 and not registry.duplicates


def test_wrong_registry_password_is_retried_not_lost(db, registry, make_forwarder) -> None:
    registry.password = "changed"
    [code] = insert_prescriptions(db, 1)
    forwarder = make_forwarder()
    forwarder.run_until_idle()
    [entry] = deliveries_of(db, code)
    assert entry["state"] == "pending" and "login" in entry["last_error"]
    registry.password = "registry-pass"
    with running(make_forwarder()):
        wait_until(lambda: states(db) == {"delivered": 1}, message="delivered after the fix")


def _register_webhook(client, pharmacy: dict[str, str], receiver) -> None:
    put = client.put("/v2/pharmacies/me/webhook", headers=pharmacy,
                     json={"url": receiver.url + "/erx"})
    assert put.status_code == 200, put.get_json()


def test_the_nominated_pharmacy_gets_a_signed_push_and_then_the_cancellation(
        db, app, client, registry, webhook_receiver, make_forwarder, auth_headers) -> None:
    _register_webhook(client, auth_headers("pharmacy", "NT001"), webhook_receiver)
    [code] = insert_prescriptions(db, 1, nominated="NT001")
    make_forwarder().run_until_idle()
    cancel(app, code, viewed_by=["NT002"])  # NT002 has no webhook
    make_forwarder().run_until_idle()
    by_target = {(d["target"], d["event"]): d for d in deliveries_of(db, code)}
    assert by_target[("pharmacy:NT001", "prescription.issued")]["state"] == "delivered"
    assert by_target[("pharmacy:NT001", "prescription.cancelled")]["state"] == "delivered"
    # NT002 has no webhook: nothing was sent, and that is not a refusal anywhere.
    skipped = by_target[("pharmacy:NT002", "prescription.cancelled")]
    assert skipped["state"] == "skipped" and "no webhook" in skipped["last_error"]
    report = client.get("/v2/reports/deliveries",
                        headers=auth_headers("regulator", "BYT")).get_json()
    assert report["refused"] == []
    assert not [row for row in report["counts"] if row["state"] == "failed_permanent"
                and row["count"]]
    services(app).delivery_metrics.cache_seconds = 0
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'erx_deliveries_refused{target="pharmacy"} 0.0' in metrics
    assert 'erx_forward_refused_total{target="pharmacy"}' not in metrics
    assert [e["action"] for e in audit_log(db).find()].count("delivery.skipped") == 1
    pushes = webhook_receiver.received
    assert [p["headers"][EVENT_HEADER] for p in pushes] == ["prescription.issued",
                                                            "prescription.cancelled"]
    jwks = client.get("/.well-known/jwks.json").get_json()
    for push in pushes:
        verify_detached(push["body"], push["headers"][SIGNATURE_HEADER], jwks)
        resource = json.loads(push["body"])
        assert resource["ma_don_thuoc"] == code and "deliveries" not in resource
        assert push["headers"][DELIVERY_ID_HEADER] in {d["id"] for d in deliveries_of(db, code)}
    assert json.loads(pushes[1]["body"])["status"] == "cancelled"


def test_a_nomination_in_another_case_reaches_the_pharmacy_once(
        db, app, client, registry, webhook_receiver, make_forwarder, auth_headers,
        demo_catalog) -> None:
    """Pharmacy codes compare case-insensitively here as at dispense (one rule,
    gateway.parties.model.pharmacy_key): a nomination of nt001 reaches NT001's webhook, and the
    cancellation after NT001 looked it up and dispensed goes there once, after the issue,
    showing NT001 its own dispense with its invoice number."""
    _register_webhook(client, auth_headers("pharmacy", "NT001"), webhook_receiver)
    [code] = insert_prescriptions(db, 1, nominated="nt001")
    make_forwarder().run_until_idle()
    dispense(app, code, pharmacy="NT001", ma_hoa_don="HD-NT001-1")
    cancel(app, code, viewed_by=["NT001"])
    make_forwarder().run_until_idle()
    assert [(d["target"], d["event"], d["state"]) for d in deliveries_of(db, code)
            if d["target"] != "registry"] == [
        ("pharmacy:nt001", "prescription.issued", "delivered"),
        ("pharmacy:nt001", "prescription.cancelled", "delivered")]
    pushes = webhook_receiver.received
    assert [p["headers"][EVENT_HEADER] for p in pushes] == ["prescription.issued",
                                                            "prescription.cancelled"]
    [shown] = json.loads(pushes[1]["body"])["dispenses"]
    assert shown["pharmacy"] == "NT001" and shown["ma_hoa_don"] == "HD-NT001-1"


def test_delivery_outcomes_leave_audit_events(db, registry, make_forwarder) -> None:
    good, bad = insert_prescriptions(db, 2)
    registry.reject_codes = {bad}
    registry.status = 503  # first a transient failure: retried, not audited
    forwarder = make_forwarder()
    forwarder.run_until_idle()
    assert audit_log(db).count_documents({"action": {"$regex": "^delivery"}}) == 0
    registry.status = None
    # Make the backed-off deliveries due now rather than waiting out the backoff.
    db["prescriptions"].update_many({}, [{"$set": {
        "deliveries": {"$map": {"input": "$deliveries", "in": {"$mergeObjects": [
            "$$this", {"next_attempt_at": "$$NOW"}]}}}, "forward_due_at": "$$NOW"}}])
    make_forwarder().run_until_idle()
    events = {e["object"]["id"]: e for e in audit_log(db).find(
        {"action": {"$regex": "^delivery"}})}
    assert set(events) == {good, bad}
    assert events[good]["action"] == "delivery.delivered"
    assert events[good]["outcome"] == "success" and events[good]["actor"]["party_id"] == "forwarder"
    assert events[good]["details"]["target"] == "registry"
    assert events[bad]["action"] == "delivery.failed" and events[bad]["outcome"] == "failure"
    assert events[bad]["details"]["state"] == "failed_permanent"
