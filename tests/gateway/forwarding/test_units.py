"""Pure parts of forwarding: outbox entries, backoff, ordering, the registry client's
classification and token handling, national bodies."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.config import ConfigError, load
from gateway.forwarding.registry import (
    HttpRegistryClient,
    UnconfiguredRegistry,
    national_cancellation,
    national_dispense_report,
    national_document,
)
from gateway.forwarding.worker import ForwardingPolicy, backoff_delay
from gateway.prescriptions import outbox
from gateway.prescriptions import store as prescription_store
from tests.support.forwarding import prescription
from tests.support.registry_double import RegistryDouble

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


# --- outbox -------------------------------------------------------------------------------------
def test_issue_goes_to_the_registry_and_the_nominated_pharmacy() -> None:
    plain = outbox.deliveries_for_issue({"nominated_pharmacy": None}, NOW)
    assert [(d["seq"], d["target"], d["event"]) for d in plain] == [
        (0, "registry", "prescription.issued")]
    nominated = outbox.deliveries_for_issue({"nominated_pharmacy": "NT001"}, NOW)
    assert [d["target"] for d in nominated] == ["registry", "pharmacy:NT001"]
    entry = nominated[0]
    assert entry["state"] == "pending" and entry["attempts"] == 0
    assert entry["next_attempt_at"] == entry["created_at"] == NOW
    assert len(entry["id"]) == 32 and entry["id"] != nominated[1]["id"]


def test_cancellation_goes_to_every_pharmacy_aware_of_the_prescription() -> None:
    doc = prescription("79001AAAAAAA-c", nominated="NT001", now=NOW)
    doc["viewed_by_pharmacies"] = ["NT002", "NT001"]
    doc["dispenses"] = [{"id": "d1", "pharmacy": "NT003"}]
    entries = outbox.deliveries_for_cancel(doc, NOW)
    assert [(d["seq"], d["target"]) for d in entries] == [
        (2, "registry"), (3, "pharmacy:NT001"), (4, "pharmacy:NT002"), (5, "pharmacy:NT003")]
    assert {d["event"] for d in entries} == {"prescription.cancelled"}


def test_a_dispense_report_names_its_dispense() -> None:
    doc = prescription("79001AAAAAAA-c", now=NOW)
    [entry] = outbox.deliveries_for_dispense(doc, {"id": "d-7"}, NOW)
    assert (entry["seq"], entry["target"], entry["event"], entry["ref"]) == (
        1, "registry", "dispense.recorded", "d-7")


def test_the_update_fragment_merges_into_the_lifecycle_update() -> None:
    entries = outbox.deliveries_for_issue({}, NOW)
    merged = prescription_store.merge_updates(
        {"$set": {"status": "cancelled"}, "$inc": {"version": 1}},
        prescription_store.outbox_update(entries, NOW))
    assert merged == {"$set": {"status": "cancelled", "forward_due_at": NOW,
                               "forward_open": True, "forward_queued_at": NOW},
                      "$inc": {"version": 1, "forward_rev": 1},
                      "$push": {"deliveries": {"$each": entries}}}
    assert prescription_store.outbox_update([], NOW) == {}
    with pytest.raises(ValueError, match="forward_due_at"):
        prescription_store.merge_updates({"$set": {"forward_due_at": None}},
                                         prescription_store.outbox_update(entries, NOW))
    with pytest.raises(ValueError, match="unknown event"):
        outbox.new_delivery(target="registry", event="prescription.amended", seq=0, now=NOW)


def _deliveries(spec: list[tuple[str, str]]) -> list[dict]:
    return [{"id": str(i), "seq": i, "target": target, "state": state}
            for i, (target, state) in enumerate(spec)]


def test_a_delivery_waits_for_earlier_ones_to_the_same_target_only() -> None:
    deliveries = _deliveries([("registry", "pending"), ("pharmacy:A", "pending"),
                              ("registry", "pending"), ("pharmacy:B", "pending")])
    assert [outbox.waiting_for(deliveries, i) is not None for i in range(4)] == [
        False, False, True, False]
    assert outbox.waiting_for(deliveries, 2) == "0"
    deliveries[0]["state"] = "delivered"
    assert outbox.waiting_for(deliveries, 2) is None
    deliveries[0]["state"] = "failed_permanent"  # order is strict: still waiting
    assert outbox.waiting_for(deliveries, 2) is not None


# --- backoff -----------------------------------------------------------------------------------
@given(attempts=st.integers(min_value=1, max_value=500),
       base=st.floats(min_value=0.001, max_value=100),
       cap=st.floats(min_value=0.001, max_value=10_000), seed=st.integers())
@settings(max_examples=200)
def test_full_jitter_stays_within_its_ceiling(attempts, base, cap, seed) -> None:
    delay = backoff_delay(attempts, base=base, cap=cap, rng=random.Random(seed))
    assert 0 <= delay <= min(cap, base * 2 ** min(attempts - 1, 60))


def test_backoff_grows_then_caps() -> None:
    rng = random.Random(1)
    ceilings = [max(backoff_delay(n, base=2, cap=900, rng=rng) for _ in range(400))
                for n in (1, 4, 20)]
    assert ceilings[0] <= 2 < ceilings[1] <= 16 and 800 < ceilings[2] <= 900


def test_a_lease_shorter_than_a_send_is_refused() -> None:
    config = {"FORWARD_BACKOFF_BASE_SECONDS": 2.0, "FORWARD_BACKOFF_CAP_SECONDS": 900.0,
              "FORWARD_MAX_AGE_HOURS": 72.0, "FORWARDER_LEASE_SECONDS": 20.0,
              "FORWARDER_CONCURRENCY": 8, "FORWARDER_POLL_SECONDS": 1.0,
              "FORWARDER_CLAIM_BATCH": 100, "RX_UTC_OFFSET_MINUTES": 420,
                  "FORWARD_CONNECT_TIMEOUT_SECONDS": 3.0,
              "FORWARD_TIMEOUT_SECONDS": 10.0}
    with pytest.raises(ConfigError, match="ERX_FORWARDER_LEASE_SECONDS"):
        ForwardingPolicy.from_settings(load(config, environ={}))
    policy = ForwardingPolicy.from_settings(load({**config, "FORWARDER_LEASE_SECONDS": 26.0}, environ={}))
    assert policy.max_age == timedelta(hours=72) and policy.backoff_base == 2.0


# --- registry client -----------------------------------------------------------------------------
@pytest.fixture
def double():
    with RegistryDouble(facility_code="79001", password="pw") as registry:
        yield registry


def client_for(double, **options) -> HttpRegistryClient:
    """A client of the double. Its timeouts are deadlines for a server thread of this very
    process, which a busy machine may keep waiting for seconds: a test of the timeout itself
    passes its own short one."""
    options = {"connect_timeout": 10, "read_timeout": 10, **options}
    return HttpRegistryClient(base_url=double.url, facility_code="79001", password="pw",
                              **options)


def doc(code: str) -> dict:
    """The national body of a stored prescription, as the forwarder sends it."""
    return national_document(prescription(code, now=NOW))


def test_answers_are_classified(double) -> None:
    client = client_for(double)
    assert client.send_prescription(doc("79001AAAAAAA-c"), delivery_id="a").kind == "delivered"
    again = client.send_prescription(doc("79001AAAAAAA-c"), delivery_id="b")
    assert again.kind == "delivered"  # "already exists" is success
    double.reject_codes = {"79001BBBBBBB-c"}
    refused = client.send_prescription(doc("79001BBBBBBB-c"), delivery_id="c")
    assert refused.kind == "permanent"
    assert refused.response["body"]["error"] == {"thong_tin_don_thuoc": ["Mã thuốc không hợp lệ"]}
    for status in (500, 502, 503, 429, 408):
        double.status = status
        outcome = client.send_prescription(doc("79001CCCCCCC-c"), delivery_id="d")
        assert outcome.kind == "retry" and str(status) in outcome.error
    double.status = None
    double.slow_seconds = 1.5
    impatient = client_for(double, read_timeout=1)
    timed_out = impatient.send_prescription(doc("79001DDDDDDD-c"), delivery_id="e")
    assert timed_out.kind == "retry" and "timeout" in timed_out.error
    double.slow_seconds = 0
    double.go_down()
    down = client.send_prescription(doc("79001EEEEEEE-c"), delivery_id="f")
    assert down.kind == "retry" and "ConnectionError" in down.error


def test_success_false_in_a_200_is_a_refusal() -> None:
    class Answer(requests.Response):
        def __init__(self, status: int, body: bytes) -> None:
            super().__init__()
            self.status_code = status
            self._content = body

    client = HttpRegistryClient(base_url="http://unused", facility_code="x", password="y")
    assert client.classify(Answer(200, b'{"success": false, "error": {"x": ["bad"]}}')).kind == \
        "permanent"
    assert client.classify(Answer(200, b'{"success": true}')).kind == "delivered"
    assert client.classify(Answer(200, b"OK")).kind == "delivered"
    assert client.classify(Answer(409, b'{"error": "duplicate code"}')).kind == "delivered"
    assert client.classify(Answer(404, b"<html>not found</html>")).kind == "permanent"


def test_the_token_is_cached_and_renewed_once_after_a_401(double) -> None:
    client = client_for(double)
    for n in range(3):
        client.send_prescription(doc(f"79001AAAAA{n:02d}-c"), delivery_id=str(n))
    assert double.logins == 1
    double.expire_tokens()
    barrier = threading.Barrier(8)

    def send(n: int) -> None:
        barrier.wait()
        assert client.send_prescription(doc(f"79001BBBBB{n:02d}-c"),
                                        delivery_id=f"b{n}").kind == "delivered"

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert double.logins == 2


def test_a_known_token_lifetime_triggers_a_login_before_it_ends(double) -> None:
    client = client_for(double, token_ttl_seconds=30)  # minus the one-minute margin: now
    client.send_prescription(doc("79001AAAAAAA-c"), delivery_id="a")
    client.send_prescription(doc("79001BBBBBBB-c"), delivery_id="b")
    assert double.logins == 2


def test_cancellations_need_a_configured_path(double) -> None:
    client = client_for(double, cancel_path="")
    outcome = client.send_cancellation({"ma_don_thuoc": "x", "ly_do": "y"}, delivery_id="c")
    assert outcome.kind == "permanent" and "ERX_REGISTRY_CANCEL_PATH" in outcome.error
    assert UnconfiguredRegistry().send_prescription({}, delivery_id="x").kind == "retry"


def test_national_bodies() -> None:
    stored = prescription("79001AAAAAAA-c", now=NOW)
    stored["cancellation"] = {"ly_do": "Kê nhầm", "at": NOW}
    assert national_cancellation(stored) == {"ma_don_thuoc": "79001AAAAAAA-c", "ly_do": "Kê nhầm"}
    report = national_dispense_report(stored, {
        "id": "d1", "pharmacy": "NT001", "ma_hoa_don": "HD9",
        "items": [{"line": 0, "ma_thuoc": "VD-99999-20", "substituted": True, "so_luong_ban": 5}]},
        {"name": "Nhà thuốc Một"})
    assert report["ma_hoa_don"] == "HD9" and report["ten_co_so_cung_ung_thuoc"] == "Nhà thuốc Một"
    [item] = report["thong_tin_thuoc"]
    assert item["ma_thuoc_da_ke_don"] == "VD-35032-23" and item["ma_thuoc"] == "VD-99999-20"
    assert item["so_luong"] == 20 and item["so_luong_ban"] == 5
