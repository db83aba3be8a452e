"""Codes typed from paper are found: any case, blanks, O for 0, I or L for 1 (when only one
prescription matches), on the native, national and console faces; new codes hold none of
the characters a reader confuses."""

from __future__ import annotations

from flask.testing import FlaskClient

from schemas.identifiers import code_spellings, generate_prescription_code, typed_code
from tests.support.prescriptions import dispense, issued


def as_read_from_paper(code: str) -> str:
    """Lower case, a blank in the middle, every 0 read as O and every 1 as l."""
    body = code[:12].replace("0", "O").replace("1", "l").lower()
    return f"{body[:5]} {body[5:]}{code[12:].upper()}"


def test_typed_spellings_and_new_codes() -> None:
    assert typed_code(" 79001 ab12345-C ") == "79001AB12345-c"
    assert typed_code("79001ab12345c") == "79001AB12345-c"
    assert typed_code("not a code") == "not a code"
    assert "79001AB12345-c" in code_spellings("79OOlAB12345-c")
    assert code_spellings("hello") == []
    for _ in range(200):
        assert not set(generate_prescription_code("79001", "c")[5:12]) & set("OIL")


def test_the_api_and_national_faces_find_a_code_typed_from_paper(client: FlaskClient,
                                                                 world: dict) -> None:
    code = issued(client, world)
    typed = as_read_from_paper(code)
    assert typed != code
    h = world["h"]
    read = client.get(f"/v2/prescriptions/{typed}", headers=h["pharmacy_1"])
    assert read.status_code == 200 and read.get_json()["ma_don_thuoc"] == code
    sold = dispense(client, h["pharmacy_1"], typed, [{"line": 0, "so_luong_ban": 2}])
    assert sold.status_code == 201, sold.get_json()
    assert client.get(f"/v2/prescriptions/{typed}/deliveries",
                      headers=h["clinic_a"]).get_json()["ma_don_thuoc"] == code
    pharmacy = world["parties"]["pharmacy_1"]
    national = client.get(f"/api/v1/thong-tin-don-thuoc/{typed.replace(' ', '')}", headers={
        "app-name": pharmacy.client_id, "app-key": pharmacy.client_secret})
    assert national.status_code == 200 and national.get_json()["ma_don_thuoc"] == code
    cancelled = client.post(f"/v2/prescriptions/{typed}/cancel", headers=h["doctor_a"],
                            json={"ly_do": "Bệnh nhân đổi phác đồ"})
    assert cancelled.status_code == 200, cancelled.get_json()


def test_an_ambiguous_spelling_is_not_guessed(client: FlaskClient, world: dict,
                                              database) -> None:
    code = issued(client, world)
    stored = database["prescriptions"].find_one({"_id": code})
    for char in "1I":  # two codes that differ only by 1 and I (new codes hold no L)
        if code[5] != char:
            database["prescriptions"].insert_one({**stored, "_id": code[:5] + char + code[6:]})
    typed = code[:5] + "L" + code[6:]  # which one is it?
    assert client.get(f"/v2/prescriptions/{typed}",
                      headers=world["h"]["regulator"]).status_code == 404
    assert client.get(f"/v2/prescriptions/{code[:5]}I{code[6:]}",
                      headers=world["h"]["regulator"]).status_code == 200  # exact: no doubt
