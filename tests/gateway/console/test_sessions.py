"""Signing in to the console: the login form, the session cookie, idle and absolute timeouts,
logout, CSRF, the login limit, password changes, roles, and the pages' security headers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway import create_app
from gateway.web.context import services
from tests.support.audit import audit_log
from tests.support.console import Browser, Person
from tests.support.production import production

LOGIN = "/console/login"


@pytest.fixture
def pharmacist(make_person) -> Person:
    return make_person("pharmacy", "NT0001", "duoc.si")


def test_the_login_form_names_and_labels_its_fields(browser: Browser) -> None:
    html = browser.get(LOGIN).get_data(as_text=True)
    for name in ("username", "password"):
        field = re.search(rf'<input id="(f-{name})" name="{name}"', html)
        assert field, name
        assert f'<label for="{field.group(1)}">' in html
    assert 'name="csrf_token"' in html and '<html lang="vi">' in html
    assert "Đăng nhập" in html and "Mật khẩu" in html and "Tên đăng nhập" in html


def test_login_opens_a_session_in_an_httponly_samesite_cookie(
        client: FlaskClient, browser: Browser, pharmacist: Person, database) -> None:
    response = browser.login(pharmacist)
    assert response.headers["Location"] == "/console/pharmacy/"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("erx-console=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # development serves http on loopback
    page = browser.get("/console/pharmacy/")
    assert page.status_code == 200 and "duoc.si" in page.get_data(as_text=True)
    stored = database["console_sessions"].find_one()
    assert stored["username"] == "duoc.si" and stored["party_id"] == "pharmacy-NT0001"
    # Only a digest of the session id is stored.
    cookie_value = client.get_cookie("erx-console").value
    assert stored["_id"] not in cookie_value
    event = audit_log(database).find_one({"action": "auth.login"},
                                              sort=[("_id", -1)])
    assert event["actor"] == {"party_id": "pharmacy-NT0001", "role": "pharmacy",
                              "user": "duoc.si"}
    assert event["object"] == {"type": "user", "id": "duoc.si"}
    assert event["details"] == {"method": "console"} and event["outcome"] == "success"


def test_outside_development_the_cookie_is_secure_and_host_only(app_config: dict) -> None:
    app = create_app(production(app_config))
    try:
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["SESSION_COOKIE_NAME"] == "__Host-erx-console"
        assert app.config["SESSION_COOKIE_HTTPONLY"] is True
        assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    finally:
        services(app).close()


def test_a_wrong_password_opens_nothing_and_is_audited(browser: Browser, pharmacist: Person,
                                                       database) -> None:
    browser.get(LOGIN)
    response = browser.post(LOGIN, {"username": "duoc.si", "password": "wrong"})
    assert response.status_code == 200
    assert "Sai tên đăng nhập hoặc mật khẩu" in response.get_data(as_text=True)
    assert browser.get("/console/pharmacy/").status_code == 303
    assert database["console_sessions"].count_documents({}) == 0
    event = audit_log(database).find_one({"action": "auth.login", "outcome": "failure"})
    assert event["object"] == {"type": "user", "id": "duoc.si"}
    assert event["actor"]["role"] == "anonymous" and "wrong" not in str(event)
    empty = browser.post(LOGIN, {"username": "", "password": ""})
    assert empty.status_code == 422
    assert "Nhập tên đăng nhập" in empty.get_data(as_text=True)


def test_logins_are_rate_limited_like_the_api(make_app, make_party) -> None:
    app = make_app(LOGIN_FAILURE_LIMIT="3/minute")
    party, _ = services(app).parties.create(role="pharmacy", code="NT0009", name="Nhà thuốc 9")
    _, password = services(app).users.create(party_id=party.client_id, role="pharmacy",
                                             username="chin.nt")
    browser = Browser(app.test_client())
    browser.get(LOGIN)
    for _ in range(3):
        assert browser.post(LOGIN, {"username": "chin.nt", "password": "x"}).status_code == 200
    limited = browser.post(LOGIN, {"username": "chin.nt", "password": password})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert "quá nhiều lần" in limited.get_data(as_text=True)


def test_a_post_without_the_csrf_token_changes_nothing(
        client: FlaskClient, browser: Browser, pharmacist: Person, database) -> None:
    refused = client.post(LOGIN, data={"username": pharmacist.username,
                                       "password": pharmacist.password})
    assert refused.status_code == 400
    assert "CSRF" in refused.get_data(as_text=True)
    assert database["console_sessions"].count_documents({}) == 0
    browser.login(pharmacist)
    forged = browser.post("/console/logout", token=False)
    assert forged.status_code == 400
    assert browser.get("/console/pharmacy/").status_code == 200  # still signed in
    wrong = client.post("/console/logout", data={"csrf_token": "not-the-token"})
    assert wrong.status_code == 400
    # The JSON API stays exempt.
    assert client.post("/v2/auth/token", json={"grant_type": "client_credentials",
                                                "client_id": "x", "client_secret": "y"}
                       ).status_code == 401


def test_idle_and_absolute_timeouts_end_the_session(app: Flask, browser_factory,
                                                    pharmacist: Person, database) -> None:
    login = services(app).console_login
    now = [datetime(2030, 1, 1, 8, 0, tzinfo=UTC)]
    login.clock = lambda: now[0]
    idle = timedelta(seconds=services(app).settings.console_session_idle_seconds)
    absolute = timedelta(seconds=services(app).settings.console_session_absolute_seconds)

    quiet = browser_factory()
    quiet.login(pharmacist)
    now[0] += idle - timedelta(seconds=1)
    assert quiet.get("/console/pharmacy/").status_code == 200  # a request resets the idle clock
    now[0] += idle + timedelta(seconds=1)
    expired = quiet.get("/console/pharmacy/")
    assert expired.status_code == 303 and expired.headers["Location"].startswith(LOGIN)

    busy = browser_factory()
    busy.login(pharmacist)
    started = now[0]
    while now[0] - started < absolute - idle:
        now[0] += idle - timedelta(seconds=1)
        assert busy.get("/console/pharmacy/").status_code == 200
    now[0] = started + absolute + timedelta(seconds=1)
    assert busy.get("/console/pharmacy/").status_code == 303
    assert database["console_sessions"].count_documents({}) == 0


def test_logout_ends_the_session_even_for_a_copied_cookie(
        app: Flask, client: FlaskClient, browser: Browser, pharmacist: Person, database) -> None:
    browser.login(pharmacist)
    copied = client.get_cookie("erx-console").value
    response = browser.post("/console/logout")
    assert response.status_code == 303 and response.headers["Location"] == LOGIN
    thief = app.test_client()
    thief.set_cookie("erx-console", copied)
    assert thief.get("/console/pharmacy/").status_code == 303
    assert audit_log(database).find_one({"action": "auth.logout"})["actor"]["user"] == \
        "duoc.si"


def test_password_change_checks_every_field_and_ends_other_sessions(
        browser_factory, pharmacist: Person, database) -> None:
    other = browser_factory()
    other.login(pharmacist)
    browser = browser_factory()
    browser.login(pharmacist)
    browser.get("/console/password")
    bad = browser.post("/console/password", {"current_password": "nope", "new_password": "short",
                                             "confirm_password": "other"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    for message in ("Mật khẩu hiện tại không đúng", "Mật khẩu mới cần ít nhất 12 ký tự",
                    "Hai lần nhập mật khẩu mới không khớp"):
        assert message in html
    assert 'aria-invalid="true"' in html
    new = "một câu dài dễ nhớ 2030"
    ok = browser.post("/console/password", {"current_password": pharmacist.password,
                                            "new_password": new, "confirm_password": new})
    assert ok.status_code == 303
    assert browser.get("/console/pharmacy/").status_code == 200
    assert other.get("/console/pharmacy/").status_code == 303
    browser_factory().login(Person(pharmacist.username, new, pharmacist.party_id))
    event = audit_log(database).find_one({"action": "user.password_changed"})
    assert event["actor"]["user"] == "duoc.si" and event["details"] == {"by": "console"}
    assert new not in str(event)


def test_people_reach_only_their_role_s_pages(browser_factory, make_person) -> None:
    people = {"pharmacy": make_person("pharmacy", "NT0001", "duoc.si"),
              "clinic": make_person("clinic", "79001", "le.tan"),
              "doctor": make_person("doctor", "BS001", "bac.si", facility="79001"),
              "regulator": make_person("regulator", "BYT", "thanh.tra")}
    pages = {"pharmacy": "/console/pharmacy/", "clinic": "/console/clinic/",
             "regulator": "/console/inspector/"}
    homes = {"pharmacy": "pharmacy", "clinic": "clinic", "doctor": "clinic",
             "regulator": "inspector"}
    for role, person in people.items():
        browser = browser_factory()
        landing = browser.login(person).headers["Location"]
        assert landing == f"/console/{homes[role]}/"
        for owner, path in pages.items():
            expected = 200 if homes[role] == homes[owner] else 403
            assert browser.get(path).status_code == expected, (role, path)


def test_unsigned_visitors_go_to_login_and_come_back_only_to_console_pages(
        browser: Browser, pharmacist: Person) -> None:
    response = browser.get("/console/pharmacy/history")
    assert response.status_code == 303
    assert response.headers["Location"] == f"{LOGIN}?next=/console/pharmacy/history"
    browser.get(response.headers["Location"])
    back = browser.post(LOGIN, {"username": pharmacist.username, "password": pharmacist.password,
                                "next": "/console/pharmacy/history"})
    assert back.headers["Location"] == "/console/pharmacy/history"
    browser.get(back.headers["Location"])
    assert browser.post("/console/logout").status_code == 303
    browser.get(LOGIN)
    elsewhere = browser.post(LOGIN, {"username": pharmacist.username,
                                     "password": pharmacist.password,
                                     "next": "https://evil.example/console/"})
    assert elsewhere.status_code == 303, elsewhere.get_data(as_text=True)
    assert elsewhere.headers["Location"] == "/console/pharmacy/"


def test_pages_forbid_scripts_framing_and_caching(browser: Browser, pharmacist: Person) -> None:
    browser.login(pharmacist)
    for path in (LOGIN, "/console/pharmacy/", "/console/no-such-page"):
        response = browser.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        assert "frame-ancestors 'none'" in policy
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "<script" not in response.get_data(as_text=True)
    missing = browser.get("/console/no-such-page")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    with browser.client.get("/console/static/console.css") as css:
        assert css.status_code == 200 and css.mimetype == "text/css"


def labelled_inputs(html: str) -> list[tuple[str, Any]]:
    """Every visible input, select and textarea, and whether a label names it."""
    found = []
    for match in re.finditer(r"<(input|select|textarea)\b([^>]*)>", html):
        attributes = match.group(2)
        if 'type="hidden"' in attributes:
            continue
        ident = re.search(r'id="([^"]+)"', attributes)
        found.append((attributes, ident and f'for="{ident.group(1)}"' in html))
    return found


def test_every_input_of_the_forms_has_a_label(browser: Browser, make_person) -> None:
    browser.get(LOGIN)
    browser.login(make_person("regulator", "BYT", "thanh.tra"))
    for path in (LOGIN, "/console/password", "/console/inspector/", "/console/inspector/audit",
                 "/console/inspector/access-log", "/console/inspector/overlaps"):
        inputs = labelled_inputs(browser.get(path).get_data(as_text=True))
        assert inputs or path == LOGIN
        assert all(labelled for _, labelled in inputs), (path, inputs)
