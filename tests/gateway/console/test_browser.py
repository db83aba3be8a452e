"""The console in a real browser: Debian's Chromium driven by selenium against the gateway
served over a socket, on the test database. One browser for the whole module; every wait is on
a page condition, never a sleep.

Without Chromium these tests fail, naming what to install (tools/browser.py);
``ERX_SKIP_BROWSER=1`` skips them (reported as skipped, never as passed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
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


def wait_until(driver: WebDriver, condition: Callable[[WebDriver], Any], what: str) -> Any:
    """Wait until ``condition(driver)`` is truthy and return it. Every check of browser state is
    a wait: under load the page an action leads to (or the layout, the focus) arrives later
    than the action's return; a state that never comes still fails, by timeout, saying what."""
    return WebDriverWait(driver, WAIT).until(condition, f"never true: {what}")


def wait_exact(driver: WebDriver, by: str, locator: str, text: str) -> None:
    """Wait until the element's text is exactly ``text``."""
    wait_until(driver, lambda d: d.find_element(by, locator).text == text,
               f"the text of {locator} is {text!r}")


def wait_attribute(driver: WebDriver, by: str, locator: str, name: str, value: str) -> None:
    """Wait until the element's attribute (or property) ``name`` is exactly ``value``."""
    wait_until(driver, lambda d: d.find_element(by, locator).get_attribute(name) == value,
               f"{locator}[{name}] is {value!r}")


def wait_present(driver: WebDriver, by: str, locator: str) -> WebElement:
    return WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((by, locator)))


def submit_and_wait(driver: WebDriver, element: WebElement, *keys: str) -> None:
    """Type ``keys`` (ending in Enter) into ``element`` and wait until the page it was on is
    replaced: for a form that posts back to its own address, where the old page would satisfy
    any wait on the new one."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.send_keys(*keys)
    WebDriverWait(driver, WAIT).until(ec.staleness_of(page), "the form was never submitted")


def sign_in(driver: WebDriver, base: str, username: str, password: str) -> None:
    """Sign in from the keyboard only: type, Tab, type, Enter."""
    driver.get(base + "/console/")
    # The browser runs autofocus when it next renders the page, not when the element appears:
    # wait for the focus itself (a form without autofocus still times out here).
    WebDriverWait(driver, WAIT).until(
        lambda d: d.switch_to.active_element.get_attribute("name") == "username")
    driver.switch_to.active_element.send_keys(username, Keys.TAB)
    wait_until(driver, lambda d: d.switch_to.active_element.get_attribute("name") == "password",
               "Tab moves the focus to the password")
    driver.switch_to.active_element.send_keys(password, Keys.ENTER)
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".who")))


def no_sideways_scroll(driver: WebDriver) -> bool:
    return driver.execute_script(
        "return document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def wait_no_sideways_scroll(driver: WebDriver) -> None:
    """The page settles with no sideways scroll (its layout may still be in progress)."""
    wait_until(driver, no_sideways_scroll, "the page has no sideways scroll")


def test_login_and_logout(live: str, driver: WebDriver, app: Flask, world: dict) -> None:
    username, password = person(app, world, "pharmacy_1", "duoc.si")
    driver.get(live + "/console/login")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys("sai mật khẩu", Keys.ENTER)
    wait_text(driver, ".alert", "Sai tên đăng nhập hoặc mật khẩu")
    sign_in(driver, live, username, password)
    wait_text(driver, "h1", "Tra cứu đơn thuốc")
    wait_text(driver, ".who", "duoc.si")
    wait_until(driver, lambda d: (cookie := d.get_cookie("erx-console")) is not None
               and cookie["httpOnly"] is True and cookie["sameSite"] == "Lax",
               "the session cookie is HttpOnly and SameSite=Lax")
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
    wait_text(driver, ".alert", "không có gì được thay đổi")
    driver.get(live + "/console/pharmacy/")
    wait_text(driver, "h1", "Đăng nhập")  # no session was opened


def test_a_pharmacist_looks_up_and_dispenses(live: str, driver: WebDriver, app: Flask,
                                             client: FlaskClient, world: dict,
                                             database) -> None:
    code = issued(client, world)
    username, password = person(app, world, "pharmacy_1", "duoc.si")
    sign_in(driver, live, username, password)
    field = wait_present(driver, By.NAME, "code")
    field.send_keys(code, Keys.ENTER)  # a scanner types the code and Enter
    wait_text(driver, "h1", code)
    wait_exact(driver, By.ID, "rx-patient", "Nguyễn Văn An")
    wait_exact(driver, By.ID, "remaining-1", "14")
    wait_no_sideways_scroll(driver)
    driver.find_element(By.NAME, "qty-0").send_keys("5")
    driver.find_element(By.NAME, "qty-1").send_keys("15")
    driver.find_element(By.NAME, "ma_hoa_don").send_keys("HD-0001", Keys.ENTER)
    wait_text(driver, "#err-qty-1", "Vượt số lượng kê đơn: còn lại 14")
    wait_attribute(driver, By.NAME, "qty-1", "aria-invalid", "true")
    assert database["prescriptions"].find_one({"_id": code})["dispenses"] == []
    quantity = driver.find_element(By.NAME, "qty-1")
    quantity.clear()
    quantity.send_keys("4")
    driver.find_element(By.CSS_SELECTOR, ".sell button[type=submit]").click()
    wait_text(driver, ".flash-success", "Đã ghi nhận lần bán")
    wait_exact(driver, By.ID, "remaining-0", "15")
    wait_exact(driver, By.ID, "remaining-1", "10")
    wait_exact(driver, By.ID, "rx-status", "Đã bán một phần")
    stored = database["prescriptions"].find_one({"_id": code})
    assert [line["dispensed"] for line in stored["lines"]] == [5, 4]
    # The printed QR text looks the same prescription up.
    qr_text = services(app).qr.issue(code, stored["content_sha256"])
    driver.find_element(By.LINK_TEXT, "← Tra cứu đơn khác").click()
    wait_present(driver, By.NAME, "code").send_keys(qr_text, Keys.ENTER)
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
    reason = wait_present(driver, By.NAME, "ly_do")
    driver.find_element(By.CSS_SELECTOR, "button.danger").click()  # no reason yet
    # The browser keeps the form (the reason is required) and nothing is sent.
    assert driver.execute_script("return arguments[0].validity.valueMissing", reason) is True
    assert driver.find_element(By.NAME, "ly_do") == reason
    assert database["prescriptions"].find_one({"_id": code})["status"] == "issued"
    reason.send_keys("Bệnh nhân dị ứng amoxicilin")
    driver.find_element(By.CSS_SELECTOR, "button.danger").click()
    wait_text(driver, "#rx-status", "Đã hủy")
    wait_text(driver, ".rx", "Bệnh nhân dị ứng amoxicilin")
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
    wait_exact(driver, By.ID, "total-prescriptions", "1")
    summary = driver.find_element(By.CSS_SELECTOR, "#chart-per-type summary")
    summary.send_keys(Keys.ENTER)  # the numbers open from the keyboard
    WebDriverWait(driver, WAIT).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#chart-per-type table").is_displayed())
    wait_text(driver, "#chart-per-type table", "Thuốc thường (c)")
    wait_no_sideways_scroll(driver)
    viewport(driver, 768, 1024)  # a tablet
    driver.refresh()
    wait_text(driver, "h1", "Tổng quan")
    wait_no_sideways_scroll(driver)
    driver.find_element(By.LINK_TEXT, "Nhật ký kiểm toán").click()
    wait_text(driver, "h1", "Nhật ký kiểm toán")
    # The search posts back to the page's own address, whose unfiltered list shows logins too.
    submit_and_wait(driver, wait_present(driver, By.NAME, "user"), username, Keys.ENTER)
    wait_attribute(driver, By.NAME, "user", "value", username)
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
            wait_attribute(english, By.TAG_NAME, "html", "lang", "en")
            wait_exact(english, By.TAG_NAME, "h1", "The facility's prescriptions")
            wait_attribute(english, By.ID, "f-from", "type", "text")
            wait_attribute(english, By.ID, "f-from", "placeholder", "dd/mm/yyyy")
            # The filter posts back to the list's own address: wait for the page it answers,
            # not for the value typed into the old one.
            submit_and_wait(english, english.find_element(By.ID, "f-from"), "01/01/2020",
                            Keys.ENTER)
            wait_attribute(english, By.ID, "f-from", "value", "01/01/2020")
            wait_until(english, lambda d: code in d.page_source,  # issued after 1 January 2020
                       f"{code} is listed")
            english.delete_all_cookies()
            username, password = person(app, world, "pharmacy_1", "duoc.si")
            sign_in(english, served.url, username, password)
            english.get(f"{served.url}/console/pharmacy/rx/{code}")
            wait_present(english, By.ID, "f-qty-0").send_keys("mười")
            english.find_element(By.ID, "f-qty-1").send_keys("15", Keys.ENTER)
            summary = WebDriverWait(english, WAIT).until(ec.presence_of_element_located(
                (By.CSS_SELECTOR, ".error-summary[role=alert]")))
            wait_until(english, lambda d: 0 <= d.execute_script(
                "return arguments[0].getBoundingClientRect().top", summary) < 768,
                "the error summary is seen without scrolling")
            wait_until(english, lambda d: [
                a.get_attribute("href").rsplit("#", 1)[1]
                for a in summary.find_elements(By.TAG_NAME, "a")] == ["f-qty-0", "f-qty-1"],
                "the error summary links to both quantities, in order")
            wait_attribute(english, By.ID, "f-qty-0", "value", "mười")
    finally:
        served.app = None
