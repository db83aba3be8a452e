"""Helpers and fixtures of the forwarding tests: prescription documents of the storage
contract inserted directly, the registry and webhook doubles, a forwarder in a thread."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask
from pymongo.database import Database

from gateway.container import build_forwarder
from gateway.core.context import services
from gateway.forwarding.worker import Forwarder
from gateway.prescriptions import outbox
from tests.gateway.forwarding.registry_double import RegistryDouble, WebhookReceiver

FACILITY = "79001"
REGISTRY_PASSWORD = "registry-pass"


def utcnow() -> datetime:
    return datetime.now(UTC)


def code_for(number: int, facility: str = FACILITY) -> str:
    return f"{facility}{number:07d}-c"


def national_document(code: str, *, nominated: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "loai_don_thuoc": "c", "ma_don_thuoc": code, "ho_ten_benh_nhan": "Nguyễn Văn A",
        "ma_dinh_danh_cong_dan": "079123456789", "ngay_sinh_benh_nhan": "01/02/1980",
        "can_nang": 60, "gioi_tinh": 2, "dia_chi": "1 Lê Lợi, Quận 1, TP.HCM",
        "chan_doan": [{"ma_chan_doan": "J02.9", "ten_chan_doan": "Viêm họng cấp",
                       "ket_luan": "Viêm họng"}],
        "hinh_thuc_dieu_tri": 1,
        "thong_tin_don_thuoc": [{"ma_thuoc": "VD-32243-19", "biet_duoc": "Panadol",
                                 "ten_thuoc": "Paracetamol 500mg", "don_vi_tinh": "Viên",
                                 "so_luong": 20, "cach_dung": "Uống 1 viên khi sốt"}],
        "loi_dan": "Uống nhiều nước", "ngay_gio_ke_don": "2026-11-23 09:00:00",
        "signature": "",
    }
    if nominated:
        document["ma_co_so_cung_ung_thuoc_chi_dinh"] = nominated
    return document


def prescription(code: str, *, nominated: str | None = None, facility: str = FACILITY,
                 now: datetime | None = None) -> dict[str, Any]:
    """A prescription document of the storage contract, with its issue deliveries."""
    now = now or utcnow()
    doc: dict[str, Any] = {
        "_id": code, "facility": facility, "status": "issued", "version": 1,
        "document": national_document(code, nominated=nominated),
        "signature": {"alg": "EdDSA", "kid": "k1", "jws": "e30..c2ln"},
        "issued_at": now, "dispensable_until": now + timedelta(days=5),
        "nominated_pharmacy": nominated,
        "lines": [{"index": 0, "ma_thuoc": "VD-32243-19", "prescribed": 20, "dispensed": 0}],
        "dispenses": [], "cancellation": None, "viewed_by_pharmacies": [],
    }
    doc.update(outbox.initial_fields(outbox.deliveries_for_issue(doc, now), now))
    return doc


def insert_prescriptions(database: Database, count: int, *, start: int = 0,
                         nominated: str | None = None) -> list[str]:
    docs = [prescription(code_for(start + n), nominated=nominated) for n in range(count)]
    for chunk in range(0, len(docs), 1000):
        database["prescriptions"].insert_many(docs[chunk:chunk + 1000], ordered=False)
    return [doc["_id"] for doc in docs]


def cancel(database: Database, code: str, *, reason: str = "Kê nhầm thuốc",
           viewed_by: list[str] | None = None) -> None:
    """What the lifecycle does on cancel: status and outbox in one update."""
    if viewed_by:
        database["prescriptions"].update_one(
            {"_id": code}, {"$addToSet": {"viewed_by_pharmacies": {"$each": viewed_by}}})
    stored = database["prescriptions"].find_one({"_id": code})
    now = utcnow()
    entries = outbox.deliveries_for_cancel(stored, now)
    update = outbox.merge_updates(
        {"$set": {"status": "cancelled", "cancellation": {"at": now, "by": "clinic-79001",
                                                           "ly_do": reason}},
         "$inc": {"version": 1}},
        outbox.outbox_update(entries, now))
    assert database["prescriptions"].update_one(
        {"_id": code, "version": stored["version"]}, update).modified_count == 1


def dispense(database: Database, code: str, *, pharmacy: str, ma_hoa_don: str,
             quantity: int = 10) -> str:
    stored = database["prescriptions"].find_one({"_id": code})
    now = utcnow()
    record = {"id": f"d-{ma_hoa_don}", "pharmacy": pharmacy, "ma_hoa_don": ma_hoa_don,
              "at": now, "items": [{"line": 0, "ma_thuoc": "VD-32243-19",
                                    "so_luong_ban": quantity}]}
    entries = outbox.deliveries_for_dispense(stored, record, now)
    update = outbox.merge_updates(
        {"$push": {"dispenses": record}, "$inc": {"version": 1, "lines.0.dispensed": quantity},
         "$set": {"status": "partially_dispensed"}},
        outbox.outbox_update(entries, now))
    assert database["prescriptions"].update_one(
        {"_id": code, "version": stored["version"]}, update).modified_count == 1
    return record["id"]


def states(database: Database) -> dict[str, int]:
    counts: dict[str, int] = {}
    for doc in database["prescriptions"].find({}, {"deliveries.state": 1}):
        for entry in doc.get("deliveries", []):
            counts[entry["state"]] = counts.get(entry["state"], 0) + 1
    return counts


def deliveries_of(database: Database, code: str) -> list[dict[str, Any]]:
    return database["prescriptions"].find_one({"_id": code})["deliveries"]


def wait_until(predicate: Callable[[], Any], *, timeout: float = 60.0,
               interval: float = 0.05, message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(interval)


@contextlib.contextmanager
def running(forwarder: Forwarder) -> Iterator[Forwarder]:
    thread = threading.Thread(target=forwarder.run, daemon=True)
    thread.start()
    try:
        yield forwarder
    finally:
        forwarder.stop()
        thread.join(60)
        assert not thread.is_alive(), "the forwarder did not stop"


# --- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def registry() -> Iterator[RegistryDouble]:
    double = RegistryDouble(facility_code=FACILITY, password=REGISTRY_PASSWORD)
    with double:
        yield double


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    with receiver:
        yield receiver


FAST_FORWARDING = {
    "FORWARD_BACKOFF_BASE_SECONDS": 0.02, "FORWARD_BACKOFF_CAP_SECONDS": 0.2,
    "FORWARD_CONNECT_TIMEOUT_SECONDS": 1.0, "FORWARD_TIMEOUT_SECONDS": 2.0,
    "FORWARDER_LEASE_SECONDS": 6.0, "FORWARDER_POLL_SECONDS": 0.02,
    "FORWARDER_CONCURRENCY": 4, "DELIVERY_METRICS_CACHE_SECONDS": 0.0,
}


@pytest.fixture
def app_config(app_config: dict[str, Any], registry: RegistryDouble) -> dict[str, Any]:
    return {**app_config, **FAST_FORWARDING, "REGISTRY_BASE_URL": registry.url,
            "REGISTRY_FACILITY_CODE": FACILITY, "REGISTRY_PASSWORD": REGISTRY_PASSWORD}


@pytest.fixture
def make_forwarder(app: Flask) -> Callable[..., Forwarder]:
    def make(**overrides: Any) -> Forwarder:
        return build_forwarder(services(app), app.config, **overrides)

    return make


@pytest.fixture
def db(app: Flask) -> Database:
    return services(app).storage.database
