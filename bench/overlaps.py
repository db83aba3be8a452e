"""What the cross-facility overlap check (gateway/prescriptions/overlaps.py) adds to a submit.

Method: an embedded SecantusDB in memory holding the demo catalog and 20,000 stored
prescriptions of 5,000 people (copies of a real stored one, with their own code, keyed CCCD
hash, type, drug and one period between 60 days ago and 30 days ahead: about 4 each, of which
about 1.5 still running; only half of the people ever had a controlled one). Submissions go through the Flask test client of one app (no
network; authentication, validation, the check, signing, the insert with its outbox, the
audit events), one at a time, the variants interleaved round after round so that the load of
the shared machine spreads over all of them:

- ``c``, check off: a basic prescription with ``ERX_RX_DUPLICATE_THERAPY=false`` (a second
  app on the same database): no check, the baseline;
- ``c``, check on, nothing found: omeprazole for a person whose history (basic prescriptions,
  some running) shares no ingredient;
- ``n``, nothing found: morphine for such a person (the query returns their running basic
  prescriptions, none matches);
- ``h``, a person holding an overlapping diazepam prescription: accepted with a warning
  (the names read, the overlap and its audit event stored);
- ``n``, a person holding an overlapping morphine prescription: refused (422).

Database commands per submission are counted with pymongo's command monitoring.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pymongo
from pymongo import monitoring

from bench.harness import free_port
from drug_catalog.demo import demo_catalog_path
from gateway import create_app
from gateway.runtime.embedded import EmbeddedDatabase
from gateway.web.context import services

PEOPLE = 5_000
HISTORY = 20_000
ROUNDS = 150
VIETNAM = timezone(timedelta(hours=7))
DRUGS = {"c": "MT100039", "n": "MT106069", "h": "QLĐB-743-20"}   # paracetamol, morphine, diazepam
OMEPRAZOLE = "MT103374"    # submitted on c prescriptions: no one's history shares it
OTHER_DRUGS = {"c": "MT100627", "n": "QLĐB-688-21", "h": "MT106260"}
DIAGNOSES = {"c": "J06.9", "n": "C50.9", "h": "F41.1"}


class Commands(monitoring.CommandListener):
    """Counts the commands started while ``recording``."""

    def __init__(self) -> None:
        self.recording = False
        self.counts: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.recording:
            self.counts[f"{event.command_name} {event.command.get(event.command_name, '')}"] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def _cccd(person: int) -> str:
    return f"079090{person:06d}"        # male, born 1990, Ho Chi Minh City


def _body(loai: str, drug: str, person: int, start: int, end: int) -> dict[str, Any]:
    now = datetime.now(VIETNAM)
    today = now.date()
    return {
        "loai_don_thuoc": loai, "ho_ten_benh_nhan": "Nguyễn Văn Bình",
        "ma_dinh_danh_cong_dan": _cccd(person), "ngay_sinh_benh_nhan": "15/03/1990",
        "can_nang": 60, "gioi_tinh": 2, "dia_chi": "12 Lê Lợi, Quận 1, TP Hồ Chí Minh",
        "chan_doan": [{"ma_chan_doan": DIAGNOSES[loai], "ten_chan_doan": "Chẩn đoán"}],
        "hinh_thuc_dieu_tri": 1,
        "dot_dung_thuoc": [{"dot": 1,
                            "tu_ngay": (today + timedelta(days=start)).strftime("%d/%m/%Y"),
                            "den_ngay": (today + timedelta(days=end)).strftime("%d/%m/%Y")}],
        "thong_tin_don_thuoc": [{"ma_thuoc": drug, "ten_thuoc": "Thuốc", "don_vi_tinh": "Viên",
                                 "so_luong": 10, "cach_dung": "Uống theo chỉ dẫn"}],
        "ngay_gio_ke_don": (now - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S"),
    }


def _token(client: Any, client_id: str, secret: str) -> dict[str, str]:
    answer = client.post("/v2/auth/token", json={"grant_type": "client_credentials",
                                                 "client_id": client_id, "client_secret": secret})
    return {"Authorization": f"Bearer {answer.get_json()['access_token']}"}


def _history(database: pymongo.database.Database, template: dict[str, Any], patient_hash: Any,
             rng: random.Random) -> int:
    """Insert HISTORY copies of ``template`` spread over PEOPLE people; the running count."""
    today = datetime.now(VIETNAM).date()
    batch, running = [], 0
    for number in range(HISTORY):
        person = rng.randrange(PEOPLE)
        # Only the first half of the people ever had a controlled prescription.
        loai = rng.choices("cnh", weights=(8, 1, 1))[0] if person < PEOPLE // 2 else "c"
        start = rng.randint(-60, 25)
        end = start + rng.randint(2, 5 if loai != "c" else 20)
        running += end >= 0
        code = f"01002{number:07d}-{loai}"
        drug = rng.choice((DRUGS[loai], OTHER_DRUGS[loai]))
        document = {**template["document"], "ma_don_thuoc": code, "loai_don_thuoc": loai,
                    "dot_dung_thuoc": [{"dot": 1,
                                        "tu_ngay": (today + timedelta(days=start)).isoformat(),
                                        "den_ngay": (today + timedelta(days=end)).isoformat()}]}
        line = {**template["lines"][0], "ma_thuoc": drug, "submitted_ma_thuoc": drug,
                "control_class": {"c": "none", "n": "narcotic", "h": "psychotropic"}[loai],
                "ingredients": {"MT100039": ["paracetamol"], "MT100627": ["amoxicilin"],
                                "MT106069": ["morphin"], "QLĐB-688-21": ["fentanyl"],
                                "QLĐB-743-20": ["diazepam"], "MT106260": ["diazepam"]}[drug]}
        batch.append({**template, "_id": code, "facility": "01002", "issuer": "doctor-01002-BS2",
                      "document": document, "lines": [line],
                      "patient": patient_hash(_cccd(person))})
        if len(batch) == 1000:
            database["prescriptions"].insert_many(batch)
            batch = []
    return running


def _stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


def run() -> str:
    rng = random.Random(17)
    commands = Commands()
    monitoring.register(commands)
    with tempfile.TemporaryDirectory() as scratch:
        server = EmbeddedDatabase(storage_path=":memory:", port=free_port(),
                                  log_path=str(Path(scratch) / "db.log"))
        server.start()
        try:
            config = {"ENV": "development", "MONGODB_URI": server.uri, "DB_NAME": "bench_overlaps",
                      "VAR_DIR": scratch, "TOKEN_SECRET": "bench-token-secret-" + "x" * 32,
                      "SECRET_HASH_TIME_COST": 1, "SECRET_HASH_MEMORY_KIB": 1024,
                      "LOG_LEVEL": "error"}
            app = create_app(config)
            found = services(app)
            found.catalog.import_catalog(str(demo_catalog_path()), "ndjson")
            found.catalog.catalog.refresh()
            off = create_app({**config, "RX_DUPLICATE_THERAPY": False})
            services(off).catalog.catalog.refresh()
            with app.app_context():
                doctor, secret = found.parties.create(role="doctor", code="BS1", name="BS Một",
                                                      facility="79001")
                found.parties.create(role="clinic", code="79001", name="Bệnh viện Một",
                                     facility="79001")
                found.parties.create(role="clinic", code="01002", name="Phòng khám Hai",
                                     facility="01002")
            client, client_off = app.test_client(), off.test_client()
            headers = _token(client, doctor.client_id, secret)
            first = client.post("/v2/prescriptions", headers=headers,
                                json=_body("c", DRUGS["c"], 999_999, 0, 6))
            assert first.status_code == 201, first.get_json()
            template = found.storage.database["prescriptions"].find_one(
                {"_id": first.get_json()["ma_don_thuoc"]}, {"_id": 0})
            started = time.perf_counter()
            running = _history(found.storage.database, template, found.audit.patient_hash, rng)
            load_seconds = time.perf_counter() - started
            # People holding an overlapping controlled prescription (another facility).
            holders = range(PEOPLE, PEOPLE + 2 * ROUNDS)
            for index, person in enumerate(holders):
                loai = "n" if index % 2 else "h"
                base = {**template["document"], "loai_don_thuoc": loai,
                        "dot_dung_thuoc": [{"dot": 1,
                                            "tu_ngay": datetime.now(VIETNAM).date().isoformat(),
                                            "den_ngay": (datetime.now(VIETNAM).date()
                                                         + timedelta(days=6)).isoformat()}]}
                code = f"01002H{index:06d}-{loai}"
                found.storage.database["prescriptions"].insert_one({
                    **template, "_id": code, "facility": "01002", "issuer": "doctor-01002-BS2",
                    "document": {**base, "ma_don_thuoc": code},
                    "lines": [{**template["lines"][0], "ma_thuoc": DRUGS[loai],
                               "control_class": "narcotic" if loai == "n" else "psychotropic",
                               "ingredients": ["morphin" if loai == "n" else "diazepam"]}],
                    "patient": found.audit.patient_hash(_cccd(person))})
            variants = {
                "c, check off (baseline)": (client_off, "c", 201),
                "c, check on, nothing found": (client, "c", 201),
                "n, nothing found": (client, "n", 201),
                "h, overlap found: accepted with a warning": (client, "h", 201),
                "n, overlap found: refused": (client, "n", 422),
            }
            fresh = rng.sample(range(PEOPLE // 2, PEOPLE), 3 * ROUNDS)   # one each submission
            samples: dict[str, list[float]] = {name: [] for name in variants}
            counted: dict[str, Counter[str]] = {name: Counter() for name in variants}
            for round_ in range(ROUNDS):
                for name, (target, loai, status) in variants.items():
                    if "overlap found" in name:
                        person = PEOPLE + 2 * round_ + (1 if loai == "n" else 0)
                        start, end = 3, 8
                    else:   # someone with only basic prescriptions, some running
                        person, start, end = fresh.pop(), 0, 6
                    drug = OMEPRAZOLE if loai == "c" else DRUGS[loai]
                    body = _body(loai, drug, person, start, end)
                    commands.counts = Counter()
                    commands.recording = True
                    began = time.perf_counter()
                    answer = target.post("/v2/prescriptions", headers=headers, json=body)
                    samples[name].append(time.perf_counter() - began)
                    commands.recording = False
                    assert answer.status_code == status, (name, answer.get_json())
                    counted[name] += commands.counts
            query_samples = []
            store = found.prescription_store
            for _ in range(500):
                patient = found.audit.patient_hash(_cccd(rng.randrange(PEOPLE)))
                began = time.perf_counter()
                store.overlap_candidates(patient, datetime.now(VIETNAM).date().isoformat())
                query_samples.append(time.perf_counter() - began)
            services(off).close()
            found.close()
        finally:
            server.stop()
    return _report(samples, counted, query_samples, load_seconds, running)


def _report(samples: dict[str, list[float]], counted: dict[str, Counter[str]],
            query_samples: list[float], load_seconds: float, running: int) -> str:
    baseline = _stats(samples["c, check off (baseline)"])[0]
    rows = []
    for name, values in samples.items():
        p50, p95 = _stats(values)
        # Commands of nearly every request; the catalog's and signing keys' periodic refresh
        # reads (a few in a hundred requests) are left out.
        per = {command: count / ROUNDS for command, count in sorted(counted[name].items())
               if count / ROUNDS >= 0.5}
        listed = ", ".join(f"{command} ×{count:.0f}" for command, count in per.items())
        rows.append(f"| {name} | {p50:.1f} ms | {p95:.1f} ms | {p50 - baseline:+.1f} ms | "
                    f"{sum(per.values()):.0f}: {listed} |")
    query_p50, query_p95 = _stats(query_samples)
    table = "\n".join(rows)
    return f"""
### Overlap check at submission (issue 17)

{HISTORY:,} stored prescriptions of {PEOPLE:,} people ({running:,} still running today), loaded
in {load_seconds:.1f} s; {ROUNDS} submissions per variant through the Flask test client (no
network), one at a time, variants interleaved. Each figure is the whole request. Command:
`.venv/bin/python -m bench overlaps` (method in bench/overlaps.py).

| submission | p50 | p95 | p50 vs baseline | database commands per submission |
|---|---|---|---|---|
{table}

The check's query alone (`PrescriptionStore.overlap_candidates`, index
`patient_treatment_end`, 500 random people): p50 {query_p50:.2f} ms, p95 {query_p95:.2f} ms.

When nothing is found the check costs that one `find`. When something is found it adds one
read of the parties' names, the insert into `controlled_overlaps` and one audit event (a
counter update and an insert) per overlap; a refusal also reads whether its code was stored
before (a retry is answered, not refused) and stores no prescription. Commands are counted per
submission (`find parties` is the token's party, checked at every request); the catalog's and
signing keys' periodic refresh reads, a few in a hundred requests, are left out. The embedded
server is a Python process on the same 2 cores as the gateway and the machine's other jobs, so
differences of a millisecond or two are within the noise.
"""
