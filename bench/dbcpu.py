"""The embedded database's CPU per prescription, end to end (issue 27, the database side).

A gateway of its own, as bench/lifecycle.py starts one: an embedded SecantusDB on disk
(``--sync-on-commit``, writes ``w: majority, j: true`` as shipped), the registry simulator
answering at once, gunicorn ``--workers 2 --threads 4``, one ``erx-gateway forwarder`` (which
also runs the periodic audit sealer). Submissions are paced open loop (bench/loadgen.py) for
distinct people; the database process's CPU (user + system, from /proc) is read before the
first submission and after every delivery is done and every audit event is sealed, and
divided by the prescriptions answered 201. Optionally a profile of the database process
under the load (py-spy, installed as a tool, not a dependency).

    python -m bench.dbcpu --rate 40 --seconds 30 [--profile prof.txt] [--lookups]

``--lookups``: after the submissions, each prescription is looked up by the pharmacy and
dispensed once (paced at the same rate), and that phase is measured the same way (until the
dispense reports are delivered and sealed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from bench import harness, loadgen
from bench.lifecycle import bearer_tokens, create_parties, prescription_body
from bench.loadgen import Request, Result


def _wait_settled(ops: harness.Ops, db: Any, timeout: float = 300) -> float:
    """Wait until nothing is left to deliver and every audit event is sealed; seconds waited.

    The checks are chosen to cost the server little, because its CPU is what is measured: an
    indexed query whose index lists many documents makes the embedded database read and
    decode every one of them, so the prescriptions still open for delivery are polled every
    2 s, then only the newest tree head until one signed after the last delivery (the
    periodic sealer's), and the prescriptions with waiting events once, when they should be
    none."""
    started = time.monotonic()

    def waited() -> None:
        if time.monotonic() - started > timeout:
            raise RuntimeError("not delivered and sealed in time")
        time.sleep(2.0)

    while ops.query(lambda: db["prescriptions"].find_one({"forward_open": True}, {"_id": 1})):
        waited()
    delivered = datetime.now(UTC)
    while True:
        head = ops.query(lambda: db["audit_tree_heads"].find_one({}, sort=[("_id", -1)]))
        if head is not None and head["timestamp"].replace(tzinfo=UTC) > delivered + timedelta(
                seconds=1) and not ops.query(lambda: db["prescriptions"].find_one(
                    {"audit_open": True}, {"_id": 1})):
            return time.monotonic() - started
        waited()


def _profile(pid: int, seconds: float, out: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(Path(os.environ.get("VIRTUAL_ENV", ".venv")) / "bin" / "py-spy"), "record", "-p",
         str(pid), "-d", str(int(seconds) + 40), "-r", "50", "-f", "raw", "-o", out, "--nonblocking", "--gil"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _idle_rate(pid: int, seconds: float = 10) -> float:
    """The database's CPU seconds per second with nothing to do (the feeds' waits, its own
    background work): what the wait for the seal adds to a phase, subtracted in one column."""
    start = harness.cpu([pid])
    time.sleep(seconds)
    return (harness.cpu([pid]) - start) / seconds


def _phase(name: str, run: Any, ops: harness.Ops, db: Any, pid: int, profile: str | None,
           seconds: float) -> dict[str, Any]:
    idle = _idle_rate(pid)
    before, own = ops.read(), ops.own
    started = time.monotonic()
    cpu0 = harness.cpu([pid])
    spy = _profile(pid, seconds, profile) if profile else None
    result: Result = run()
    answered = harness.cpu([pid])
    drained = _wait_settled(ops, db)
    used = harness.cpu([pid]) - cpu0
    elapsed = time.monotonic() - started
    if spy is not None:
        spy.wait(120)
    delta = ops.since(before, own)
    return {"phase": name, "ok": result.ok, "statuses": result.statuses,
            "p50_ms": round(result.percentile(50), 1), "p99_ms": round(result.percentile(99), 1),
            "db_ms_per_request_while_running": round((answered - cpu0) * 1000 / max(result.ok, 1), 2),
            "db_ms_per_request_end_to_end": round(used * 1000 / max(result.ok, 1), 2),
            "db_ms_per_request_end_to_end_less_idle": round(
                (used - idle * (elapsed - seconds)) * 1000 / max(result.ok, 1), 2),
            "idle_db_ms_per_s": round(idle * 1000, 2),
            "settled_after_s": round(drained, 1),
            "ops_per_request_end_to_end": round(harness.total(delta) / max(result.ok, 1), 2),
            "ops": delta}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=40)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--profile", help="py-spy raw output of the submit phase")
    parser.add_argument("--lookups", action="store_true")
    args = parser.parse_args()
    with harness.embedded_gateway("erx-dbcpu-") as (database, env):
        server = forwarder = None
        try:
            credentials = create_parties(env)
            ops = harness.Ops(database.uri)
            db = ops.client["bench"]
            port = harness.free_port()
            server = harness.gunicorn(env, port, 2)
            forwarder = harness.forwarder(env)
            harness.ready(port)
            tokens = bearer_tokens(port, credentials)
            for person in range(900_000, 900_010):  # warm every process's caches
                requests.post(f"http://127.0.0.1:{port}/v2/prescriptions",
                              data=json.dumps(prescription_body(person)).encode(),
                              headers=tokens["doctor"], timeout=30)
            _wait_settled(ops, db)
            total = int(args.rate * args.seconds)
            bodies = [json.dumps(prescription_body(person)).encode() for person in range(total)]
            submit = Request("POST", ["/v2/prescriptions"], None, tokens["doctor"], bodies=bodies)
            pid = database.pid or 0
            rows = [_phase("submit", lambda: loadgen.run("open", "127.0.0.1", port, submit,
                                                         args.rate, args.seconds),
                           ops, db, pid, args.profile, args.seconds)]
            if args.lookups:
                codes = [doc["_id"] for doc in ops.query(lambda: list(db["prescriptions"].find(
                    {}, {"_id": 1})))]
                lookup = Request("GET", [f"/v2/prescriptions/{code}" for code in codes], None,
                                 tokens["pharmacy"])
                rows.append(_phase("lookup", lambda: loadgen.run(
                    "open", "127.0.0.1", port, lookup, args.rate, args.seconds),
                    ops, db, pid, None, args.seconds))
                dispense = Request(
                    "POST", [f"/v2/prescriptions/{code}/dispenses" for code in codes],
                    json.dumps({"items": [{"line": 0, "so_luong_ban": 1}]}).encode(),
                    tokens["pharmacy"])
                rows.append(_phase("dispense", lambda: loadgen.run(
                    "open", "127.0.0.1", port, dispense, args.rate, args.seconds),
                    ops, db, pid, None, args.seconds))
            for row in rows:
                print(json.dumps(row))
        finally:
            if server is not None and forwarder is not None:
                harness.stop(server, forwarder)


if __name__ == "__main__":
    main()
