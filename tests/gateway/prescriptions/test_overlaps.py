"""The cross-facility controlled-drug check at submission, over HTTP against the real
database: two facilities with a doctor each, narcotic refusals, psychotropic and duplicate
therapy warnings, what pharmacies see, the settings, and the cost (one indexed query)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core.config import ConfigError
from gateway.web.context import services
from tests.support.audit import audit_log
from tests.support.http import assert_problem
from tests.support.overlaps import (
    CCCD,
    DIAZEPAM,
    EPHEDRINE,
    FENTANYL,
    MORPHINE_INJ,
    MORPHINE_ORAL,
    SEDUXEN,
    accepted,
    day,
    rx,
)
from tests.support.prescriptions import submit

PARACETAMOL = "MT100039"
PARACETAMOL_TWIN = "VD-35053-20"
AMOXICILLIN = "MT100627"


def overlap_warnings(resource: dict[str, Any]) -> list[dict[str, str]]:
    return [w for w in resource["warnings"]
            if w["code"] in ("control.overlap", "drug.duplicate_therapy")]


def events(database, action: str) -> list[dict[str, Any]]:
    return list(audit_log(database).find({"action": action}).sort("_id", 1))


# --- narcotic: refused across facilities ---------------------------------------------------
def test_overlapping_narcotics_from_another_facility_are_refused_naming_facility_and_period(
        app: Flask, client: FlaskClient, two: dict, database) -> None:
    first = accepted(client, two["h"]["doctor_1"], rx(two, "n", [MORPHINE_ORAL], [(0, 6)]))
    body = rx(two, "n", [FENTANYL, MORPHINE_INJ], [(3, 9)],
              ho_ten_benh_nhan="Nguyễn Văn An")
    problem = assert_problem(submit(client, two["h"]["doctor_2"], body), 422, "validation")
    overlaps = [e for e in problem["errors"] if e["code"] == "control.overlap"]
    assert [e["pointer"] for e in overlaps] == ["/thong_tin_don_thuoc/0", "/thong_tin_don_thuoc/1"]
    period = f"từ {day(0):%d/%m/%Y} đến {day(6):%d/%m/%Y}"
    for error in overlaps:
        assert "Bệnh viện Quận Một" in error["message"] and period in error["message"]
        assert "trùng 4 ngày" in error["message"]
        assert CCCD not in error["message"] and "Nguyễn Văn An" not in error["message"]
        assert first["ma_don_thuoc"] not in error["message"]
    assert "cùng hoạt chất Morphin" in overlaps[1]["message"]       # the prescriber's own spelling
    assert "thuốc gây nghiện" in overlaps[0]["message"]
    # nothing of the refused prescription is stored; the refusal and each overlap are audited
    assert database["prescriptions"].count_documents({}) == 1
    refused = events(database, "prescription.refused")
    assert [e["details"]["codes"] for e in refused] == [["control.overlap"]]
    audited = events(database, "prescription.overlap_refused")
    assert [(e["outcome"], e["details"]["line"], e["details"]["other"],
             e["details"]["other_facility"], e["details"]["days"]) for e in audited] == [
        ("failure", 0, first["ma_don_thuoc"], "79011", 4),
        ("failure", 1, first["ma_don_thuoc"], "79011", 4)]
    assert audited[0]["actor"]["party_id"] == "doctor-01022-BS022"
    assert audited[0]["patient_hash"] == services(app).audit.patient_hash(CCCD)
    assert database["controlled_overlaps"].count_documents({"outcome": "refused",
                                                            "accepted": False}) == 2


def test_the_national_endpoint_refuses_the_same_way(client: FlaskClient, two: dict) -> None:
    accepted(client, two["h"]["doctor_1"], rx(two, "n", [MORPHINE_ORAL], [(0, 6)]))
    response = client.post("/api/v1/gui-don-thuoc", headers=two["h"]["doctor_2"],
                           json=rx(two, "n", [MORPHINE_INJ], [(6, 8)]))
    assert response.status_code == 422
    answer = response.get_json()
    assert answer["success"] is False
    [message] = answer["error"]["thong_tin_don_thuoc.0"]
    assert message.startswith("[control.overlap] ") and "trùng 1 ngày" in message


def test_the_same_facility_counts_too(client: FlaskClient, two: dict) -> None:
    accepted(client, two["h"]["doctor_1"], rx(two, "n", [MORPHINE_ORAL], [(0, 6)]))
    problem = assert_problem(submit(client, two["h"]["clinic_1"],
                                    rx(two, "n", [MORPHINE_ORAL], [(2, 4)])), 422, "validation")
    assert [e["code"] for e in problem["errors"]] == ["control.overlap"]
    assert "Bệnh viện Quận Một" in problem["errors"][0]["message"]


def test_touching_periods_and_another_person_do_not_overlap(client: FlaskClient,
                                                            two: dict) -> None:
    accepted(client, two["h"]["doctor_1"], rx(two, "n", [MORPHINE_ORAL], [(0, 6)]))
    touching = accepted(client, two["h"]["doctor_2"], rx(two, "n", [MORPHINE_ORAL], [(7, 13)]))
    assert overlap_warnings(touching) == []
    other_person = accepted(client, two["h"]["doctor_2"],
                            rx(two, "n", [MORPHINE_ORAL], [(0, 6)], cccd="079090004321"))
    assert overlap_warnings(other_person) == []


PEOPLE = itertools.count(1)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.integers(-12 * 60, 14 * 60), st.integers(-12 * 60, 14 * 60), st.booleans())
def test_the_prescribing_time_zone_never_moves_the_treatment_days(
        client: FlaskClient, two: dict, first_offset: int, second_offset: int,
        share_a_day: bool) -> None:
    """ngay_gio_ke_don may be written in any UTC offset (the same instant is late evening in
    one zone and the next morning in another): the periods are the dates as written."""
    cccd = f"0790900{next(PEOPLE):05d}"           # a new person for every example

    def written_in(minutes: int) -> str:
        instant = datetime.now(UTC) - timedelta(minutes=2)
        return instant.astimezone(timezone(timedelta(minutes=minutes))).isoformat(
            timespec="seconds")

    accepted(client, two["h"]["doctor_1"],
             rx(two, "n", [MORPHINE_ORAL], [(0, 6)], cccd=cccd,
                ngay_gio_ke_don=written_in(first_offset)))
    second = submit(client, two["h"]["doctor_2"],
                    rx(two, "n", [MORPHINE_ORAL], [(6 if share_a_day else 7, 9)], cccd=cccd,
                       ngay_gio_ke_don=written_in(second_offset)))
    if share_a_day:
        problem = assert_problem(second, 422, "validation")
        assert [e["code"] for e in problem["errors"]] == ["control.overlap"]
        assert "trùng 1 ngày" in problem["errors"][0]["message"]
    else:
        assert second.status_code == 201, second.get_json()
        assert overlap_warnings(second.get_json()) == []


def test_multi_period_prescriptions_overlap_only_on_shared_days(client: FlaskClient,
                                                                two: dict) -> None:
    accepted(client, two["h"]["doctor_1"], rx(two, "n", [MORPHINE_ORAL], [(0, 2), (10, 12)]))
    in_the_gap = accepted(client, two["h"]["doctor_2"], rx(two, "n", [FENTANYL], [(3, 9)]))
    assert overlap_warnings(in_the_gap) == []
    after_it = accepted(client, two["h"]["doctor_2"],
                        rx(two, "n", [FENTANYL], [(13, 14), (20, 22)]))   # day 12 touches 13
    assert overlap_warnings(after_it) == []
    problem = assert_problem(submit(client, two["h"]["clinic_2"],
                                    rx(two, "n", [FENTANYL], [(12, 12), (30, 31)])),
                             422, "validation")
    # day 12 is in a period of the first prescription and in none of the others
    assert [e["code"] for e in problem["errors"]] == ["control.overlap"]
    message = problem["errors"][0]["message"]
    assert f"từ {day(10):%d/%m/%Y} đến {day(12):%d/%m/%Y}" in message
    assert f"{day(0):%d/%m/%Y}" not in message and "trùng 1 ngày" in message


def test_cancelled_and_refused_prescriptions_do_not_block_a_continuation(
        client: FlaskClient, two: dict, database) -> None:
    first = accepted(client, two["h"]["doctor_1"], rx(two, "n", [MORPHINE_ORAL], [(0, 6)]))
    assert_problem(submit(client, two["h"]["doctor_2"], rx(two, "n", [MORPHINE_ORAL], [(4, 12)])),
                   422, "validation")
    # continues the refused one (days 7..12 of it), after the first one: accepted
    continued = accepted(client, two["h"]["doctor_2"], rx(two, "n", [MORPHINE_ORAL], [(7, 12)]))
    assert overlap_warnings(continued) == []
    cancelled = client.post(f"/v2/prescriptions/{first['ma_don_thuoc']}/cancel",
                            headers=two["h"]["clinic_1"], json={"ly_do": "Đổi thuốc"})
    assert cancelled.status_code == 200, cancelled.get_json()
    replacement = accepted(client, two["h"]["doctor_1"], rx(two, "n", [MORPHINE_ORAL], [(0, 6)]))
    assert overlap_warnings(replacement) == []
    assert database["prescriptions"].count_documents({}) == 3


def test_a_retry_of_a_stored_prescription_is_answered_not_refused(
        client: FlaskClient, two: dict, make_app, database) -> None:
    lenient = make_app(RX_OVERLAP_NARCOTIC="warning").test_client()
    accepted(lenient, two["h"]["doctor_1"], rx(two, "n", [MORPHINE_ORAL], [(0, 6)]))
    body = rx(two, "n", [MORPHINE_ORAL], [(3, 9)])
    warned = accepted(lenient, two["h"]["doctor_2"], body)
    assert [w["code"] for w in overlap_warnings(warned)] == ["control.overlap"]
    body["ma_don_thuoc"] = warned["ma_don_thuoc"]
    again = submit(client, two["h"]["doctor_2"], body)       # now narcotics are errors
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["ma_don_thuoc"] == warned["ma_don_thuoc"]
    assert database["controlled_overlaps"].count_documents({}) == 1
    assert events(database, "prescription.overlap_refused") == []


# --- psychotropic: warned by default; what pharmacies see -----------------------------------
def test_psychotropic_overlap_is_a_warning_recorded_and_shown_to_pharmacies(
        client: FlaskClient, two: dict, database) -> None:
    accepted(client, two["h"]["doctor_1"], rx(two, "h", [DIAZEPAM], [(0, 9)]))
    second = accepted(client, two["h"]["doctor_2"], rx(two, "h", [SEDUXEN, EPHEDRINE], [(5, 14)]))
    [warning] = overlap_warnings(second)
    assert warning["pointer"] == "/thong_tin_don_thuoc/0"
    assert "cùng hoạt chất Diazepam" in warning["message"]
    assert "Bệnh viện Quận Một" in warning["message"] and "trùng 5 ngày" in warning["message"]
    code = second["ma_don_thuoc"]
    native = client.get(f"/v2/prescriptions/{code}", headers=two["h"]["pharmacy_1"]).get_json()
    assert warning in native["warnings"]
    pharmacy = two["parties"]["pharmacy_2"]
    national = client.get(f"/api/v1/thong-tin-don-thuoc/{code}",
                          headers={"app-name": pharmacy.client_id,
                                   "app-key": pharmacy.client_secret}).get_json()
    assert national["canh_bao"]["thong_tin_don_thuoc.0"] == [
        f"[control.overlap] {warning['message']}"]
    [warned] = events(database, "prescription.overlap_warned")
    assert warned["outcome"] == "success" and warned["object"]["id"] == code
    assert database["controlled_overlaps"].find_one()["outcome"] == "warned"


def test_a_lookup_without_warnings_has_an_empty_canh_bao(client: FlaskClient,
                                                         two: dict) -> None:
    code = accepted(client, two["h"]["doctor_1"],
                    rx(two, "h", [DIAZEPAM], [(0, 9)]))["ma_don_thuoc"]
    pharmacy = two["parties"]["pharmacy_1"]
    national = client.get(f"/api/v1/thong-tin-don-thuoc/{code}",
                          headers={"app-name": pharmacy.client_id,
                                   "app-key": pharmacy.client_secret}).get_json()
    assert national["canh_bao"] == {}


def test_severity_settings_turn_warnings_into_errors_and_back(two: dict, make_app) -> None:
    strict = make_app(RX_OVERLAP_PSYCHOTROPIC="error").test_client()
    lenient = make_app(RX_OVERLAP_NARCOTIC="warning").test_client()
    accepted(strict, two["h"]["doctor_1"], rx(two, "h", [DIAZEPAM], [(0, 9)]))
    problem = assert_problem(submit(strict, two["h"]["doctor_2"],
                                    rx(two, "h", [EPHEDRINE, SEDUXEN], [(9, 12)])),
                             422, "validation")
    # the precursor line shares neither ingredient nor class with diazepam
    assert [(e["code"], e["pointer"]) for e in problem["errors"]] == [
        ("control.overlap", "/thong_tin_don_thuoc/1")]
    accepted(lenient, two["h"]["doctor_1"], rx(two, "n", [MORPHINE_ORAL], [(0, 6)]))
    warned = accepted(lenient, two["h"]["doctor_2"], rx(two, "n", [MORPHINE_ORAL], [(0, 6)]))
    assert [w["code"] for w in overlap_warnings(warned)] == ["control.overlap"]


def test_an_invalid_overlap_setting_stops_the_start(make_app) -> None:
    with pytest.raises(ConfigError, match="ERX_RX_OVERLAP_NARCOTIC"):
        make_app(RX_OVERLAP_NARCOTIC="block")


# --- basic prescriptions: duplicate therapy -------------------------------------------------
def test_basic_duplicate_therapy_from_another_facility_is_a_switchable_warning(
        client: FlaskClient, two: dict, make_app, database) -> None:
    accepted(client, two["h"]["doctor_1"], rx(two, "c", [PARACETAMOL, AMOXICILLIN], [(0, 9)]))
    same_facility = accepted(client, two["h"]["clinic_1"], rx(two, "c", [PARACETAMOL], [(0, 9)]))
    assert overlap_warnings(same_facility) == []
    other = accepted(client, two["h"]["doctor_2"], rx(two, "c", [PARACETAMOL_TWIN], [(9, 15)]))
    warnings = overlap_warnings(other)          # one for each of the other facility's two
    assert [(w["code"], w["pointer"]) for w in warnings] == [
        ("drug.duplicate_therapy", "/thong_tin_don_thuoc/0")] * 2
    for warning in warnings:
        assert "cùng hoạt chất Paracetamol" in warning["message"]
        assert "Bệnh viện Quận Một" in warning["message"] and "trùng 1 ngày" in warning["message"]
    assert database["controlled_overlaps"].count_documents({}) == 0   # not a controlled one
    assert [e["details"]["code"] for e in events(database, "prescription.overlap_warned")] == [
        "drug.duplicate_therapy"] * 2
    unrelated = accepted(client, two["h"]["doctor_2"], rx(two, "c", [AMOXICILLIN], [(10, 15)]))
    assert overlap_warnings(unrelated) == []
    off = make_app(RX_DUPLICATE_THERAPY=False).test_client()
    quiet = accepted(off, two["h"]["doctor_2"], rx(two, "c", [PARACETAMOL_TWIN], [(9, 15)]))
    assert overlap_warnings(quiet) == []


def test_without_a_cccd_nothing_can_be_matched(client: FlaskClient, two: dict) -> None:
    accepted(client, two["h"]["doctor_1"], rx(two, "n", [MORPHINE_ORAL], [(0, 6)], cccd=None))
    second = accepted(client, two["h"]["doctor_2"],
                      rx(two, "n", [MORPHINE_ORAL], [(0, 6)], cccd=None))
    assert overlap_warnings(second) == []


def test_an_invalid_overlapping_prescription_gets_its_own_errors_and_records_nothing(
        client: FlaskClient, two: dict, database) -> None:
    accepted(client, two["h"]["doctor_1"], rx(two, "n", [MORPHINE_ORAL], [(0, 6)]))
    body = rx(two, "n", [MORPHINE_ORAL], [(3, 9)], gioi_tinh=9)
    problem = assert_problem(submit(client, two["h"]["doctor_2"], body), 422, "validation")
    assert {e["code"] for e in problem["errors"]} == {"patient.sex"}
    assert database["controlled_overlaps"].count_documents({}) == 0
    assert database["prescriptions"].count_documents({}) == 1


# --- cost ------------------------------------------------------------------------------------
class CountingReads:
    """A collection that notes every read (find, find_one, aggregate, count) it is asked."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.reads: list[tuple[str, dict]] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if name not in ("find", "find_one", "aggregate", "count_documents"):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.reads.append((name, args[0] if args else kwargs.get("filter", {})))
            return attribute(*args, **kwargs)

        return counted


@pytest.fixture
def counted(app: Flask) -> Any:
    store = services(app).prescription_store
    original = store.prescriptions
    store.prescriptions = CountingReads(original)
    yield store.prescriptions
    store.prescriptions = original


def test_one_indexed_query_per_controlled_submission_and_at_most_one_for_a_basic_one(
        client: FlaskClient, two: dict, counted: CountingReads, make_app) -> None:
    for loai, drugs in (("n", [MORPHINE_ORAL]), ("h", [DIAZEPAM]), ("c", [PARACETAMOL])):
        accepted(client, two["h"]["doctor_1"], rx(two, loai, drugs, [(0, 6)]))
    assert [name for name, _ in counted.reads] == ["find", "find", "find"]
    query = counted.reads[0][1]
    plan = counted.inner.find(query).explain()["queryPlanner"]["winningPlan"]
    assert "IXSCAN" in str(plan) and "patient_treatment_end" in str(plan)
    counted.reads.clear()
    accepted(client, two["h"]["doctor_1"],
             rx(two, "c", [PARACETAMOL], [(0, 6)], cccd="079090004321"))
    assert len(counted.reads) == 1
    off = make_app(RX_DUPLICATE_THERAPY=False)
    store = services(off).prescription_store
    store.prescriptions = quiet = CountingReads(store.prescriptions)
    accepted(off.test_client(), two["h"]["doctor_1"], rx(two, "c", [PARACETAMOL], [(0, 6)]))
    assert quiet.reads == []
