"""The console in English: every text of the templates and views has its English in
gateway/console/english.py, the language follows the browser (Accept-Language, q-values) or
``?lang=`` (remembered in a cookie), and a walk through every page of every role in English
finds no Vietnamese outside the data the pages show."""

from __future__ import annotations

import ast
import base64
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jinja2 import Environment, nodes

from gateway.console import english, labels
from gateway.core.reasons import integrity_in_vietnamese
from gateway.prescriptions.printing import SEXES, TITLES
from gateway.web.context import services
from tests.support.console import Browser, Person
from tests.support.overlaps import DIAZEPAM, SEDUXEN, accepted, rx
from tests.support.prescriptions import PARACETAMOL, dispense, prescription, submit
from tests.support.source_texts import VIETNAMESE, literal_text

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "gateway" / "console" / "templates" / "console"
#: The language switch names Vietnamese in Vietnamese, on purpose (lang="vi").
SWITCH = "Tiếng Việt"
GETTEXT = ("_", "gettext", "ngettext")


def _environment() -> Environment:
    return Environment(extensions=["jinja2.ext.i18n"])


def template_texts() -> list[tuple[str, str]]:
    """Every text a template marks for translation (``_()``, ``ngettext()``, ``{% trans %}``)."""
    found = []
    for path in sorted(TEMPLATES.glob("*.html")):
        for _, _, message in _environment().extract_translations(path.read_text("utf-8")):
            for text in (message if isinstance(message, tuple) else (message,)):
                if text:
                    found.append((text, path.name))
    return found


def unmarked_template_texts() -> list[str]:
    """Vietnamese written in a template outside ``_()`` / ``{% trans %}``."""
    found = []
    for path in sorted(TEMPLATES.glob("*.html")):
        tree = _environment().parse(path.read_text("utf-8"))
        marked = {id(arg) for call in tree.find_all(nodes.Call)
                  if isinstance(call.node, nodes.Name) and call.node.name in GETTEXT
                  for arg in call.args}
        for node in tree.find_all((nodes.TemplateData, nodes.Const)):
            text = node.data if isinstance(node, nodes.TemplateData) else node.value
            if (isinstance(text, str) and id(node) not in marked and VIETNAMESE.search(text)
                    and text != SWITCH):
                found.append(f"{path.name}: {text.strip()[:80]!r}")
    return found


def test_every_template_text_is_marked_and_has_its_english() -> None:
    assert unmarked_template_texts() == []
    texts = template_texts()
    assert len(texts) > 150
    missing = [f"{where}: {text!r}" for text, where in texts
               if text not in english.PAGES and text not in english.PLURALS
               and text not in {plural for _, plural in english.PLURALS.values()}]
    assert missing == []
    for text, where in texts:
        said = english.PAGES.get(text) or " ".join(english.PLURALS.get(text, ("",)))
        assert not VIETNAMESE.search(said), (where, text)
        assert set(re.findall(r"%\(\w+\)s", said)) == set(re.findall(r"%\(\w+\)s", text)), text


def test_the_page_table_has_no_unused_entry() -> None:
    used = {text for text, _ in template_texts()}
    assert [text for text in english.PAGES if text not in used] == []


def view_texts() -> list[tuple[str, str]]:
    """Every Vietnamese string of the console's Python modules (docstrings aside), and the
    printed form's words the pages reuse."""
    found = []
    paths = sorted((ROOT / "gateway" / "console").glob("*.py"))
    for path in paths:
        tree = ast.parse(path.read_text("utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        strings = [node for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)]
        inside = {id(part) for node in strings for part in ast.walk(node)}
        strings += [node for node in ast.walk(tree) if isinstance(node, ast.Constant)
                    and id(node) not in inside and id(node) not in docstrings]
        found += [(text, f"{path.name}:{node.lineno}") for node in strings
                  if (text := literal_text(node)) and VIETNAMESE.search(text)
                  and path.name != "english.py"]
    return found


def test_every_text_of_the_views_has_its_english() -> None:
    texts = view_texts()
    assert len(texts) > 150
    missing = [f"{where}: {text!r}" for text, where in texts
               if VIETNAMESE.search(english.english(text))]
    assert missing == []


def test_the_printed_form_s_words_the_pages_show_have_their_english() -> None:
    for text in [*TITLES.values(), *SEXES.values(), "35 tuổi", "30 tháng tuổi",
                 "từ 01/12/2026 đến 07/12/2026", *labels.STATUSES.values()]:
        assert not VIETNAMESE.search(english.english(text)), text
    assert english.english("từ 01/12/2026 đến 07/12/2026") == "from 01/12/2026 to 07/12/2026"
    assert english.english("Hộp thứ 2: Hộp thuốc được quét hai lần") == \
        "Pack 2: the pack was scanned twice"


def test_the_integrity_panel_s_technical_details_are_vietnamese_by_default() -> None:
    tree = ast.parse((ROOT / "gateway" / "audit" / "integrity.py").read_text("utf-8"))
    findings = [literal_text(node.args[4]) for node in ast.walk(tree)
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Integrity"]
    assert len(findings) == 5
    for text in findings:
        assert VIETNAMESE.search(integrity_in_vietnamese(str(text))), text
    assert integrity_in_vietnamese("the latest tree head's signature does not verify: "
                                   "bad_signature: the signature does not verify") == \
        "chữ ký của bản tóm tắt mới nhất không hợp lệ: bad_signature: chữ ký không khớp nội dung"


# --- choosing the language -------------------------------------------------------------------
@pytest.mark.parametrize(("header", "lang"), [
    (None, "vi"), ("vi", "vi"), ("en", "en"), ("en-US,en;q=0.9,vi;q=0.8", "en"),
    ("vi,en;q=0.9", "vi"), ("vi;q=0.4,en;q=0.8", "en"), ("en,vi", "en"), ("fr", "vi"),
    ("fr,en;q=0.5", "en"), ("*", "vi"), ("en;q=0,vi", "vi"), ("de,*;q=0.1", "vi")])
def test_the_browser_s_language_chooses(client: FlaskClient, header: str | None,
                                        lang: str) -> None:
    page = client.get("/console/login", headers={"Accept-Language": header} if header else {})
    html = page.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html
    assert page.headers["Content-Language"] == lang
    assert "Accept-Language" in page.headers["Vary"]
    assert ("Sign in" in html) == (lang == "en") and ("Đăng nhập" in html) == (lang == "vi")


def test_a_chosen_language_is_remembered_and_only_vi_or_en_is_taken(
        client: FlaskClient) -> None:
    chosen = client.get("/console/login?lang=en", headers={"Accept-Language": "vi"})
    assert '<html lang="en">' in chosen.get_data(as_text=True)
    cookie = chosen.headers["Set-Cookie"]
    assert cookie.startswith("erx-lang=en;") and "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie and "Path=/console/" in cookie
    later = client.get("/console/login", headers={"Accept-Language": "vi"})
    assert '<html lang="en">' in later.get_data(as_text=True)
    assert "Set-Cookie" not in later.headers
    # The switch back to Vietnamese is on the page, and sticks too.
    assert 'href="/console/login?lang=vi"' in later.get_data(as_text=True)
    back = client.get("/console/login?lang=vi", headers={"Accept-Language": "en"})
    assert '<html lang="vi">' in back.get_data(as_text=True)
    assert back.headers["Set-Cookie"].startswith("erx-lang=vi;")
    for odd in ("fr", "EN", "en<script>", ""):
        refused = client.get(f"/console/login?lang={odd}")
        assert "erx-lang" not in refused.headers.get("Set-Cookie", "")
        assert '<html lang="vi">' in refused.get_data(as_text=True)  # the cookie still says vi
    client.delete_cookie("erx-lang", path="/console/")
    client.set_cookie("erx-lang", "xx", path="/console/")
    assert '<html lang="vi">' in client.get("/console/login").get_data(as_text=True)


def test_numbers_follow_the_language() -> None:
    assert labels.number(2.5) == "2,5" and labels.number(2.5, "en") == "2.5"
    assert labels.number(1234) == "1.234" and labels.number(1234, "en") == "1,234"
    assert labels.number(20.0) == "20" and labels.number(2000, "en") == "2,000"


# --- every page in English ---------------------------------------------------------------------
def data_strings(database) -> list[str]:
    """Every Vietnamese string stored in the database (names, addresses, drugs, documents),
    longest first: what the pages show as data, not as their own words."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            if VIETNAMESE.search(value):
                found.add(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for name in database.list_collection_names():
        if not name.startswith("audit"):
            for document in database[name].find({}):
                walk(document)
    return sorted(found, key=len, reverse=True)


def vietnamese_left(html: str, data: list[str]) -> list[str]:
    """The Vietnamese a page still says once its data and the language switch are taken out."""
    html = re.sub(r'<a [^>]*lang="vi"[^>]*>[^<]*</a>', "", html)
    svgs = [base64.b64decode(found).decode("utf-8")
            for found in re.findall(r'data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)', html)]
    texts = [unescape(text) for text in re.findall(r">([^<]+)<", html)]
    texts += [unescape(text) for text in re.findall(r'(?:alt|aria-label|label|title|placeholder)'
                                                    r'="([^"]*)"', html)]
    for svg in svgs:
        texts += [unescape(text) for text in re.findall(r"<text[^>]*>([^<]+)</text>", svg)]
    left = []
    for text in texts:
        for value in data:
            text = text.replace(value, " ")
        # A chart's label cut short (…) is the start of a data value.
        if text.endswith("…") and any(value.startswith(text[:-1].strip()) for value in data):
            continue
        if VIETNAMESE.search(text):
            left.append(text.strip())
    return left


ASCII = {"ho_ten_benh_nhan": "Nguyen Van An", "dia_chi": "12 Le Loi, District 1",
         "chan_doan": [{"ma_chan_doan": "J06.9", "ten_chan_doan": "Acute URTI",
                        "ket_luan": "Pharyngitis"}],
         "loi_dan": "Come back if the fever is high"}


@pytest.fixture
def people(world: dict[str, Any], app: Flask, client: FlaskClient) -> dict[str, Browser]:
    """A pharmacist, a clinic's staff member and an inspector, each signed in, in English."""
    made = {}
    for key, party, role, username in (("pharmacy", "pharmacy_1", "pharmacy", "duoc.si"),
                                       ("clinic", "clinic_a", "clinic", "le.tan"),
                                       ("inspector", "regulator", "regulator", "thanh.tra")):
        credentials = world["parties"][party]
        user, password = services(app).users.create(party_id=credentials.client_id, role=role,
                                                    username=username)
        browser = Browser(app.test_client())
        browser.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-GB,en;q=0.9,vi;q=0.5"
        browser.login(Person(user.username, password, credentials.client_id))
        made[key] = browser
    return made


def test_every_page_of_every_role_speaks_english(
        people: dict[str, Browser], app: Flask, client: FlaskClient, world: dict, database,
        two: dict[str, Any]) -> None:
    h = world["h"]
    bodies = [prescription(**ASCII) for _ in range(3)]
    codes = []
    for body in bodies:
        answer = submit(client, h["doctor_a"], body)
        assert answer.status_code == 201, answer.get_json()
        codes.append(answer.get_json()["ma_don_thuoc"])
    dispense(client, h["pharmacy_1"], codes[0], [{"line": 0, "so_luong_ban": 5}])
    client.post(f"/v2/prescriptions/{codes[2]}/cancel", headers=h["doctor_a"],
                json={"ly_do": "Changed treatment"})
    person = {"ho_ten_benh_nhan": "Tran Thi Binh", "ma_dinh_danh_cong_dan": "079090005678"}
    accepted(client, two["h"]["doctor_1"], rx(two, "h", [DIAZEPAM], [(0, 9)], **person))
    accepted(client, two["h"]["doctor_2"], rx(two, "h", [SEDUXEN], [(9, 12)], **person))
    anonymous = Browser(app.test_client())
    anonymous.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    pharmacy, clinic, inspector = people["pharmacy"], people["clinic"], people["inspector"]
    code = codes[0]
    visits = [
        (anonymous, "GET", "/console/login", None),
        (anonymous, "POST", "/console/login", {"username": "", "password": ""}),
        (anonymous, "POST", "/console/login", {"username": "nobody", "password": "wrong"}),
        (anonymous, "GET", "/console/nowhere", None),
        (pharmacy, "GET", "/console/pharmacy/", None),
        (pharmacy, "POST", "/console/pharmacy/lookup", {"code": ""}),
        (pharmacy, "POST", "/console/pharmacy/lookup", {"code": "79001NOTHERE-c"}),
        (pharmacy, "POST", "/console/pharmacy/lookup", {"code": "not a code at all"}),
        (pharmacy, "GET", f"/console/pharmacy/rx/{code}", None),
        (pharmacy, "POST", f"/console/pharmacy/rx/{code}/dispense",
         {"qty-0": "many", "qty-1": "", "packs-1": "(01)123", "ma_hoa_don": "x" * 30}),
        (pharmacy, "POST", f"/console/pharmacy/rx/{code}/dispense",
         {"qty-0": "900", "qty-1": "2,5", "nonce": "n-1"}),
        (pharmacy, "POST", f"/console/pharmacy/rx/{code}/dispense",
         {"qty-0": "1", "qty-1": "", "ma_hoa_don": "HD-1", "nonce": "n-2"}),
        (pharmacy, "GET", f"/console/pharmacy/rx/{codes[2]}", None),
        (pharmacy, "GET", "/console/pharmacy/history", None),
        (pharmacy, "GET", "/console/password", None),
        (pharmacy, "POST", "/console/password", {"current_password": "wrong",
                                                 "new_password": "short",
                                                 "confirm_password": "other"}),
        (pharmacy, "GET", "/console/clinic/", None),
        (clinic, "GET", "/console/clinic/", None),
        (clinic, "POST", "/console/clinic/", {"status": "nonsense", "from": "32/13/2026",
                                              "to": "x", "patient": "12"}),
        (clinic, "POST", "/console/clinic/", {"status": "cancelled"}),
        (clinic, "GET", f"/console/clinic/rx/{code}", None),
        (clinic, "GET", f"/console/clinic/rx/{codes[2]}", None),
        (clinic, "POST", f"/console/clinic/rx/{codes[1]}/cancel", {"ly_do": ""}),
        (clinic, "POST", f"/console/clinic/rx/{codes[1]}/cancel", {"ly_do": "Wrong drug"}),
        (clinic, "GET", "/console/clinic/rx/79001NOTHERE-c", None),
        (inspector, "GET", "/console/inspector/", None),
        (inspector, "POST", "/console/inspector/", {"from": "01/01/2020", "to": "01/01/2026"}),
        (inspector, "POST", "/console/inspector/", {"from": "x", "to": "01/01/2026"}),
        (inspector, "POST", "/console/inspector/", {"from": "05/01/2026", "to": "01/01/2026"}),
        (inspector, "GET", "/console/inspector/audit", None),
        (inspector, "POST", "/console/inspector/audit", {"action": "nope", "patient": "?",
                                                         "from": "x", "actor": "a" * 200}),
        (inspector, "POST", "/console/inspector/audit", {"action": "prescription.*"}),
        (inspector, "POST", "/console/inspector/audit/export", {"format": "xml"}),
        (inspector, "GET", "/console/inspector/access-log", None),
        (inspector, "POST", "/console/inspector/access-log", {"cccd": "12"}),
        (inspector, "POST", "/console/inspector/access-log", {"cccd": "079090001234"}),
        (inspector, "GET", "/console/inspector/integrity", None),
        (inspector, "GET", "/console/inspector/overlaps", None),
        (inspector, "POST", "/console/inspector/overlaps", {"from": "x"}),
        (inspector, "GET", f"/console/inspector/rx/{code}", None),
        (inspector, "GET", "/console/pharmacy/", None),
    ]
    data = data_strings(database)
    seen_statuses = set()
    for browser, method, path, form in visits:
        answer = browser.get(path) if method == "GET" else browser.post(path, form)
        if answer.status_code == 303:
            answer = browser.get(answer.headers["Location"])
        html = answer.get_data(as_text=True)
        seen_statuses.add(answer.status_code)
        assert '<html lang="en">' in html, (path, answer.status_code)
        assert vietnamese_left(html, data) == [], (method, path, form)
    assert {200, 403, 404, 422} <= seen_statuses
    # The same walk in Vietnamese would fail: the check sees the pages' own words.
    vietnamese = Browser(app.test_client())
    assert vietnamese_left(vietnamese.get("/console/login").get_data(as_text=True), data)
    # The pages said what they are about, in English.
    rx_page = pharmacy.get(f"/console/pharmacy/rx/{code}").get_data(as_text=True)
    assert "Dispensable until" in rx_page and "Partly dispensed" in rx_page
    dashboard = inspector.get("/console/inspector/").get_data(as_text=True)
    assert "Prescriptions per day" in dashboard


def test_refusals_and_flashes_are_said_in_english(people: dict[str, Browser],
                                                  client: FlaskClient, world: dict) -> None:
    answer = submit(client, world["h"]["doctor_a"], prescription(**ASCII))
    code = answer.get_json()["ma_don_thuoc"]
    pharmacy = people["pharmacy"]
    pharmacy.get(f"/console/pharmacy/rx/{code}")
    over = pharmacy.post(f"/console/pharmacy/rx/{code}/dispense",
                         {"qty-0": "900", "qty-1": "x", "nonce": "n-9"})
    html = unescape(over.get_data(as_text=True))
    assert over.status_code == 422
    assert "Not recorded: 2 problems to fix" in html
    assert "more than was prescribed: 20 remain" in html
    assert "The quantity must be a number (e.g. 10 or 2.5)" in html
    done = pharmacy.post(f"/console/pharmacy/rx/{code}/dispense",
                         {"qty-0": "2", "qty-1": "", "nonce": "n-10"})
    page = unescape(pharmacy.get(done.headers["Location"]).get_data(as_text=True))
    assert re.search(r"Dispense \S+ recorded \(line 1: 2\)\.", page)
    assert f"{PARACETAMOL}" in page
