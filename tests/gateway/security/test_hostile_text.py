"""Attack class: hostile text in any text field, on the native and the national endpoints.

Probe findings: ``"\\ud800"`` in ``client_id``, ``ho_ten_benh_nhan``, ``ly_do`` or ``ma_hoa_don``
answered 500; NUL, U+202E and ANSI escapes were stored in names and reasons. Hypothesis now
writes lone surrogates, C0/C1 controls, bidi overrides and huge strings into every text field
of every body a client sends (found by walking a valid body, not listed by hand), and the
answer is always a 4xx naming the field, with nothing stored.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.prescriptions import PARACETAMOL, issued, prescription

CONTROLS = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
        "\u200e", "\u200f", "\u061c"]
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]
hostile_char = st.sampled_from(CONTROLS + BIDI + SURROGATES)
hostile_text = st.one_of(
    st.tuples(st.text(alphabet="aăâđêôơư Nguyễn", max_size=8), hostile_char,
              st.text(alphabet="xyz", max_size=4)).map("".join),
    st.integers(min_value=300_000, max_value=400_000).map(lambda n: "Ạ" * n),  # huge
)
EDGE = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def text_pointers(value: Any, pointer: str = "") -> Iterator[str]:
    """The JSON pointer of every string in ``value``."""
    if isinstance(value, str):
        yield pointer
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from text_pointers(item, f"{pointer}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from text_pointers(item, f"{pointer}/{index}")


def put(body: Any, pointer: str, text: str) -> Any:
    changed = copy.deepcopy(body)
    *parents, last = pointer.strip("/").split("/")
    target = changed
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = text
    else:
        target[last] = text
    return changed


def send(client, path: str, body: Any, headers: dict[str, str] | None = None):
    # ensure_ascii: a lone surrogate travels as the JSON escape \\ud800, as attackers send it
    return client.post(path, data=json.dumps(body, ensure_ascii=True),
                       content_type="application/json", headers=headers or {})


def refused(answer, pointer: str) -> None:
    assert answer.status_code in (400, 401, 403, 404, 409, 413, 422), (answer.status_code, pointer)
    if answer.status_code == 422 and answer.mimetype == "application/problem+json":
        assert pointer in {e.get("pointer") for e in answer.get_json()["errors"]}, answer.get_json()


SUBMISSION = prescription(ma_so_the_bao_hiem_y_te="DN4797912345678", thong_tin_nguoi_giam_ho="Mẹ",
                          so_dien_thoai_nguoi_kham_benh="0912345678")
SUBMISSION_FIELDS = sorted(text_pointers(SUBMISSION))


@EDGE
@given(field=st.sampled_from(SUBMISSION_FIELDS), text=hostile_text, national=st.booleans())
def test_any_text_field_of_a_submission(client, world, database, field: str, text: str,
                                        national: bool) -> None:
    path = "/api/v1/gui-don-thuoc" if national else "/v2/prescriptions"
    answer = send(client, path, put(SUBMISSION, field, text), world["h"]["doctor_a"])
    refused(answer, field)
    assert database["prescriptions"].count_documents({}) == 0


@EDGE
@given(field=st.sampled_from(["/ma_hoa_don", "/items/0/ma_thuoc", "/items/0/packs/0"]),
       text=hostile_text)
def test_any_text_field_of_a_native_dispense(client, world, database, field: str, text: str) -> None:
    code = issued(client, world)
    body = {"ma_hoa_don": "HD1", "items": [{"line": 0, "ma_thuoc": PARACETAMOL, "so_luong_ban": 1,
                                             "packs": ["(01)08936014580019(21)A1"]}]}
    refused(send(client, f"/v2/prescriptions/{code}/dispenses", put(body, field, text),
                 world["h"]["pharmacy_1"]), field)
    assert database["prescriptions"].find_one({"_id": code})["dispenses"] == []


NATIONAL_DISPENSE = {"ma_don_thuoc": "X", "ma_hoa_don": "HD1",
                     "ma_dinh_danh_co_so_cung_ung_thuoc": "NT0001",
                     "ten_co_so_cung_ung_thuoc": "Nhà thuốc", "dia_chi_co_so_cung_ung_thuoc": "1 A",
                     "so_dien_thoai_co_so_cung_ung_thuoc": "0900000000",
                     "thong_tin_thuoc": [{"ma_thuoc_da_ke_don": PARACETAMOL, "ma_thuoc": PARACETAMOL,
                                          "so_luong_ban": 1}]}


@EDGE
@given(field=st.sampled_from(sorted(set(text_pointers(NATIONAL_DISPENSE)) - {"/ma_don_thuoc"})),
       text=hostile_text)
def test_any_text_field_of_a_national_dispense(client, world, database, field: str, text: str) -> None:
    code = issued(client, world)
    body = put(dict(NATIONAL_DISPENSE, ma_don_thuoc=code), field, text)
    answer = send(client, "/api/v1/cap-nhat-don-thuoc", body, world["h"]["pharmacy_1"])
    assert 400 <= answer.status_code < 500, answer.status_code
    assert database["prescriptions"].find_one({"_id": code})["dispenses"] == []


@EDGE
@given(text=hostile_text)
def test_a_cancel_reason(client, world, database, text: str) -> None:
    code = issued(client, world)
    refused(send(client, f"/v2/prescriptions/{code}/cancel", {"ly_do": text},
                 world["h"]["doctor_a"]), "/ly_do")
    assert database["prescriptions"].find_one({"_id": code})["status"] == "issued"


LOGINS = [
    ("/v2/auth/token", {"grant_type": "client_credentials", "client_id": "clinic-79001",
                        "client_secret": "s"}),
    ("/api/auth/dang-nhap-co-so-kham-chua-benh", {"ma_lien_thong_co_so_kham_chua_benh": "79001",
                                                   "password": "s"}),
    ("/api/auth/dang-nhap-bac-si", {"ma_lien_thong_co_so_kham_chua_benh": "79001",
                                    "ma_lien_thong_bac_si": "BS001", "password": "s"}),
]


@EDGE
@given(login=st.sampled_from(LOGINS), data=st.data())
def test_any_text_field_of_a_login(client, login: tuple[str, dict], data) -> None:
    path, body = login
    field = data.draw(st.sampled_from(sorted(text_pointers(body))))
    text = data.draw(hostile_text)
    answer = send(client, path, put(body, field, text))
    assert answer.status_code in (400, 401, 413, 422, 429), (path, field, answer.status_code)


@EDGE
@given(field=st.sampled_from(["/name", "/address", "/phone", "/code"]), text=hostile_text)
def test_any_text_field_of_a_party(client, make_party, database, field: str, text: str) -> None:
    admin = make_party("admin", "ops").headers(client)
    before = database["parties"].count_documents({})
    body = {"role": "pharmacy", "code": "NT0777", "name": "Nhà thuốc", "address": "1 A",
            "phone": "0900000000"}
    refused(send(client, "/v2/parties", put(body, field, text), admin), field)
    assert database["parties"].count_documents({}) == before
    database["parties"].delete_many({"role": "admin"})


@EDGE
@given(field=st.sampled_from(["/url", "/events/0"]), text=hostile_text)
def test_any_text_field_of_a_webhook(client, world, database, field: str, text: str) -> None:
    body = {"url": "https://pharmacy.example/hook", "events": ["prescription.issued"]}
    answer = client.put("/v2/pharmacies/me/webhook", data=json.dumps(put(body, field, text), ensure_ascii=True),
                        content_type="application/json", headers=world["h"]["pharmacy_1"])
    refused(answer, field)
    assert database["webhooks"].count_documents({}) == 0
