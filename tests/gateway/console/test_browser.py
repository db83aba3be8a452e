"""The console in a real browser: Debian's Chromium driven by selenium against the gateway
served over a socket, on the test database. One browser for the whole module; every wait is on
a page condition, never a sleep.

Without Chromium these tests fail, naming what to install (tools/browser.py);
``ERX_SKIP_BROWSER=1`` skips them (reported as skipped, never as passed).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait as _WebDriverWait

from gateway.web.context import services
from tests.support.audit import audit_log
from tests.support.prescriptions import issued
from tools.browser import Served, browser_missing, chromium, skip_requested, viewport

WAIT = 30


def WebDriverWait(driver: WebDriver, timeout: float) -> _WebDriverWait:
    """A wait that keeps polling while the page is being replaced: under load Chromium may
    answer "Node with given id does not belong to the document" for an element of the page
    that a submit is replacing. A condition that never holds still ends in TimeoutException."""
    return _WebDriverWait(driver, timeout, ignored_exceptions=(WebDriverException,))


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    if skip_requested():
        pytest.skip("ERX_SKIP_BROWSER=1: the console's browser tests were asked not to run")
    missing = browser_missing()
    if missing:
        pytest.fail(missing, pytrace=False)
    with chromium(1366, 768) as browser:
        yield browser


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    server = Served()
    yield server
    server.close()


@pytest.fixture
def live(app: Flask, served: Served, driver: WebDriver) -> Iterator[str]:
    """The test's app at a real address, and a browser with no cookies from earlier tests."""
    served.app = app
    viewport(driver, 1366, 768)
    driver.get(served.url + "/console/login")
    driver.delete_all_cookies()
    yield served.url
    served.app = None


def person(app: Flask, world: dict[str, Any], party: str, username: str) -> tuple[str, str]:
    credentials = world["parties"][party]
    user, password = services(app).users.create(party_id=credentials.client_id,
                                                role=credentials.role, username=username)
    return user.username, password


def wait_text(driver: WebDriver, selector: str, text: str) -> None:
    WebDriverWait(driver, WAIT).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, selector), text))


def sign_in(driver: WebDriver, base: str, username: str, password: str) -> None:
    """Sign in from the keyboard only: type, Tab, type, Enter."""
    driver.get(base + "/console/")
    # The browser runs autofocus when it next renders the page, not when the element appears:
    # wait for the focus itself (a form without autofocus still times out here).
    WebDriverWait(driver, WAIT).until(
        lambda d: d.switch_to.active_element.get_attribute("name") == "username")
    driver.switch_to.active_element.send_keys(username, Keys.TAB)
    assert driver.switch_to.active_element.get_attribute("name") == "password"
    driver.switch_to.active_element.send_keys(password, Keys.ENTER)
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".who")))


def no_sideways_scroll(driver: WebDriver) -> bool:
    return driver.execute_script(
        "return document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_login_and_logout(live: str, driver: WebDriver, app: Flask, world: dict) -> None:
    username, password = person(app, world, "pharmacy_1", "duoc.si")
    driver.get(live + "/console/login")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys("sai mật khẩu", Keys.ENTER)
    wait_text(driver, ".alert", "Sai tên đăng nhập hoặc mật khẩu")
    sign_in(driver, live, username, password)
    wait_text(driver, "h1", "Tra cứu đơn thuốc")
    assert "duoc.si" in driver.find_element(By.CSS_SELECTOR, ".who").text
    cookie = driver.get_cookie("erx-console")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    logout = driver.find_element(By.CSS_SELECTOR, ".who button")
    logout.send_keys(Keys.ENTER)
    wait_text(driver, ".flash", "Bạn đã đăng xuất")
    driver.get(live + "/console/pharmacy/")
    wait_text(driver, "h1", "Đăng nhập")


def test_a_form_without_its_csrf_token_is_refused(live: str, driver: WebDriver, app: Flask,
                                                  world: dict) -> None:
    username, password = person(app, world, "pharmacy_1", "duoc.si")
    driver.get(live + "/console/login")
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.NAME, "username")))
    driver.execute_script("document.querySelector('input[name=csrf_token]').remove()")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password, Keys.ENTER)
    wait_text(driver, "h1", "Biểu mẫu không hợp lệ")
    assert "không có gì được thay đổi" in driver.find_element(By.CSS_SELECTOR, ".alert").text
    driver.get(live + "/console/pharmacy/")
    wait_text(driver, "h1", "Đăng nhập")  # no session was opened


def test_a_pharmacist_looks_up_and_dispenses(live: str, driver: WebDriver, app: Flask,
                                             client: FlaskClient, world: dict,
                                             database) -> None:
    code = issued(client, world)
    username, password = person(app, world, "pharmacy_1", "duoc.si")
    sign_in(driver, live, username, password)
    field = driver.find_element(By.NAME, "code")
    field.send_keys(code, Keys.ENTER)  # a scanner types the code and Enter
    wait_text(driver, "h1", code)
    assert driver.find_element(By.ID, "rx-patient").text == "Nguyễn Văn An"
    assert driver.find_element(By.ID, "remaining-1").text == "14"
    assert no_sideways_scroll(driver)
    driver.find_element(By.NAME, "qty-0").send_keys("5")
    driver.find_element(By.NAME, "qty-1").send_keys("15")
    driver.find_element(By.NAME, "ma_hoa_don").send_keys("HD-0001", Keys.ENTER)
    wait_text(driver, "#err-qty-1", "Vượt số lượng kê đơn: còn lại 14")
    assert driver.find_element(By.NAME, "qty-1").get_attribute("aria-invalid") == "true"
    assert database["prescriptions"].find_one({"_id": code})["dispenses"] == []
    quantity = driver.find_element(By.NAME, "qty-1")
    quantity.clear()
    quantity.send_keys("4")
    driver.find_element(By.CSS_SELECTOR, ".sell button[type=submit]").click()
    wait_text(driver, ".flash-success", "Đã ghi nhận lần bán")
    assert driver.find_element(By.ID, "remaining-0").text == "15"
    assert driver.find_element(By.ID, "remaining-1").text == "10"
    assert driver.find_element(By.ID, "rx-status").text == "Đã bán một phần"
    stored = database["prescriptions"].find_one({"_id": code})
    assert [line["dispensed"] for line in stored["lines"]] == [5, 4]
    # The printed QR text looks the same prescription up.
    qr_text = services(app).qr.issue(code, stored["content_sha256"])
    driver.find_element(By.LINK_TEXT, "← Tra cứu đơn khác").click()
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.NAME, "code")))
    driver.find_element(By.NAME, "code").send_keys(qr_text, Keys.ENTER)
    wait_text(driver, "h1", code)
    event = audit_log(database).find_one({"action": "prescription.viewed",
                                               "details.via": "qr"})
    assert event["actor"]["user"] == "duoc.si"


def test_clinic_staff_cancel_with_a_reason(live: str, driver: WebDriver, app: Flask,
                                           client: FlaskClient, world: dict, database) -> None:
    code = issued(client, world)
    username, password = person(app, world, "clinic_a", "le.tan")
    sign_in(driver, live, username, password)
    wait_text(driver, "h1", "Đơn thuốc của cơ sở")
    driver.find_element(By.LINK_TEXT, code).click()
    wait_text(driver, "h1", code)
    reason = driver.find_element(By.NAME, "ly_do")
    driver.find_element(By.CSS_SELECTOR, "button.danger").click()  # no reason yet
    # The browser keeps the form (the reason is required) and nothing is sent.
    assert driver.execute_script("return arguments[0].validity.valueMissing", reason) is True
    assert driver.find_element(By.NAME, "ly_do") == reason
    assert database["prescriptions"].find_one({"_id": code})["status"] == "issued"
    reason.send_keys("Bệnh nhân dị ứng amoxicilin")
    driver.find_element(By.CSS_SELECTOR, "button.danger").click()
    wait_text(driver, "#rx-status", "Đã hủy")
    assert "Bệnh nhân dị ứng amoxicilin" in driver.find_element(By.CSS_SELECTOR, ".rx").text
    assert database["prescriptions"].find_one({"_id": code})["status"] == "cancelled"
    event = audit_log(database).find_one({"action": "prescription.cancelled"})
    assert event["actor"]["user"] == "le.tan"


def test_the_inspector_dashboard(live: str, driver: WebDriver, app: Flask,
                                 client: FlaskClient, world: dict) -> None:
    issued(client, world)
    username, password = person(app, world, "regulator", "thanh.tra")
    sign_in(driver, live, username, password)
    wait_text(driver, "h1", "Tổng quan")
    WebDriverWait(driver, WAIT).until(lambda d: d.execute_script(
        "const images = [...document.querySelectorAll('figure.chart img')];"
        "return images.length === 6 && images.every(i => i.complete && i.naturalWidth > 0)"))
    assert driver.find_element(By.ID, "total-prescriptions").text == "1"
    summary = driver.find_element(By.CSS_SELECTOR, "#chart-per-type summary")
    summary.send_keys(Keys.ENTER)  # the numbers open from the keyboard
    WebDriverWait(driver, WAIT).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#chart-per-type table").is_displayed())
    assert "Thuốc thường (c)" in driver.find_element(By.CSS_SELECTOR, "#chart-per-type table").text
    assert no_sideways_scroll(driver)
    viewport(driver, 768, 1024)  # a tablet
    driver.refresh()
    wait_text(driver, "h1", "Tổng quan")
    assert no_sideways_scroll(driver)
    driver.find_element(By.LINK_TEXT, "Nhật ký kiểm toán").click()
    wait_text(driver, "h1", "Nhật ký kiểm toán")
    driver.find_element(By.NAME, "user").send_keys(username, Keys.ENTER)
    wait_text(driver, "table.events", "Đăng nhập")


def test_an_english_browser_still_writes_dates_day_first_and_sees_refusals_at_the_top(
        served: Served, app: Flask, client: FlaskClient, world: dict) -> None:
    """With the browser in English (a type=date field would show mm/dd/yyyy), dates are typed
    and shown dd/mm/yyyy; a refused dispense opens on its error summary, which links to the
    field."""
    if skip_requested():
        pytest.skip("ERX_SKIP_BROWSER=1: the console's browser tests were asked not to run")
    missing = browser_missing()
    if missing:
        pytest.fail(missing, pytrace=False)
    code = issued(client, world)
    served.app = app
    try:
        with chromium(1366, 768, language="en-US") as english:
            username, password = person(app, world, "clinic_a", "le.tan")
            sign_in(english, served.url, username, password)
            english.get(served.url + "/console/clinic/")
            # The browser prefers English: the console answers in English.
            assert english.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
            assert english.find_element(By.TAG_NAME, "h1").text == "The facility's prescriptions"
            day = english.find_element(By.ID, "f-from")
            assert day.get_attribute("type") == "text"
            assert day.get_attribute("placeholder") == "dd/mm/yyyy"
            day.send_keys("01/01/2020", Keys.ENTER)
            WebDriverWait(english, WAIT).until(
                lambda d: d.find_element(By.ID, "f-from").get_attribute("value") == "01/01/2020")
            assert code in english.page_source  # issued after 1 January 2020: listed
            english.delete_all_cookies()
            username, password = person(app, world, "pharmacy_1", "duoc.si")
            sign_in(english, served.url, username, password)
            english.get(f"{served.url}/console/pharmacy/rx/{code}")
            english.find_element(By.ID, "f-qty-0").send_keys("mười")
            english.find_element(By.ID, "f-qty-1").send_keys("15", Keys.ENTER)
            summary = WebDriverWait(english, WAIT).until(ec.presence_of_element_located(
                (By.CSS_SELECTOR, ".error-summary[role=alert]")))
            top = english.execute_script("return arguments[0].getBoundingClientRect().top",
                                         summary)
            assert 0 <= top < 768  # seen without scrolling
            links = [a.get_attribute("href") for a in summary.find_elements(By.TAG_NAME, "a")]
            assert [link.rsplit("#", 1)[1] for link in links] == ["f-qty-0", "f-qty-1"]
            assert english.find_element(By.ID, "f-qty-0").get_attribute("value") == "mười"
    finally:
        served.app = None
