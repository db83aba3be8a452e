"""Fault class (durability): the embedded database is SIGKILLed right after a write was
acknowledged.

Probe finding: submit, dispense and cancel answered 2xx, then a SIGKILL of the embedded
database at once; after the restart 59 of 60 acknowledged writes were gone (the server kept
its journal in memory and wrote it out later). Here ``erx-gateway run`` runs as in production
on one machine, and every acknowledged write is followed at once by a SIGKILL of the real
database process; the supervisor restarts it, and every write acknowledged so far must be
there, read through the API. README "Reliability" quotes the counts this test prints.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pymongo
import pytest
import requests

from gateway.runtime.embedded import EmbeddedDatabase
from schemas import examples
from tests.support.environment import free_port
from tests.support.run import BIN, database_pid, wait_ready

#: Prescriptions taken through submit, dispense and cancel: one kill after each, 51 in all.
ROUNDS = int(os.environ.get("ERX_KILL_ROUNDS", "17"))
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def wait_for_restart(log_path: Path, restarts: int, timeout: float = 90.0) -> None:
    """Wait until the supervisor says the database is back for the ``restarts``-th time (a
    database killed while the supervisor still waits for it to answer counts as a failed
    restart, which stops everything)."""
    deadline = time.monotonic() + timeout
    while log_path.read_bytes().count(b"the embedded database is back") < restarts:
        assert time.monotonic() < deadline, "the supervisor did not start the database again"
        time.sleep(0.05)


def create_party(env: dict[str, str], role: str, code: str) -> dict[str, str]:
    created = subprocess.run(
        [str(BIN / "erx-gateway"), "parties", "create", "--role", role, "--code", code,
         "--name", f"Fault test {code}", "--address", "1 Lê Lợi, Quận 1, TP. Hồ Chí Minh",
         "--phone", "02838221234"], env=env, capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    return json.loads(created.stdout)


class Gateway:
    """The API of one running ``erx-gateway run``, with the parties of this test."""

    def __init__(self, base: str, env: dict[str, str]) -> None:
        self.base = base
        self.env = env
        self.headers: dict[str, dict[str, str]] = {}

    def login(self, role: str, credentials: dict[str, str]) -> None:
        answer = requests.post(f"{self.base}/v2/auth/token", timeout=30,
                               json={"grant_type": "client_credentials", **credentials})
        assert answer.status_code == 200, answer.text
        self.headers[role] = {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def post(self, role: str, path: str, body: dict[str, Any], expected: int) -> dict[str, Any]:
        headers = {**self.headers[role], "Idempotency-Key": uuid.uuid4().hex}
        answer = requests.post(f"{self.base}{path}", json=body, headers=headers, timeout=60)
        assert answer.status_code == expected, answer.text[:500]
        return answer.json()

    def get(self, code: str) -> requests.Response:
        return requests.get(f"{self.base}/v2/prescriptions/{code}",
                            headers=self.headers["clinic"], timeout=60)


def missing(gateway: Gateway, acknowledged: dict[str, dict[str, Any]]) -> list[str]:
    """Every acknowledged write not found through the API: ``acknowledged`` maps a
    prescription code to what was acknowledged of it (``dispenses``: ids, ``cancelled``)."""
    lost = []
    for code, expected in acknowledged.items():
        answer = gateway.get(code)
        if answer.status_code == 404:
            lost.append(f"{code}: submitted, now 404")
            continue
        assert answer.status_code == 200, answer.text[:300]
        found = answer.json()
        dispenses = {dispense["id"] for dispense in found.get("dispenses", [])}
        lost += [f"{code}: dispense {d} gone" for d in expected["dispenses"] - dispenses]
        if expected["cancelled"] and found["status"] != "cancelled":
            lost.append(f"{code}: cancelled, now {found['status']}")
    return lost


def test_the_embedded_server_journals_even_a_write_that_does_not_ask(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--sync-on-commit``: a ``w: 1, j: false`` write (pymongo's key vault writes with its own
    write concern; an operator's tool may too) is on disk when answered. SecantusDB's test
    switch in the environment does not turn the journal's sync off."""
    monkeypatch.setenv("SECANTUS_TEST_FAST_STORAGE", "1")
    database = EmbeddedDatabase(storage_path=str(tmp_path / "db"), port=free_port())
    acknowledged = []
    try:
        for round_ in range(8):
            database.start()
            client: pymongo.MongoClient = pymongo.MongoClient(
                database.uri, w=1, journal=False, serverSelectionTimeoutMS=500)  # closed after the kill
            try:
                found = {doc["_id"] for doc in client.erx.unjournaled.find({}, {"_id": 1})}
                assert found == set(acknowledged), f"round {round_}: lost {set(acknowledged) - found}"
                client.erx.unjournaled.insert_one({"_id": round_})
                acknowledged.append(round_)
                database.kill()  # at once: the insert has just been answered
            finally:
                client.close()
    finally:
        database.stop()


@pytest.mark.slow
@pytest.mark.timeout(420)  # 51 restarts of the database: about 100 s on an idle machine
def test_every_acknowledged_write_survives_a_sigkill_of_the_database(
        run_env: dict[str, str], tmp_path: Path) -> None:
    env = {**run_env, "ERX_EMBEDDED_DB_MAX_RESTARTS": "1000",
           "ERX_EMBEDDED_DB_RESTART_WINDOW_SECONDS": "60"}
    port = env["ERX_EMBEDDED_DB_PORT"]
    base = f"http://127.0.0.1:{env['ERX_HTTP_PORT']}"
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([str(BIN / "erx-gateway"), "run"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    acknowledged: dict[str, dict[str, Any]] = {}
    writes = kills = found = 0
    try:
        wait_ready(process, base)
        gateway = Gateway(base, env)
        gateway.login("clinic", create_party(env, "clinic", "79001"))
        gateway.login("pharmacy", create_party(env, "pharmacy", "NT0001"))
        pid = database_pid(port)

        def kill_and_check(what: str) -> None:
            nonlocal pid, kills, found
            os.kill(pid, signal.SIGKILL)  # at once: the 2xx has just been read
            kills += 1
            wait_for_restart(log_path, kills)
            wait_ready(process, base)
            pid = database_pid(port)
            lost = missing(gateway, acknowledged)
            found = writes - len(lost)
            assert not lost, f"after kill {kills} (following {what}): {lost}"

        for round_ in range(ROUNDS):
            now = datetime.now(VIETNAM)
            issued = gateway.post("clinic", "/v2/prescriptions",
                                  examples.basic_prescription(now), 201)
            code = issued["ma_don_thuoc"]
            acknowledged[code] = {"dispenses": set(), "cancelled": False}
            writes += 1
            kill_and_check(f"submit of {code}")
            dispense = gateway.post("pharmacy", f"/v2/prescriptions/{code}/dispenses", {
                "ma_hoa_don": f"HD{round_:04d}",
                "items": [{"line": 0, "so_luong_ban": 10}]}, 201)
            acknowledged[code]["dispenses"].add(dispense["dispense"]["id"])
            writes += 1
            kill_and_check(f"dispense of {code}")
            gateway.post("clinic", f"/v2/prescriptions/{code}/cancel", examples.cancel(), 200)
            acknowledged[code]["cancelled"] = True
            writes += 1
            kill_and_check(f"cancel of {code}")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)
        print(f"\ndatabase SIGKILL: {kills} kills, acknowledged {writes} writes, "
              f"found {found} after the last restart")
    assert process.returncode == 0, log_path.read_text()[-3000:]
    assert kills >= 50 or ROUNDS < 17


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def gunicorn_worker(supervisor: int) -> int:
    """The pid of the one gunicorn worker under ``erx-gateway run`` (ERX_WORKERS=1)."""
    for child in children(supervisor):
        with contextlib.suppress(OSError):
            if b"gunicorn" in Path(f"/proc/{child}/cmdline").read_bytes():
                workers = children(child)
                if len(workers) == 1:
                    return workers[0]
    raise AssertionError("no single gunicorn worker")


def submit_until_answered(gateway: Gateway, body: dict[str, Any], key: str) -> str:
    """Send the submit with ``key`` until it is answered 201 (a retry of a killed attempt may
    meet 409 while the dead one's lease runs, or 503 while the worker restarts)."""
    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline, f"{key} never answered"
        try:
            answer = requests.post(f"{gateway.base}/v2/prescriptions", json=body, timeout=30,
                                   headers={**gateway.headers["clinic"], "Idempotency-Key": key})
        except requests.ConnectionError:
            time.sleep(0.1)
            continue
        if answer.status_code == 201:
            return answer.json()["ma_don_thuoc"]
        assert answer.status_code in (409, 503), answer.text[:300]
        time.sleep(0.2)


@pytest.mark.slow
def test_a_worker_killed_mid_submit_loses_and_duplicates_nothing(
        run_env: dict[str, str], tmp_path: Path) -> None:
    """SIGKILL of the gunicorn worker at moments spread over a submit's time (before, during,
    after its writes); the client retries with the same Idempotency-Key, as README tells it
    to. Each key names exactly one stored prescription."""
    env = {**run_env, "ERX_IDEMPOTENCY_LEASE_SECONDS": "1"}
    base = f"http://127.0.0.1:{env['ERX_HTTP_PORT']}"
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([str(BIN / "erx-gateway"), "run"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    codes: dict[str, str] = {}
    cut_short = 0
    rounds = 20
    try:
        wait_ready(process, base)
        gateway = Gateway(base, env)
        gateway.login("clinic", create_party(env, "clinic", "79001"))
        started = time.monotonic()
        codes["warm-up"] = submit_until_answered(
            gateway, examples.basic_prescription(datetime.now(VIETNAM)), "warm-up")
        took = time.monotonic() - started
        for round_ in range(rounds):
            key = f"worker-kill-{round_}"
            body = examples.basic_prescription(datetime.now(VIETNAM))
            first: dict[str, Any] = {}

            def send(body: dict[str, Any] = body, key: str = key,
                     first: dict[str, Any] = first) -> None:
                try:
                    first["answer"] = requests.post(
                        f"{base}/v2/prescriptions", json=body, timeout=30,
                        headers={**gateway.headers["clinic"], "Idempotency-Key": key})
                except requests.ConnectionError as exc:
                    first["error"] = exc

            worker = gunicorn_worker(process.pid)
            sender = threading.Thread(target=send)
            sender.start()
            time.sleep(took * 1.5 * round_ / rounds)  # the moment of the kill, spread
            os.kill(worker, signal.SIGKILL)
            sender.join(60)
            cut_short += "error" in first or first["answer"].status_code >= 500
            wait_ready(process, base)
            codes[key] = submit_until_answered(gateway, body, key)
            if "answer" in first and first["answer"].status_code == 201:
                assert first["answer"].json()["ma_don_thuoc"] == codes[key]
        client: pymongo.MongoClient = pymongo.MongoClient(
            f"mongodb://127.0.0.1:{env['ERX_EMBEDDED_DB_PORT']}/?directConnection=true")
        try:
            stored = sorted(doc["_id"] for doc in client.erx.prescriptions.find({}, {"_id": 1}))
        finally:
            client.close()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)
    print(f"\ngunicorn worker SIGKILL: {rounds} kills, {cut_short} cut a submit short; "
          f"acknowledged {len(codes)}, found {len(set(stored) & set(codes.values()))}, "
          f"stored {len(stored)} (duplicates {len(stored) - len(set(codes.values()))})")
    assert len(set(codes.values())) == len(codes)  # one prescription per key
    assert stored == sorted(codes.values())  # none lost, none twice
    assert cut_short, "no kill landed while a submit was under way"
