"""Submits, lookups and dispenses per second through HTTP, against the embedded database, and
the same machine's bare-insert baseline.

Method: an embedded SecantusDB on disk in a temporary directory; the gateway under gunicorn
(``--workers 2 --threads 4``, the `make run` defaults) with the demo catalog; load from a
separate process (bench/loadgen.py, keep-alive connections). Then, on the same database, a
bare Flask endpoint under the same gunicorn settings that only inserts the raw JSON body: the
ratio says what validation, signing, storage with its outbox, and the audit event cost.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pymongo
import requests

from bench import loadgen
from bench.loadgen import Request, Result
from gateway.runtime.embedded import EmbeddedDatabase

PEOPLE = 5000
CONCURRENCY = 8
SECONDS = 12
OPEN_RATE = 50
VIETNAM = timezone(timedelta(hours=7))
LINES = ["MT100039", "MT100627", "VD-35685-23", "MT103374", "MT103986"]  # demo catalog


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _prescription(person: int = 1234) -> dict[str, Any]:
    """A 5-line basic prescription for the person numbered ``person`` (their CCCD): the
    cross-facility check reads that person's earlier prescriptions, so a load of one person's
    prescriptions measures something else than a load spread over many people."""
    now = datetime.now(VIETNAM)
    return {
        "loai_don_thuoc": "c", "ho_ten_benh_nhan": "Nguyễn Thị Hồng Nhung",
        "ma_dinh_danh_cong_dan": f"079190{person:06d}", "ngay_sinh_benh_nhan": "15/04/1990",
        "can_nang": 52.5, "gioi_tinh": 3, "ma_so_the_bao_hiem_y_te": "DN4797912345678",
        "dia_chi": "12 Nguyễn Trãi, Phường Bến Thành, TP. Hồ Chí Minh",
        "chan_doan": [{"ma_chan_doan": "J02.9", "ten_chan_doan": "Viêm họng cấp",
                       "ket_luan": "Viêm họng cấp, sốt 38.5 độ"}],
        "hinh_thuc_dieu_tri": 1,
        "dot_dung_thuoc": [{"dot": 1, "tu_ngay": now.strftime("%d/%m/%Y"),
                            "den_ngay": (now + timedelta(days=6)).strftime("%d/%m/%Y")}],
        "thong_tin_don_thuoc": [
            {"ma_thuoc": code, "ten_thuoc": "Thuốc", "don_vi_tinh": "Viên", "so_luong": 20,
             "cach_dung": "Uống 1 viên x 2 lần/ngày sau ăn"} for code in LINES],
        "loi_dan": "Uống nhiều nước", "ngay_tai_kham": 7,
        "ngay_gio_ke_don": (now - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S"),
    }


def _serve(target: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "4", "--bind",
         f"127.0.0.1:{port}", target], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
            return process
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"{target} did not start")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(30)


def _row(name: str, result: Result, note: str = "") -> str:
    errors = {status: count for status, count in result.statuses.items()
              if not 200 <= status < 300}
    return (f"| {name} | {result.throughput:.0f}/s | {result.percentile(50):.1f} ms | "
            f"{result.percentile(99):.1f} ms | {result.ok} | {errors or '-'} | {note} |")


def run_bench() -> str:
    with tempfile.TemporaryDirectory(prefix="erx-bench-") as tmp:
        database = EmbeddedDatabase(storage_path=str(Path(tmp) / "db"), port=_free_port(),
                                    log_path=str(Path(tmp) / "db.log"))
        database.start()
        env = {**os.environ, "ERX_MONGODB_URI": database.uri, "ERX_DB_NAME": "bench",
               "ERX_ENV": "development", "ERX_VAR_DIR": str(Path(tmp) / "var"),
               "ERX_TOKEN_SECRET": "bench-token-secret-0123456789-0123456789",
               "ERX_LOG_LEVEL": "warning", "ERX_CATALOG_DEMO": "no"}
        try:
            return _measure(env, database)
        finally:
            database.stop()


def _measure(env: dict[str, str], database: EmbeddedDatabase) -> str:
    os.environ.update({k: v for k, v in env.items() if k.startswith("ERX_")})
    from drug_catalog.demo import demo_catalog_path
    from gateway import create_app
    from gateway.core.context import services

    app = create_app()
    with app.app_context():
        services().catalog.import_catalog(str(demo_catalog_path()), "ndjson")
        services().signatures.signer()  # development: generates the key once, before the load
        store = services().parties
        credentials = {}
        for role, code, facility in (("doctor", "BS001", "79001"), ("pharmacy", "NT0001", None),
                                     ("clinic", "79001", None)):
            party, secret = store.create(role=role, code=code, name=code, facility=facility)
            credentials[role] = (party.client_id, secret)
    services(app).close()

    port = _free_port()
    server = _serve("gateway:create_app()", port, env)
    base = f"http://127.0.0.1:{port}"
    try:
        tokens = {}
        for role, (client_id, secret) in credentials.items():
            answer = requests.post(f"{base}/v2/auth/token", timeout=30, json={
                "grant_type": "client_credentials", "client_id": client_id,
                "client_secret": secret}).json()
            tokens[role] = {"Authorization": f"Bearer {answer['access_token']}",
                            "Content-Type": "application/json"}
        body = json.dumps(_prescription()).encode()
        check = requests.post(f"{base}/v2/prescriptions", data=body, headers=tokens["doctor"])
        assert check.status_code == 201, check.text
        # Spread over PEOPLE people (each submit picks one), as a clinic's day is.
        bodies = [json.dumps(_prescription(person)).encode() for person in range(PEOPLE)]
        submit = Request("POST", ["/v2/prescriptions"], None, tokens["doctor"], bodies=bodies)
        submits = loadgen.run("closed", "127.0.0.1", port, submit, CONCURRENCY, SECONDS)
        paced = loadgen.run("open", "127.0.0.1", port, submit, OPEN_RATE, SECONDS)
        # Every submit for the SAME person: the cross-facility check then reads all that
        # person's earlier prescriptions, a cost that grows with them.
        one_person = Request("POST", ["/v2/prescriptions"], body, tokens["doctor"])
        same_person = loadgen.run("closed", "127.0.0.1", port, one_person, CONCURRENCY, SECONDS)
        client: pymongo.MongoClient = pymongo.MongoClient(database.uri)
        codes = [doc["_id"] for doc in client["bench"]["prescriptions"].find({}, {"_id": 1})]
        total = client["bench"]["prescriptions"].count_documents({})
        client.close()
        lookup = Request("GET", [f"/v2/prescriptions/{code}" for code in codes], None,
                         tokens["pharmacy"])
        lookups = loadgen.run("closed", "127.0.0.1", port, lookup, CONCURRENCY, SECONDS)
        dispense = Request("POST", [f"/v2/prescriptions/{code}/dispenses" for code in codes],
                           json.dumps({"items": [{"line": 0, "so_luong_ban": 1}]}).encode(),
                           tokens["pharmacy"])
        dispenses = loadgen.run("closed", "127.0.0.1", port, dispense, CONCURRENCY, SECONDS)
    finally:
        _stop(server)

    bare_port = _free_port()
    bare_server = _serve("bench.bare_app:create_app()", bare_port, env)
    try:
        bare = loadgen.run("closed", "127.0.0.1", bare_port,
                   Request("POST", ["/insert"], body, {"Content-Type": "application/json"}),
                   CONCURRENCY, SECONDS)
    finally:
        _stop(bare_server)

    ratio = submits.throughput / bare.throughput if bare.throughput else float("nan")
    return "\n".join([
        "### Lifecycle over HTTP (issue 6)",
        "",
        f"gunicorn `--workers 2 --threads 4`, embedded SecantusDB on disk, load from a second "
        f"process: closed loop with {CONCURRENCY} keep-alive connections for {SECONDS} s each; "
        f"the paced row sends {OPEN_RATE} submits/s (latency from the scheduled send time). "
        f"5-line prescriptions; {total} stored by the end.",
        "",
        "| load | throughput | p50 | p99 | answered 2xx | other answers | note |",
        "|---|---|---|---|---|---|---|",
        _row("bare insert of the raw JSON (baseline)", bare),
        _row("submit (validate, sign, store + outbox, audit)", submits,
             f"{ratio:.2f} of the bare-insert throughput"),
        _row(f"submit at {OPEN_RATE}/s", paced),
        _row("submit, every one for the same person", same_person,
             "the cross-facility check reads all of that person's overlapping prescriptions"),
        _row("pharmacy lookup by code", lookups),
        _row("dispense 1 unit (random prescription)", dispenses),
        "",
        f"Submits are spread over {PEOPLE} people, each picked at random. "
        "Database commands per request, counted with pymongo's command monitoring: submit 5 "
        "(find parties: a disabled party stops at once; the cross-facility check's one indexed "
        "find of the person's prescriptions; insert prescriptions; findAndModify "
        "audit_counters and insert audit_events: the gap-free audit sequence), lookup 4 (5 on a "
        "pharmacy's first view: update prescriptions.viewed_by_pharmacies), dispense 6 (find "
        "parties, find and conditional update of the prescription, a read-back, the audit "
        "event); the bare insert is 1. The embedded server is a Python process on the same 2 "
        "cores, so every command costs CPU the gateway also needs; the submit/bare ratio is "
        "bounded by about 1/4 of commands plus validation and signing, and would differ "
        "against mongod (not available on this machine).",
    ])


def run() -> str:
    """The bench runner's entry point."""
    return run_bench()


if __name__ == "__main__":
    print(run_bench())
