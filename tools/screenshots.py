"""``python -m tools.screenshots``: pictures of every console page, for the README.

Starts an embedded database in memory and a gateway on a loopback port, fills them with a
small believable world through the API (clinics and doctors prescribe, a pharmacy dispenses,
a controlled-drug overlap is caught, the audit log is sealed twice), then signs in as a
pharmacist, clinic staff and an inspector in headless Chromium at 1366x768 and writes
``docs/screenshots/NN-name.png``. A developer tool: nothing of it ships with the gateway.

Needs Chromium and chromedriver (tools/browser.py); ``--out DIR`` writes elsewhere.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from flask import Flask
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from drug_catalog.demo import demo_catalog_path
from gateway import create_app
from gateway.runtime.embedded import EmbeddedDatabase
from gateway.web.context import services
from tools.browser import Served, browser_missing, chromium

ROOT = Path(__file__).resolve().parents[1]
VIETNAM = timezone(timedelta(hours=7))
PARACETAMOL, AMOXICILLIN, LORATADINE = "MT100039", "MT100627", "MT100209"
MORPHINE_ORAL, MORPHINE_INJ, DIAZEPAM, SEDUXEN = "MT106069", "MT105985", "QLĐB-743-20", "MT106260"
DIAGNOSES = {"c": ("J06.9", "Nhiễm trùng hô hấp trên cấp"), "n": ("C50.9", "Ung thư vú"),
             "h": ("F41.1", "Rối loạn lo âu lan tỏa")}
PATIENTS = [("Nguyễn Văn An", "079090001234", "15/03/1990", 2),
            ("Trần Thị Bích Ngọc", "079185004321", "02/11/1985", 3),
            ("Lê Hoàng Minh", "001203009876", "21/07/2003", 2),
            ("Phạm Thu Hà", "079170005555", "09/01/1970", 3)]
WAIT = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _day(offset: int) -> str:
    return (datetime.now(VIETNAM).date() + timedelta(days=offset)).strftime("%d/%m/%Y")


def _body(app: Flask, kind: str, drugs: list[tuple[str, int]], patient: tuple[str, str, str, int],
          start: int = 0, end: int = 9) -> dict[str, Any]:
    catalog = services(app).catalog.catalog
    name, cccd, born, sex = patient
    code, diagnosis = DIAGNOSES[kind]
    prescribed = datetime.now(VIETNAM) - timedelta(minutes=5)
    return {
        "loai_don_thuoc": kind, "ho_ten_benh_nhan": name, "ma_dinh_danh_cong_dan": cccd,
        "ngay_sinh_benh_nhan": born, "can_nang": 58, "gioi_tinh": sex,
        "dia_chi": "12 Lê Lợi, Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh",
        "chan_doan": [{"ma_chan_doan": code, "ten_chan_doan": diagnosis, "ket_luan": diagnosis}],
        "hinh_thuc_dieu_tri": 1,
        "dot_dung_thuoc": [{"dot": 1, "tu_ngay": _day(start), "den_ngay": _day(end)}],
        "thong_tin_don_thuoc": [
            {"ma_thuoc": drug_code,
             "ten_thuoc": " + ".join(f"{item.name} {item.strength}".strip()
                                     for item in catalog.resolve(drug_code).active_ingredients),
             "don_vi_tinh": catalog.resolve(drug_code).unit or "Viên", "so_luong": quantity,
             "cach_dung": "Uống 1 viên x 2 lần/ngày, sau ăn"}
            for drug_code, quantity in drugs],
        "loi_dan": "Tái khám khi hết thuốc hoặc khi sốt cao",
        "ngay_gio_ke_don": prescribed.strftime("%Y-%m-%d %H:%M:%S"), "signature": ""}


class World:
    """The parties, their tokens and people, and the prescriptions of the pictures."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client = app.test_client()
        found = services(app)
        found.catalog.import_catalog(str(demo_catalog_path()), "ndjson")
        found.catalog.catalog.refresh()
        found.signatures.bootstrap()
        self.headers: dict[str, dict[str, str]] = {}
        self.people: dict[str, tuple[str, str]] = {}
        for key, role, code, name, facility in (
                ("clinic", "clinic", "79001", "Phòng khám Đa khoa Sài Gòn", None),
                ("doctor", "doctor", "BS0012", "BS. Võ Thị Mai", "79001"),
                ("clinic2", "clinic", "01002", "Bệnh viện Đa khoa Đống Đa", None),
                ("doctor2", "doctor", "BS0207", "BS. Đặng Quốc Huy", "01002"),
                ("pharmacy", "pharmacy", "NT0001", "Nhà thuốc Minh Châu", None),
                ("regulator", "regulator", "CQLD", "Cục Quản lý Dược", None)):
            contact = ({"address": "45 Nguyễn Trãi, Quận 5, TP. Hồ Chí Minh", "phone": "02838551234"}
                       if role in ("clinic", "pharmacy") else {})
            party, secret = found.parties.create(role=role, code=code, name=name,
                                                 facility=facility, **contact)
            token = self.client.post("/v2/auth/token", json={
                "grant_type": "client_credentials", "client_id": party.client_id,
                "client_secret": secret}).get_json()["access_token"]
            self.headers[key] = {"Authorization": f"Bearer {token}"}
            if key in ("clinic", "pharmacy", "regulator"):
                username = {"clinic": "le.tan", "pharmacy": "duoc.si.chau",
                            "regulator": "thanh.tra.hoa"}[key]
                _, password = found.users.create(party_id=party.client_id, role=role,
                                                 username=username)
                self.people[key] = (username, password)

    def submit(self, who: str, body: dict[str, Any]) -> str:
        answer = self.client.post("/v2/prescriptions", json=body, headers=self.headers[who])
        if answer.status_code != 201:
            raise RuntimeError(f"submit refused: {answer.get_json()}")
        return answer.get_json()["ma_don_thuoc"]

    def fill(self) -> dict[str, str]:
        made = {}
        made["plain"] = self.submit("doctor", _body(self.app, "c", [(PARACETAMOL, 20),
                                                                    (AMOXICILLIN, 14)],
                                                    PATIENTS[0]))
        for index, patient in enumerate(PATIENTS[1:] * 2):
            code = self.submit("doctor" if index % 2 else "doctor2",
                               _body(self.app, "c", [(PARACETAMOL, 10 + index)], patient))
            if index % 3 == 0:
                self.client.post(f"/v2/prescriptions/{code}/dispenses", headers=self.headers["pharmacy"],
                                 json={"ma_hoa_don": f"HD{index:04d}",
                                       "items": [{"line": 0, "so_luong_ban": 10}]})
        made["cancelled"] = self.submit("doctor", _body(self.app, "c", [(AMOXICILLIN, 21)],
                                                        PATIENTS[2]))
        self.client.post(f"/v2/prescriptions/{made['cancelled']}/cancel",
                         json={"ly_do": "Bác sĩ đổi phác đồ điều trị"}, headers=self.headers["doctor"])
        made["narcotic"] = self.submit("doctor", _body(self.app, "n", [(MORPHINE_ORAL, 20)],
                                                       PATIENTS[1], 0, 6))
        self.client.post("/v2/prescriptions", headers=self.headers["doctor2"],
                         json=_body(self.app, "n", [(MORPHINE_INJ, 10)], PATIENTS[1], 3, 9))
        self.submit("doctor", _body(self.app, "h", [(DIAZEPAM, 10)], PATIENTS[3], 0, 9))
        made["warned"] = self.submit("doctor2", _body(self.app, "h", [(SEDUXEN, 10)],
                                                      PATIENTS[3], 5, 12))
        self.client.post(f"/v2/prescriptions/{made['plain']}/dispenses",
                         headers=self.headers["pharmacy"],
                         json={"ma_hoa_don": "HD-2025-0001",
                               "items": [{"line": 0, "so_luong_ban": 10}]})
        found = services(self.app)
        found.sealer.seal()
        self.client.get(f"/v2/prescriptions/{made['warned']}", headers=self.headers["pharmacy"])
        found.sealer.seal()
        return made


class Camera:
    def __init__(self, driver: WebDriver, base: str, out: Path) -> None:
        self.driver, self.base, self.out = driver, base, out
        self.count = 0

    def wait(self, selector: str, text: str = "") -> None:
        locator = (By.CSS_SELECTOR, selector)
        WebDriverWait(self.driver, WAIT).until(
            ec.text_to_be_present_in_element(locator, text) if text
            else ec.presence_of_element_located(locator))

    def open(self, path: str, selector: str = "h1", text: str = "") -> None:
        self.driver.get(self.base + path)
        self.wait(selector, text)

    def shoot(self, name: str) -> Path:
        WebDriverWait(self.driver, WAIT).until(lambda d: d.execute_script(
            "return document.readyState === 'complete' && [...document.images]"
            ".every(i => i.complete && i.naturalWidth > 0)"))
        self.count += 1
        path = self.out / f"{self.count:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        return path

    def sign_in(self, username: str, password: str) -> None:
        self.driver.delete_all_cookies()
        self.open("/console/login", "input[name=username]")
        self.driver.find_element(By.NAME, "username").send_keys(username)
        self.driver.find_element(By.NAME, "password").send_keys(password, Keys.ENTER)
        self.wait(".who")


def take(camera: Camera, world: World, made: dict[str, str]) -> None:
    driver = camera.driver
    camera.open("/console/login", "input[name=username]")
    camera.shoot("login")
    camera.sign_in(*world.people["pharmacy"])
    camera.driver.find_element(By.NAME, "code").send_keys(made["plain"])
    camera.shoot("pharmacy-lookup")
    camera.open(f"/console/pharmacy/rx/{made['warned']}", "h1", made["warned"])
    camera.shoot("pharmacy-prescription-warnings")
    camera.open(f"/console/pharmacy/rx/{made['plain']}", "h1", made["plain"])
    driver.find_element(By.NAME, "qty-1").send_keys("20")
    driver.find_element(By.NAME, "packs-1").send_keys("(01)08930000000019(21)SN-01")
    driver.find_element(By.NAME, "ma_hoa_don").send_keys("HD-2025-0002")
    driver.find_element(By.CSS_SELECTOR, ".sell button[type=submit]").click()
    camera.wait("#err-packs-1")
    driver.execute_script("document.getElementById('sell-title').scrollIntoView()")
    camera.shoot("pharmacy-dispense-errors")
    camera.open("/console/pharmacy/history", "h1")
    camera.shoot("pharmacy-history")
    camera.sign_in(*world.people["clinic"])
    camera.open("/console/clinic/", "h1")
    camera.shoot("clinic-prescriptions")
    camera.open(f"/console/clinic/rx/{made['plain']}", "h1", made["plain"])
    driver.execute_script("document.getElementById('deliveries-title').scrollIntoView()")
    camera.shoot("clinic-prescription-deliveries-cancel")
    camera.sign_in(*world.people["regulator"])
    camera.open("/console/inspector/", "figure.chart")
    camera.shoot("inspector-dashboard")
    driver.execute_script("document.getElementById('chart-controlled').scrollIntoView()")
    camera.shoot("inspector-dashboard-controlled")
    camera.open("/console/inspector/audit", "table.events")
    camera.shoot("inspector-audit")
    camera.open("/console/inspector/access-log", "input[name=cccd]")
    driver.find_element(By.NAME, "cccd").send_keys(PATIENTS[3][1], Keys.ENTER)
    camera.wait("h2", "Nhật ký truy cập")
    camera.shoot("inspector-access-log")
    camera.open("/console/inspector/integrity", "#integrity-verdict")
    camera.shoot("inspector-integrity")
    camera.open("/console/inspector/overlaps", "h1")
    camera.shoot("inspector-overlaps")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    missing = browser_missing()
    if missing:
        print(missing, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.ERROR)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="erx-screens-") as work:
        database = EmbeddedDatabase(storage_path=":memory:", port=_free_port(),
                                    log_path=str(Path(work) / "db.log"))
        database.start()
        try:
            app = create_app({
                "ENV": "development", "MONGODB_URI": database.uri, "DB_NAME": "screens",
                "VAR_DIR": str(Path(work) / "var"), "LOG_LEVEL": "error",
                "TOKEN_SECRET": "screenshots-token-secret-0123456789abcdef",
                "SECRET_HASH_TIME_COST": 1, "SECRET_HASH_MEMORY_KIB": 1024})
            world = World(app)
            made = world.fill()
            served = Served()
            served.app = app
            try:
                with chromium(1366, 768) as driver:
                    take(Camera(driver, served.url, args.out), world, made)
            finally:
                served.close()
                services(app).close()
        finally:
            database.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["main"]
