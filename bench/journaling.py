"""What journaling costs per submit (docs/durability.md): the same submits on three on-disk
embedded databases, one per way of flushing the journal.

- *no sync* (before issue 23): the server without ``--sync-on-commit``, writes ``w: majority``
  without ``j``: the journal reaches the disk when WiredTiger gets to it, and a SIGKILL loses
  the last writes;
- *j: true per write*: the server without ``--sync-on-commit``, every write ``j: true``
  (SecantusDB fsyncs the journal on the commit of a write that asks);
- *--sync-on-commit and j: true* (what the gateway runs): every commit fsyncs.

Submits go through the Flask test client of one app per database (no network;
authentication, validation, the overlap check, signing, the insert with its outbox and audit
event, the idempotency record), one at a time, the three variants interleaved round after
round so that the load of the shared machine spreads over them; then four threads at once
per variant (WiredTiger's group commit: commits arriving during an fsync share the next one).
Write commands per submit are counted with pymongo's command monitoring.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from pymongo import WriteConcern, monitoring

from bench.harness import free_port
from drug_catalog.demo import demo_catalog_path
from gateway import create_app
from gateway.core import db
from gateway.runtime.embedded import EmbeddedDatabase
from gateway.web.context import services
from schemas import examples

ROUNDS = 120
THREADS, PER_THREAD = 4, 30
WRITES = frozenset({"insert", "update", "delete", "findAndModify"})
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
VARIANTS = ("no sync (before)", "j: true per write", "--sync-on-commit and j: true (shipped)")


class Writes(monitoring.CommandListener):
    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in WRITES:
            with self._lock:
                self.count += 1

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


@contextmanager
def _server(scratch: str, name: str, sync_on_commit: bool) -> Iterator[EmbeddedDatabase]:
    server = EmbeddedDatabase(storage_path=str(Path(scratch) / name), port=free_port(),
                              log_path=str(Path(scratch) / f"{name}.log"))
    if not sync_on_commit:
        shipped = server.command
        server.command = lambda: [a for a in shipped() if a != "--sync-on-commit"]  # type: ignore[method-assign]
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _app(server: EmbeddedDatabase, scratch: str, name: str, journal: bool, writes: Writes) -> Any:
    config = {"ENV": "development", "MONGODB_URI": server.uri, "DB_NAME": "bench_journal",
              "VAR_DIR": str(Path(scratch) / f"var-{name}"),
              "TOKEN_SECRET": "bench-token-secret-" + "x" * 32, "SECRET_HASH_TIME_COST": 1,
              "SECRET_HASH_MEMORY_KIB": 1024, "LOG_LEVEL": "error"}
    concern = (db.write_concern if journal
               else lambda values: WriteConcern(w=values["WRITE_CONCERN"], j=False))
    with mock.patch.object(db, "write_concern", concern):
        app = create_app(config, listeners=[writes])
    found = services(app)
    found.catalog.import_catalog(str(demo_catalog_path()), "ndjson")
    found.catalog.catalog.refresh()
    with app.app_context():
        party, secret = found.parties.create(role="clinic", code="79001", name="Bench")
    client = app.test_client()
    token = client.post("/v2/auth/token", json={"grant_type": "client_credentials",
                                                "client_id": party.client_id,
                                                "client_secret": secret}).get_json()
    return app, {"Authorization": f"Bearer {token['access_token']}"}


def _submit(app: Any, headers: dict[str, str], person: int) -> float:
    body = examples.basic_prescription(datetime.now(VIETNAM))
    body["ma_dinh_danh_cong_dan"] = f"079090{person:06d}"
    client = app.test_client()
    started = time.perf_counter()
    answer = client.post("/v2/prescriptions", json=body,
                         headers={**headers, "Idempotency-Key": f"bench-{person}"})
    elapsed = time.perf_counter() - started
    assert answer.status_code == 201, answer.get_json()
    return elapsed


def run() -> str:
    rows = []
    with tempfile.TemporaryDirectory() as scratch, \
            _server(scratch, "nosync", False) as plain, \
            _server(scratch, "perwrite", False) as per_write, \
            _server(scratch, "shipped", True) as shipped:
        counters = {name: Writes() for name in VARIANTS}
        apps = {VARIANTS[0]: _app(plain, scratch, "nosync", False, counters[VARIANTS[0]]),
                VARIANTS[1]: _app(per_write, scratch, "perwrite", True, counters[VARIANTS[1]]),
                VARIANTS[2]: _app(shipped, scratch, "shipped", True, counters[VARIANTS[2]])}
        samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
        before = {name: counters[name].count for name in VARIANTS}
        for round_ in range(ROUNDS):
            for name in VARIANTS:
                app, headers = apps[name]
                samples[name].append(_submit(app, headers, round_))
        writes = {name: (counters[name].count - before[name]) / ROUNDS for name in VARIANTS}
        rates = {}
        for name in VARIANTS:
            app, headers = apps[name]

            def work(thread: int, app: Any = app, headers: dict[str, str] = headers) -> None:
                for n in range(PER_THREAD):
                    _submit(app, headers, 100_000 + thread * 1000 + n)

            threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            rates[name] = THREADS * PER_THREAD / (time.perf_counter() - started)
        for app, _ in apps.values():
            services(app).close()
    base = statistics.median(samples[VARIANTS[0]])
    for name in VARIANTS:
        ordered = sorted(samples[name])
        p50 = statistics.median(ordered)
        rows.append(f"| {name} | {writes[name]:.1f} | {p50 * 1000:.1f} ms "
                    f"(+{(p50 - base) * 1000:.1f} ms) | {ordered[int(len(ordered) * 0.9)] * 1000:.1f} ms "
                    f"| {rates[name]:.0f}/s |")
    return "\n".join([
        "## Journaling: what a durable write costs per submit (issue 23)",
        "",
        f"Three on-disk embedded databases, one app each (Flask test client, no network); "
        f"{ROUNDS} submits one at a time per variant, interleaved, then {THREADS} threads x "
        f"{PER_THREAD} submits per variant. *Writes* are the database write commands of one "
        "submit (each is one journal fsync when synced). The machine was shared with other "
        "work while this ran (several engineers' test runs on 2 cores): read the differences, "
        "not the absolute figures. The threads column runs the variants one after another, not "
        "interleaved, so it follows the machine's load of the moment more than the variant. "
        "docs/durability.md says what each variant means.",
        "",
        "| variant | writes per submit | submit p50, one at a time (cost) | p90 | "
        f"{THREADS} threads |",
        "|---|---|---|---|---|",
        *rows,
    ])
