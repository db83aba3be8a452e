"""Fault class (a gunicorn worker SIGKILLed mid-request): a submit whose first attempt stored
the prescription and died before it answered is retried with the same Idempotency-Key; the
retry finds that prescription rather than storing a second one. The process-level test, with
real kills, is tests/gateway/runtime/test_durability.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gateway.web.context import services
from schemas import examples
from schemas.identifiers import generate_prescription_code


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "IDEMPOTENCY_LEASE_SECONDS": 0.5}


def test_a_retry_after_the_first_attempt_died_names_the_same_prescription(
        app, client, auth_headers, demo_catalog) -> None:
    body = examples.basic_prescription(datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")))
    headers = {**auth_headers("clinic", "79001"), "Idempotency-Key": "died-after-storing"}
    first = client.post("/v2/prescriptions", headers=headers, json=body)
    assert first.status_code == 201, first.get_json()
    code = first.get_json()["ma_don_thuoc"]
    database = services(app).storage.database
    # What a worker killed between storing the prescription and storing its answer leaves: the
    # key's record still pending (its lease runs out), the prescription stored.
    assert database["idempotency"].update_one(
        {"_id": {"$regex": "died-after-storing$"}},
        {"$set": {"state": "pending", "lease_until": datetime.now(UTC) - timedelta(seconds=1)},
         "$unset": {"answer": ""}}).modified_count == 1
    retry = client.post("/v2/prescriptions", headers=headers, json=body)
    assert retry.status_code == 201, retry.get_json()
    assert retry.get_json()["ma_don_thuoc"] == code
    assert database["prescriptions"].count_documents({}) == 1


def test_a_seeded_code_is_the_same_for_one_seed_and_well_formed() -> None:
    one = generate_prescription_code("79001", "n", seed="clinic-79001\x1fkey")
    assert one == generate_prescription_code("79001", "n", seed="clinic-79001\x1fkey")
    assert one != generate_prescription_code("79001", "n", seed="clinic-79001\x1fother")
    assert one.startswith("79001") and one.endswith("-n") and len(one) == 14
