"""The national dispense report's own checks (docs/national-api.md, "Dispense report"): the
shape checks it shares with the native dispense (unknown fields, the list of items, each item
an object), its own pharmacy fields and its lines matched by drug, all said at once in the
national shape, before anything is recorded."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.support.prescriptions import PARACETAMOL, issued


def report(client: FlaskClient, world: dict, body: dict[str, Any]) -> tuple[int, list[str]]:
    pharmacy = world["parties"]["pharmacy_1"]
    answer = client.post("/api/v1/cap-nhat-don-thuoc", json=body, headers={
        "app-name": pharmacy.client_id, "app-key": pharmacy.client_secret})
    return answer.status_code, answer.get_json()["danh_sach_cac_loi"]


def test_every_shape_problem_of_a_report_is_said_at_once(client: FlaskClient,
                                                         world: dict) -> None:
    code = issued(client, world)
    status, errors = report(client, world, {
        "ma_don_thuoc": code, "ten_co_so_cung_ung_thuoc": 7, "ghi_chu": "x",
        "thong_tin_thuoc": ["one", {"ma_thuoc_da_ke_don": PARACETAMOL, "so_luong_ban": 1,
                                    "lo": "A1"},
                            {"ma_thuoc_da_ke_don": "VN-00000-00", "so_luong_ban": 1}]})
    assert status == 422
    assert errors == [
        "[dispense.pharmacy_field] ten_co_so_cung_ung_thuoc là chuỗi tối đa 500 ký tự",
        "[dispense.unknown_field] Trường không được hỗ trợ: ghi_chu",
        "[dispense.item] Dòng thuốc bán phải là đối tượng",
        "[dispense.unknown_field] Trường không được hỗ trợ: lo",
        "[dispense.line] Thuốc này không có trong đơn"]
    state = client.get(f"/v2/prescriptions/{code}", headers=world["h"]["regulator"]).get_json()
    assert state["dispenses"] == [] and state["lines"][0]["dispensed"] == 0


def test_a_report_without_items_names_the_national_list(client: FlaskClient,
                                                         world: dict) -> None:
    code = issued(client, world)
    for items in ([], None, "x"):
        body: dict[str, Any] = {"ma_don_thuoc": code, "thong_tin_thuoc": items}
        assert report(client, world, body) == (
            422, ["[dispense.items_required] Cần ít nhất một dòng thuốc bán"])


def test_an_unknown_prescription_is_404_before_the_items_are_read(client: FlaskClient,
                                                                  world: dict) -> None:
    status, errors = report(client, world, {"ma_don_thuoc": "79001XXXXXXX-c",
                                            "thong_tin_thuoc": []})
    assert status == 404 and errors and errors[0].startswith("[not-found]")


def test_a_report_item_is_matched_to_its_line_by_any_identifier_of_the_drug(
        client: FlaskClient, world: dict) -> None:
    code = issued(client, world)
    stored = client.get(f"/v2/prescriptions/{code}", headers=world["h"]["regulator"]).get_json()
    assert report(client, world, {"ma_don_thuoc": code, "thong_tin_thuoc": [
        {"ma_thuoc": stored["lines"][0]["ma_thuoc"], "so_luong_ban": 1}]}) == (200, [])
