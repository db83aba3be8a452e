"""Helpers of the forwarding tests: prescription documents of the storage contract inserted
directly, a forwarder in a thread, waiting for the deliveries (the fixtures, the registry and
webhook doubles serving, are in tests/gateway/forwarding/conftest.py)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from pymongo.database import Database

from gateway.forwarding.worker import Forwarder
from gateway.parties.model import Party
from gateway.prescriptions import outbox
from gateway.web.context import services

FACILITY = "79001"
REGISTRY_PASSWORD = "registry-pass"


def utcnow() -> datetime:
    return datetime.now(UTC)


def code_for(number: int, facility: str = FACILITY) -> str:
    return f"{facility}{number:07d}-c"


def national_document(code: str, *, nominated: str | None = None) -> dict[str, Any]:
    """A canonical document (schemas/national.py) as the lifecycle stores it."""
    document: dict[str, Any] = {
        "ma_don_thuoc": code, "loai_don_thuoc": "c", "ho_ten_benh_nhan": "Nguyễn Văn A",
        "ma_dinh_danh_cong_dan": "079123456789", "ngay_sinh_benh_nhan": "1980-02-01",
        "can_nang": 60, "gioi_tinh": 2, "dia_chi": "1 Lê Lợi, Quận 1, TP.HCM",
        "chan_doan": [{"ma_chan_doan": "J02.9", "ten_chan_doan": "Viêm họng cấp",
                       "ket_luan": "Viêm họng"}],
        "hinh_thuc_dieu_tri": 1,
        "dot_dung_thuoc": [{"dot": 1, "tu_ngay": "2026-11-23", "den_ngay": "2026-11-27"}],
        "thong_tin_don_thuoc": [{"ma_thuoc": "VD-35032-23", "national_code": "MT100039",
                                 "biet_duoc": "Panacetal 500", "ten_thuoc": "Paracetamol 500mg",
                                 "don_vi_tinh": "Viên", "so_luong": 20,
                                 "cach_dung": "Uống 1 viên khi sốt"}],
        "loi_dan": "Uống nhiều nước", "ngay_gio_ke_don": "2026-11-23T09:00:00+07:00",
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
        "lines": [{"index": 0, "ma_thuoc": "MT100039", "submitted_ma_thuoc": "VD-35032-23",
                   "prescribed": 20, "dispensed": 0, "unit": "Viên", "control_class": "none"}],
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


def cancel(app: Flask, code: str, *, reason: str = "Kê nhầm thuốc",
           viewed_by: list[str] | None = None) -> None:
    """The issuing clinic cancels, through the lifecycle (status and outbox in one update);
    ``viewed_by``: pharmacies that looked it up before (they are told of the cancellation)."""
    found = services(app)
    for pharmacy in viewed_by or ():
        found.prescription_store.note_viewer(code, pharmacy)
    stored = found.reading.get(code)
    clinic = Party(client_id=f"clinic-{stored['facility']}", role="clinic", code=stored["facility"],
                   name="", facility=stored["facility"], status="active")
    found.cancelling.cancel(code, clinic, reason)


def dispense(app: Flask, code: str, *, pharmacy: str, ma_hoa_don: str, quantity: int = 10) -> str:
    """``pharmacy`` (created with its contact details if new) dispenses ``quantity`` of the
    first line, through the lifecycle; the dispense id."""
    found = services(app)
    party = found.parties.get(f"pharmacy-{pharmacy}")
    if party is None:
        party, _ = found.parties.create(role="pharmacy", code=pharmacy, name=f"Nhà thuốc {pharmacy}",
                                        address="2 Hai Bà Trưng, Quận 1, TP. Hồ Chí Minh",
                                        phone="0912345678")
    _, recorded = found.dispensing.dispense(code, party, {"ma_hoa_don": ma_hoa_don, "items": [
        {"line": 0, "so_luong_ban": quantity}]})
    return recorded["id"]


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


#: Quick backoff and polling; the send timeouts are deadlines for the registry double and the
#: webhook receiver, threads of this very process that a busy machine may keep waiting for
#: seconds (a send given up and made again is a duplicate the tests count), and the lease
#: fits them (ForwardingPolicy: at least twice connect + read). No test here waits for them.
FAST_FORWARDING = {
    "FORWARD_BACKOFF_BASE_SECONDS": 0.02, "FORWARD_BACKOFF_CAP_SECONDS": 0.2,
    "FORWARD_CONNECT_TIMEOUT_SECONDS": 2.0, "FORWARD_TIMEOUT_SECONDS": 10.0,
    "FORWARDER_LEASE_SECONDS": 24.0, "FORWARDER_POLL_SECONDS": 0.02,
    "FORWARDER_CONCURRENCY": 4, "DELIVERY_METRICS_CACHE_SECONDS": 0.0,
}


