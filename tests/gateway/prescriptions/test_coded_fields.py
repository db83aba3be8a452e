"""A coded field of the wrong type is told which values there are and what each means
(`gioi_tinh: "Nam"` answered only "Phải là số nguyên")."""

from __future__ import annotations

from flask.testing import FlaskClient

from gateway.core.messages import item_in_english
from tests.support.prescriptions import national_token, prescription, submit

EXPECTED = {
    "/gioi_tinh": ("Phải là số nguyên", "1 (chưa rõ)", "2 (nam)", "3 (nữ)"),
    "/hinh_thuc_dieu_tri": ("Phải là số nguyên", "1 (khám bệnh)", "2 (điều trị ngoại trú)",
                            "3 (điều trị nội trú)"),
    "/loai_don_thuoc": ("c (đơn thuốc thường)", "n (thuốc gây nghiện)", "y (y học cổ truyền)"),
}


def test_type_errors_on_coded_fields_name_the_values(client: FlaskClient, world: dict) -> None:
    body = prescription(gioi_tinh="Nam", hinh_thuc_dieu_tri="ngoại trú", loai_don_thuoc=1)
    answer = submit(client, world["h"]["doctor_a"], body)
    assert answer.status_code == 422
    messages = {item["pointer"]: item["message"] for item in answer.get_json()["errors"]}
    for pointer, parts in EXPECTED.items():
        assert all(part in messages[pointer] for part in parts), messages[pointer]
    national = client.post("/api/v1/gui-don-thuoc", json=body,
                           headers=national_token(client, world)).get_json()
    said = " ".join(" ".join(messages) for messages in national["error"].values())
    assert "2 (nam)" in said and "3 (điều trị nội trú)" in said


def test_a_wrong_code_of_the_right_type_names_the_values_too(client: FlaskClient,
                                                             world: dict) -> None:
    answer = submit(client, world["h"]["doctor_a"], prescription(gioi_tinh=5))
    [item] = [item for item in answer.get_json()["errors"] if item["pointer"] == "/gioi_tinh"]
    assert "1 (chưa rõ), 2 (nam) hoặc 3 (nữ)" in item["message"]


def test_the_values_and_their_meaning_are_english_when_english_is_asked(
        client: FlaskClient, world: dict) -> None:
    body = prescription(gioi_tinh="Nam", hinh_thuc_dieu_tri=7, loai_don_thuoc=1)
    english = {"Accept-Language": "en"}
    answer = submit(client, world["h"]["doctor_a"], body, **english)
    messages = {item["pointer"]: item["message"] for item in answer.get_json()["errors"]}
    assert messages["/gioi_tinh"] == "must be an integer: 1 (unknown), 2 (male) or 3 (female)"
    assert messages["/hinh_thuc_dieu_tri"] == ("the treatment setting must be 1 (visit), "
                                               "2 (outpatient treatment) or 3 (inpatient "
                                               "treatment)")
    assert messages["/loai_don_thuoc"] == (
        "must be a string: c (basic prescription), n (narcotic drugs), h (psychotropic drugs "
        "or precursors) or y (traditional medicine)")
    wrong = submit(client, world["h"]["doctor_a"], prescription(gioi_tinh=5), **english)
    [item] = [item for item in wrong.get_json()["errors"] if item["pointer"] == "/gioi_tinh"]
    assert item["message"] == "the sex must be 1 (unknown), 2 (male) or 3 (female)"


def test_control_classes_and_prescription_types_in_messages_are_english_when_asked() -> None:
    assert item_in_english("Thuốc gây nghiện chỉ được kê trong đơn thuốc gây nghiện (n)") == \
        "a narcotic drug is prescribed only on a narcotic prescription (n)"
    assert item_in_english("Thuốc đang bị thu hồi, không được kê đơn") == \
        "the drug is recalled: it may not be prescribed"
