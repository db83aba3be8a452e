"""Every human-readable text of an error in Vietnamese by default and in English with
`Accept-Language: en`: titles, details and items. The details are written in English where
they are raised; gateway/core/messages.py has the Vietnamese of each: a test walks the source
for every detail the gateway can raise and checks the table has it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from drug_catalog.errors import AmbiguousIdentifier, InvalidGs1, InvalidIdentifier, UnknownDrug
from gateway.core.messages import (
    DETAILS,
    delivery_error_in_vietnamese,
    detail_in_vietnamese,
    item_in_english,
)
from gateway.core.reasons import SIGNATURE_REASONS, catalog_reason_in_vietnamese
from signing.errors import PrescriberSignatureError, VerificationError
from tests.support.prescriptions import SUSPENDED_TWIN, issued, prescription
from tests.support.source_texts import VIETNAMESE, literal_text

ROOT = Path(__file__).resolve().parents[3]
RAISERS = {"NotFound", "Forbidden", "Conflict", "Invalid", "Unauthenticated", "Unavailable",
           "PartyError", "PartyExists", "UnknownParty", "ApiError", "DomainError",
           "RateLimited", "UserError", "UserExists", "UnknownUser"}


def _raiser_classes(trees: list[ast.Module]) -> set[str]:
    """RAISERS and every class that derives from one of them (the one class per failure of
    gateway/core/errors.py), to a fixed point."""
    raisers = set(RAISERS)
    classes = [node for tree in trees for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    grown = True
    while grown:
        grown = False
        for node in classes:
            bases = {base.id if isinstance(base, ast.Name) else getattr(base, "attr", None)
                     for base in node.bases}
            if node.name not in raisers and bases & raisers:
                raisers.add(node.name)
                grown = True
    return raisers


def _is_super_init(func: ast.AST) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "__init__"
            and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "super")


def raised_details(given_too: bool = False) -> list[tuple[str, str]]:
    """Every literal detail in gateway/: the first argument of a domain error (raised, or
    given by an error class to its base: ``super().__init__(...)``), or detail=;
    ``given_too``: also those whose raiser gives the Vietnamese itself (``detail_vi=``)."""
    paths = sorted((ROOT / "gateway").rglob("*.py"))
    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in paths]
    raisers = _raiser_classes(trees)
    calls: list[tuple[ast.Call, Path]] = []
    for path, tree in zip(paths, trees, strict=True):
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name in raisers:
                calls += [(call, path) for call in ast.walk(node)
                          if isinstance(call, ast.Call) and _is_super_init(call.func)]
            elif isinstance(node, ast.Call) and not _is_super_init(node.func):
                calls.append((node, path))
    found = []
    for node, path in calls:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if not given_too and any(keyword.arg == "detail_vi" for keyword in node.keywords):
            continue  # the raiser gives the Vietnamese itself
        texts = ([literal_text(node.args[0])] if (name in raisers or _is_super_init(func)) and node.args
                 else [])
        texts += [literal_text(keyword.value) for keyword in node.keywords if keyword.arg == "detail"]
        found += [(text, f"{path.relative_to(ROOT)}:{node.lineno}") for text in texts
                  if text and not VIETNAMESE.search(text)
                  and re.sub(r"X1|\W", "", text)]  # words, not only values
    return found


def test_every_detail_the_gateway_raises_has_its_vietnamese() -> None:
    details = raised_details()
    assert len(details) > 50  # the walk finds them
    missing = [f"{where}: {text!r}" for text, where in details if detail_in_vietnamese(text) is None]
    assert missing == []


def test_the_table_has_no_unused_entry() -> None:
    templates = {re.sub(r"X1", "{}", text) for text, _ in raised_details(given_too=True)}
    unused = [english for english, _ in DETAILS if english not in templates]
    assert unused == []


def _ask(client: FlaskClient, lang: str | None, method: str, path: str, **kwargs):
    headers = dict(kwargs.pop("headers", {}))
    if lang:
        headers["Accept-Language"] = lang
    return client.open(path, method=method, headers=headers, **kwargs)


@pytest.mark.parametrize("lang", [None, "vi", "en", "en-US,en;q=0.9"])
def test_errors_speak_the_asked_language(client: FlaskClient, world: dict, lang) -> None:
    code = issued(client, world)
    h = world["h"]
    client.post(f"/v2/prescriptions/{code}/cancel", headers=h["doctor_a"],
                json={"ly_do": "Bệnh nhân đổi phác đồ"})
    answers = [
        _ask(client, lang, "GET", f"/v2/prescriptions/{code}"),  # no credentials
        _ask(client, lang, "GET", f"/v2/prescriptions/{code}",
             headers={"Authorization": "Bearer nope"}),
        _ask(client, lang, "GET", "/v2/prescriptions/79001ZZZZZZZ-c", headers=h["regulator"]),
        _ask(client, lang, "POST", f"/v2/prescriptions/{code}/cancel", headers=h["doctor_a"],
             json={"ly_do": "lần nữa"}),
        _ask(client, lang, "POST", f"/v2/prescriptions/{code}/dispenses",
             headers=h["doctor_a"], json={"items": [{"line": 0, "so_luong_ban": 1}]}),
        _ask(client, lang, "POST", "/v2/prescriptions", headers=h["doctor_a"],
             data="{not json", content_type="application/json"),
        _ask(client, lang, "POST", "/v2/prescriptions", headers=h["doctor_a"], data="x",
             content_type="text/plain"),
        _ask(client, lang, "POST", "/v2/auth/token", json={
            "grant_type": "client_credentials", "client_id": "clinic-79001",
            "client_secret": "wrong"}),
    ]
    english = bool(lang and lang.startswith("en"))
    for answer in answers:
        body = answer.get_json()
        assert answer.status_code >= 400 and body["title"], body
        said = " ".join(filter(None, [body["title"], body.get("detail")]))
        if english:
            assert not VIETNAMESE.search(said), body
            assert answer.headers["Content-Language"] == "en"
        else:
            assert VIETNAMESE.search(body["title"]), body
            if body.get("detail"):
                assert VIETNAMESE.search(body["detail"]), body


def outcome_errors() -> list[tuple[str, str]]:
    """Every literal reason a delivery can end with (Outcome.retry/permanent/skipped, the
    webhook categories, the forwarder's 'gave up' texts)."""
    found = []
    for path in sorted((ROOT / "gateway" / "forwarding").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("retry", "permanent", "skipped") and node.args):
                text = literal_text(node.args[0])
                if text and text != "X1":
                    found.append((text, f"{path.relative_to(ROOT)}:{node.lineno}"))
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") in ("ERRORS", "REASON")
                                                    for t in node.targets):
                values = node.value.values if isinstance(node.value, ast.Dict) else [node.value]
                found += [(literal_text(value), str(path.name)) for value in values if literal_text(value)]
    return found


def test_every_delivery_error_is_said_in_vietnamese_in_the_console() -> None:
    errors = outcome_errors()
    assert len(errors) > 12
    missing = [f"{where}: {text!r}" for text, where in errors
               if not VIETNAMESE.search(delivery_error_in_vietnamese(text))]
    assert missing == []
    said = delivery_error_in_vietnamese("gave up after 1 day, 0:00:00: the registry answered 503")
    assert said == "Ngừng gửi sau 1 day, 0:00:00: Hệ thống quốc gia trả lời 503"


def item_messages() -> list[tuple[str, str]]:
    """Every literal message of an error item: ``error_item(pointer, code, message)``, the
    rules' ``ctx.error`` / ``ctx.warn`` and ``Problem(path, code, message)``, an item helper's
    ``*_item(code, message)``, and an item written as a dict (``{"message": ...}``) that does
    not give its English itself (``"_en"``)."""
    found = []
    for package in ("gateway", "schemas"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.parent.name == "console":
                continue  # the console's own texts: tests/gateway/console/test_english.py
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                texts: list[str | None] = []
                if isinstance(node, ast.Call):
                    func = node.func
                    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                    if name in ("error_item", "error", "warn", "Problem") and len(node.args) >= 3:
                        texts.append(literal_text(node.args[2]))
                    elif name and name.endswith("_item") and len(node.args) == 2:
                        texts.append(literal_text(node.args[1]))
                elif isinstance(node, ast.Dict):
                    keys = [key.value for key in node.keys if isinstance(key, ast.Constant)]
                    if "message" in keys and "_en" not in keys:
                        texts.append(literal_text(node.values[keys.index("message")]))
                found += [(text, f"{path.relative_to(ROOT)}:{node.lineno}") for text in texts
                          if text and VIETNAMESE.search(text)]
    return found


def test_every_item_message_has_its_english() -> None:
    messages = item_messages()
    assert len(messages) > 70
    missing = [f"{where}: {text!r}" for text, where in messages if item_in_english(text) is None]
    assert missing == []


def test_a_refused_prescription_speaks_english_when_asked(client: FlaskClient,
                                                          world: dict) -> None:
    body = prescription(gioi_tinh=7, ho_ten_benh_nhan="")
    answer = client.post("/v2/prescriptions", json=body, headers={
        **world["h"]["doctor_a"], "Accept-Language": "en"}).get_json()
    said = {item["pointer"]: item["message"] for item in answer["errors"]}
    assert said["/gioi_tinh"].startswith("the sex must be")
    assert not VIETNAMESE.search(said["/ho_ten_benh_nhan"])


def library_reasons() -> list[tuple[str, str]]:
    """Every literal reason the drug catalog raises (``InvalidIdentifier``, ``InvalidGs1``):
    answers carry it as a value of their detail and items."""
    found = []
    for path in sorted((ROOT / "drug_catalog").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("InvalidIdentifier", "InvalidGs1")
                    and len(node.args) >= 2):
                text = literal_text(node.args[1])
                if text:
                    found.append((text, f"{path.relative_to(ROOT)}:{node.lineno}"))
    return found


def test_every_library_reason_is_said_in_vietnamese() -> None:
    reasons = library_reasons()
    assert len(reasons) > 20
    missing = [f"{where}: {text!r}" for text, where in reasons
               if not VIETNAMESE.search(catalog_reason_in_vietnamese(text))]
    assert missing == []
    for error in (UnknownDrug("XYZ"), AmbiguousIdentifier("893", ["MT1", "MT2"]),
                  InvalidIdentifier("12", "a GTIN has digits only"),
                  InvalidGs1("(01)1", "GTIN (01) must be 14 digits, got '1'")):
        assert VIETNAMESE.search(catalog_reason_in_vietnamese(str(error))), error
    for reasons_of in (VerificationError.REASONS, PrescriberSignatureError.REASONS):
        assert [reason for reason in reasons_of if reason not in SIGNATURE_REASONS] == []


def _vi_en(client: FlaskClient, method: str, path: str, **kwargs) -> tuple[dict, dict]:
    return (_ask(client, None, method, path, **kwargs).get_json(),
            _ask(client, "en", method, path, **kwargs).get_json())


def test_details_built_from_a_parser_s_text_are_vietnamese_with_the_position(
        client: FlaskClient, world: dict) -> None:
    h = world["h"]
    vi, en = _vi_en(client, "POST", "/v2/prescriptions", headers=h["doctor_a"],
                    data='{"a": 1,,}', content_type="application/json")
    assert vi["detail"] == "JSON không đúng cú pháp: cần tên trường trong dấu ngoặc kép ở dòng 1, cột 9"
    assert en["detail"] == ("malformed JSON: Expecting property name enclosed in double quotes "
                            "at line 1, column 9")
    vi, en = _vi_en(client, "POST", "/v2/prescriptions", headers=h["doctor_a"],
                    data='{"a": 1, "a": 2}', content_type="application/json")
    assert vi["detail"] == "JSON không đúng cú pháp: tên trường 'a' xuất hiện hai lần"
    assert en["detail"] == "malformed JSON: duplicate key 'a'"


def test_details_and_items_built_from_the_catalog_s_errors_are_vietnamese(
        client: FlaskClient, world: dict) -> None:
    h = world["h"]
    vi, en = _vi_en(client, "GET", "/v2/drugs/NOPE-1", headers=h["pharmacy_1"])
    assert vi["detail"] == "không có thuốc nào trong danh mục có mã 'NOPE-1'"
    assert en["detail"] == "no product in the catalog is identified by 'NOPE-1'"
    code = issued(client, world)
    items = [{"line": 0, "so_luong_ban": 1, "ma_thuoc": "NOPE-1", "packs": ["(01)1"]},
             {"line": 1, "so_luong_ban": 1, "packs": ["(01)123"]}]
    vi, en = _vi_en(client, "POST", f"/v2/prescriptions/{code}/dispenses",
                    headers=h["pharmacy_1"], json={"items": items})
    said = {item["pointer"]: item["message"] for item in vi["errors"]}
    assert said["/items/0/ma_thuoc"] == ("Mã thuốc không có trong danh mục (không có thuốc nào "
                                         "trong danh mục có mã 'NOPE-1')")
    assert said["/items/1/packs/0"] == "Mã GS1 không hợp lệ: GTIN (01) phải gồm 14 chữ số"
    told = {item["pointer"]: item["message"] for item in en["errors"]}
    assert told["/items/0/ma_thuoc"] == ("the drug code is not in the catalog (no product in the "
                                         "catalog is identified by 'NOPE-1')")
    assert told["/items/1/packs/0"] == "not a valid GS1 code: GTIN (01) must be 14 digits"
    vi, en = _vi_en(client, "POST", f"/v2/prescriptions/{code}/dispenses",
                    headers=h["pharmacy_1"], json={"items": [
                        {"line": 0, "so_luong_ban": 1, "ma_thuoc": SUSPENDED_TWIN}]})
    assert "Thuốc không còn lưu hành (bị đình chỉ lưu hành)" in \
        [item["message"] for item in vi["errors"]]
    assert "the product is no longer marketed (suspended)" in \
        [item["message"] for item in en["errors"]]


def test_a_refused_prescriber_signature_says_its_reason_in_vietnamese(
        client: FlaskClient, world: dict) -> None:
    body = prescription(signature="not-a-jws")
    vi, en = _vi_en(client, "POST", "/v2/prescriptions", headers=world["h"]["doctor_a"],
                    json=body)
    [item] = [item for item in vi["errors"] if item["pointer"] == "/signature"]
    assert item["message"].startswith("Chữ ký số của người kê đơn không hợp lệ (malformed_jws): "
                                      "chữ ký không đúng dạng JWS")
    assert item["reason"] == "malformed_jws"
    [item] = [item for item in en["errors"] if item["pointer"] == "/signature"]
    assert item["message"].startswith("the prescriber's digital signature is not valid "
                                      "(malformed_jws): ")
    assert not VIETNAMESE.search(item["message"])
