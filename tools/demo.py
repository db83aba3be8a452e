"""``make demo``: a clinic submits, a pharmacy looks up and dispenses half then the rest with
scanned packs, an over-dispense is refused, another prescription is cancelled, the clinic
sees where its prescription was forwarded, and the same is done through the FHIR face (a
transaction Bundle in, MedicationRequests read back, a MedicationDispense).

Against the running ``make run`` of this checkout (the address its run file,
``$ERX_VAR_DIR/run/gateway.json``, publishes; ``ERX_DEMO_URL`` names another), if it answers,
or else a gateway of its own started with ``erx-gateway run`` in a temporary directory, whose
forwarder then delivers to the strict national-registry simulator (gateway/forwarding/simulator.py)
on loopback. Parties are made with the command line, exactly as an operator would, each run
its own with fresh codes: the demo never changes a party it did not create. Every step
prints its request and the gateway's answer.

A developer tool run from a source checkout: the installed gateway knows nothing of it or of
the registry double.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests

from gateway.core import config as settings
from gateway.fhir.examples import transaction
from gateway.fhir.systems import Systems
from gateway.forwarding.simulator import RegistrySimulator as RegistryDouble
from gateway.runtime import supervisor
from schemas import examples

BIN = Path(sys.executable).parent
VIETNAM = timezone(timedelta(hours=7))
#: letters and digits a person cannot mistake for one another (no 0/O, 1/I/L, 2/Z, 5/S, 8/B)
DEMO_CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _show(step: str, method: str, path: str, body: Any, response: requests.Response) -> Any:
    print(f"\n=== {step}\n{method} {path}")
    if body is not None:
        print(_shorten(body))
    try:
        answer = response.json()
    except ValueError:
        answer = response.text
    print(f"--> {response.status_code}\n{_shorten(answer)}")
    return answer


def _shorten(value: Any, limit: int = 1800) -> str:
    text = json.dumps(value, ensure_ascii=False, indent=1)
    return text if len(text) <= limit else text[:limit] + "\n ... (cut)"


class Demo:
    def __init__(self, base: str, env: dict[str, str], registry: Any = None) -> None:
        self.base = base
        self.env = env
        self.registry = registry
        self.http = requests.Session()

    def cli(self, *args: str) -> dict[str, Any]:
        done = subprocess.run([str(BIN / "erx-gateway"), *args], env=self.env,
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise SystemExit(f"erx-gateway {' '.join(args)} failed: {done.stderr.strip()}")
        return json.loads(done.stdout)

    def party(self, role: str, code: str, name: str, facility: str | None = None) -> dict:
        """Create a party of the demo's own (never touches an existing one: its code is new)."""
        args = ["parties", "create", "--role", role, "--code", code, "--name", name]
        if facility:
            args += ["--facility", facility]
        if role in ("clinic", "pharmacy"):  # their reports and lookups carry these
            args += ["--address", f"{name}, 1 Lê Lợi, Quận 1, TP. Hồ Chí Minh",
                     "--phone", "0283" + f"{sum(map(ord, code)) % 10**7:07d}"]
        return self.cli(*args)

    def own_parties(self) -> tuple[str, list[dict[str, Any]]]:
        """A clinic, its doctor and two pharmacies made for this run, with codes no one else
        uses (a run against someone's ``make run`` must not rotate the secrets, or overwrite
        the contact details, of the parties they made with README's codes)."""
        run = "".join(secrets.choice(DEMO_CODE_ALPHABET) for _ in range(4))
        facility = f"D{run}"
        self.party("clinic", facility, f"Phòng khám Đa khoa Demo {run}")
        return facility, [self.party("doctor", f"BS-DEMO-{run}", "BS. Trần Thị Bình", facility),
                          self.party("pharmacy", f"NT-DEMO-{run}-1", f"Nhà thuốc Demo {run} số 1"),
                          self.party("pharmacy", f"NT-DEMO-{run}-2", f"Nhà thuốc Demo {run} số 2")]

    def token(self, credentials: dict[str, str]) -> dict[str, str]:
        answer = self.http.post(f"{self.base}/v2/auth/token", timeout=30, json={
            "grant_type": "client_credentials", **credentials}).json()
        return {"Authorization": f"Bearer {answer['access_token']}"}

    def call(self, step: str, method: str, path: str, headers: dict[str, str],
             body: Any = None, **extra_headers: str) -> tuple[int, Any]:
        response = self.http.request(method, f"{self.base}{path}", json=body, timeout=60,
                                     headers={**headers, **extra_headers})
        return response.status_code, _show(step, method, path, body, response)

    def pick_drug(self, headers: dict[str, str], query: str) -> dict[str, Any]:
        found = self.http.get(f"{self.base}/v2/drugs", params={"q": query, "limit": 50},
                              headers=headers, timeout=30).json()
        for drug in found.get("items", found if isinstance(found, list) else []):
            if (drug["status"] == "active" and drug["control_class"] == "none"
                    and drug["kind"] == "chemical" and drug["gtins"]):
                return drug
        raise SystemExit(f"the catalog has no active, uncontrolled product for {query!r}")

    def prescription(self, facility: str, drugs: list[dict[str, Any]]) -> dict[str, Any]:
        """The basic example prescription (schemas/examples.py) with ``drugs`` from the
        catalog as its lines, prescribed now."""
        now = datetime.now(VIETNAM)
        body = examples.basic_prescription(now)
        body["thong_tin_don_thuoc"] = [
            {"ma_thuoc": drug["national_code"], "biet_duoc": drug["name"],
             "ten_thuoc": drug["active_ingredients"][0]["name"] + " "
             + drug["active_ingredients"][0]["strength"],
             "don_vi_tinh": drug["unit"], "so_luong": 20,
             "cach_dung": "Uống 1 đơn vị x 2 lần/ngày, sau ăn"} for drug in drugs]
        body["ngay_gio_ke_don"] = now.strftime("%Y-%m-%d %H:%M:%S")
        return body

    def run(self) -> None:
        facility, (doctor, first, second) = self.own_parties()
        doctor_h, first_h, second_h = (self.token(c) for c in (doctor, first, second))

        drugs = [self.pick_drug(doctor_h, "paracetamol"), self.pick_drug(doctor_h, "amoxicilin")]
        status, issued = self.call("1. The doctor submits a prescription", "POST",
                                   "/v2/prescriptions", doctor_h,
                                   self.prescription(facility, drugs),
                                   **{"Idempotency-Key": secrets.token_hex(8)})
        if status != 201:
            raise SystemExit("the submission was refused; see above")
        code = issued["ma_don_thuoc"]
        self.call("2. A pharmacy looks it up by its code", "GET", f"/v2/prescriptions/{code}",
                  first_h)

        expiry = (date.today() + timedelta(days=400)).strftime("%y%m%d")

        def packs(drug: dict[str, Any], count: int) -> list[str]:
            return [f"(01){drug['gtins'][0]}(17){expiry}(10)LOT{secrets.randbelow(900) + 100}"
                    f"(21)SN{secrets.token_hex(5).upper()}" for _ in range(count)]

        half = {"ma_hoa_don": "HD0001", "items": [
            {"line": 0, "ma_thuoc": drugs[0]["national_code"], "so_luong_ban": 10,
             "packs": packs(drugs[0], 1)},
            {"line": 1, "ma_thuoc": drugs[1]["national_code"], "so_luong_ban": 10,
             "packs": packs(drugs[1], 1)}]}
        self.call("3. The pharmacy dispenses half, scanning one pack per line", "POST",
                  f"/v2/prescriptions/{code}/dispenses", first_h, half)
        rest = {"ma_hoa_don": "HD0002", "items": [
            {"line": 0, "so_luong_ban": 10, "packs": packs(drugs[0], 1)},
            {"line": 1, "so_luong_ban": 10, "packs": packs(drugs[1], 1)}]}
        self.call("4. Another pharmacy dispenses the rest", "POST",
                  f"/v2/prescriptions/{code}/dispenses", second_h, rest)
        self.call("5. One more unit is refused (nothing remains)", "POST",
                  f"/v2/prescriptions/{code}/dispenses", first_h,
                  {"ma_hoa_don": "HD0003", "items": [{"line": 0, "so_luong_ban": 1}]})

        status, other = self.call("6. The doctor submits a second prescription", "POST",
                                  "/v2/prescriptions", doctor_h,
                                  self.prescription(facility, drugs[:1]))
        other_code = other["ma_don_thuoc"]
        self.call("7. The doctor cancels it", "POST", f"/v2/prescriptions/{other_code}/cancel",
                  doctor_h, {"ly_do": "Kê nhầm thuốc, bệnh nhân dị ứng"})
        self.call("8. Dispensing a cancelled prescription is refused", "POST",
                  f"/v2/prescriptions/{other_code}/dispenses", first_h,
                  {"ma_hoa_don": "HD0004", "items": [{"line": 0, "so_luong_ban": 5}]})
        if self.registry is not None:
            self._wait_delivered(doctor_h, [code, other_code])
        self.call("9. The doctor sees where the prescription was forwarded", "GET",
                  f"/v2/prescriptions/{code}/deliveries", doctor_h)
        if self.registry is not None:
            print(f"\nReceived by the national-registry simulator: prescriptions "
                  f"{len(self.registry.prescriptions)}, dispense reports "
                  f"{len(self.registry.dispenses)}, cancellations "
                  f"{len(self.registry.cancellations)}.")
        self.fhir(facility, drugs, doctor_h, first_h)
        print("\nDemo finished.")

    def fhir(self, facility: str, drugs: list[dict[str, Any]], doctor_h: dict[str, str],
             pharmacy_h: dict[str, str]) -> None:
        """The same through the FHIR face (docs/fhir.md): a transaction Bundle in, the
        MedicationRequests read back, one line dispensed as a MedicationDispense."""
        systems = Systems(settings.load().fhir_system_base.rstrip("/"))
        bundle = transaction(self.prescription(facility, drugs), systems)
        fhir_json = {"Content-Type": "application/fhir+json"}
        status, reply = self.call("10. The doctor submits a prescription through FHIR "
                                  "(a transaction Bundle)", "POST", "/fhir/R4", doctor_h,
                                  bundle, **fhir_json)
        if status != 200:
            raise SystemExit("the FHIR submission was refused; see above")
        code = reply["entry"][-1]["response"]["location"].split("/")[1].rsplit(".", 1)[0]
        self.call("11. It reads back as Vietnam Core MedicationRequests", "GET",
                  f"/fhir/R4/MedicationRequest?group-identifier={code}"
                  "&_include=MedicationRequest:subject", doctor_h)
        self.call("12. A pharmacy dispenses line 1 as a MedicationDispense", "POST",
                  "/fhir/R4/MedicationDispense", pharmacy_h,
                  {"resourceType": "MedicationDispense", "status": "completed",
                   "subject": {"reference": f"Patient/{code}"},
                   "authorizingPrescription": [{"reference": f"MedicationRequest/{code}.1"}],
                   "quantity": {"value": 20, "unit": drugs[0]["unit"]},
                   "identifier": [{"system": systems.invoice, "value": "HD0005"}]},
                  **fhir_json, **{"Idempotency-Key": secrets.token_hex(8)})

    def _wait_delivered(self, headers: dict[str, str], codes: list[str]) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = [d["state"] for code in codes for d in self.http.get(
                f"{self.base}/v2/prescriptions/{code}/deliveries", headers=headers,
                timeout=30).json()["deliveries"]]
            if states and all(state == "delivered" for state in states):
                return
            time.sleep(0.5)


def _answers(base: str) -> bool:
    try:
        return requests.get(f"{base}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def target() -> tuple[str | None, str]:
    """The gateway to talk to and how it was found: ``ERX_DEMO_URL``, else the one the run
    file of this checkout's ``make run`` publishes (never a fixed port: on a shared host that
    may be someone else's instance); ``None`` when neither names one."""
    named = os.environ.get("ERX_DEMO_URL")
    if named:
        return named.rstrip("/"), "ERX_DEMO_URL"
    values = settings.load()
    running = supervisor.running_gateway(values)
    if running.get("url"):
        return running["url"], f"the make run of {values.var_dir} (pid {running['pid']})"
    return None, f"no make run of {values.var_dir} is running"


def main() -> int:
    base, found = target()
    env = dict(os.environ)
    env.setdefault("ERX_ENV", "development")
    if base is not None and _answers(base):
        print(f"erx-gateway demo against {base}: {found}")
        Demo(base, env).run()
        return 0
    registry = RegistryDouble(facility_code="79001", password="demo-registry-password").start()
    with tempfile.TemporaryDirectory(prefix="erx-demo-") as var:
        port = _free_port()
        env.update({"ERX_VAR_DIR": var, "ERX_HTTP_PORT": str(port), "ERX_WORKERS": "1",
                    "ERX_EMBEDDED_DB_PORT": str(_free_port()),
                    "ERX_REGISTRY_BASE_URL": registry.url,
                    "ERX_REGISTRY_FACILITY_CODE": "79001",
                    "ERX_REGISTRY_PASSWORD": "demo-registry-password"})
        env.pop("ERX_MONGODB_URI", None)
        new_base = f"http://127.0.0.1:{port}"
        print(f"{'no gateway answers at ' + base if base else found}; starting one in {var} "
              f"on {new_base}")
        server = subprocess.Popen([str(BIN / "erx-gateway"), "run"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while not _answers(new_base):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the demo gateway did not start")
                time.sleep(0.5)
            print(f"erx-gateway demo against {new_base}: its own gateway")
            Demo(new_base, env, registry).run()
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(60)
            registry.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
