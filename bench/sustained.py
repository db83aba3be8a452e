"""Sustained load (issue 27): submissions paced open-loop at 20, 40, 80 and 100/s, end to end,
on this machine, with the CPU of every process per request.

Method: a gateway of its own, started as ``erx-gateway run`` starts it (gunicorn
``ERX_WORKERS=2`` with 4 threads, one ``erx-gateway forwarder``, which also seals the audit
log) against an embedded SecantusDB on disk in a temporary directory (``--sync-on-commit``:
every write journaled, as shipped), and the strict national-registry simulator on loopback,
answering at once. Load comes from a separate process (bench/loadgen.py, open loop: requests
scheduled at a fixed rate, latency measured from the scheduled time, so a slow answer delays
no later request's clock), each submission for another person. A phase lasts
``ERX_BENCH_SUSTAINED_SECONDS`` (default 45 s): a request that could not be sent by then
(all 32 of the load generator's connections waiting for answers: the gateway is saturated) is
not sent, and is counted as *not sent*; *achieved* is the 2xx answers divided by the time from
the first scheduled request to the last answer. After its last answer, the database is polled
every 0.1 s until no prescription has a delivery left to send (*drained*, timed from the last
answer), then the audit log is sealed (in this process). CPU is read from /proc (user + system)
for the gunicorn workers, the forwarders and the database process, from the phase's start to
the end of the seal, and divided by the requests answered 2xx. Operations are the database's
own counters over the same window (``serverStatus.opcounters``, this script's own reads left
out). Lookups (by code, each prescription once) and dispenses (1 unit of a line, each
prescription once, end to end including the dispense report's delivery) run the same way at
``ERX_BENCH_SUSTAINED_OTHER_RATE`` (default 50/s), after a first row of ``GET /healthz`` at
that rate (the request edge alone: gunicorn, Flask, the access log and the metrics). The last
row runs 100 submits/s against a second gateway with ``ERX_WORKERS=4`` and two forwarders
(partitions 1/2 and 2/2). The gateway logs at the shipped level (info: one access-log line
per request, to /dev/null here). ``ERX_BENCH_PYSPY=DIR`` adds a py-spy profile of every
process of each phase (py-spy installed beside this Python: a tool, not a dependency).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from itertools import count
from pathlib import Path
from typing import Any

import requests

from bench import harness, loadgen
from bench.lifecycle import bearer_tokens, commands_per_request, create_parties, prescription_body
from bench.loadgen import Request
from gateway.runtime.embedded import EmbeddedDatabase

SECONDS = float(os.environ.get("ERX_BENCH_SUSTAINED_SECONDS", "45"))
RATES = tuple(float(rate) for rate in
              os.environ.get("ERX_BENCH_SUSTAINED_RATES", "20,40,80,100").split(","))
OTHER_RATE = float(os.environ.get("ERX_BENCH_SUSTAINED_OTHER_RATE", "50"))
DRAIN_LIMIT = 60.0  # seconds: a phase whose deliveries are not done by then is reported so
IDLE_SECONDS = 30
SETTLE_LIMIT = 180.0  # seconds: waiting for the gateway's queues to empty before the idle count
#: the issue's targets
GATEWAY_MS, DATABASE_MS, TARGET_RATE, P99_MS, DRAIN_S = 3.5, 8.0, 100.0, 250.0, 10.0


# --- the gateway's processes ---------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in
                Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Gateway:
    """``erx-gateway run`` (gunicorn and its forwarder) plus ``extra`` partitioned forwarders."""

    def __init__(self, env: dict[str, str], *, workers: int, forwarders: int) -> None:
        self.port = harness.free_port()
        self.workers_wanted = workers
        partition = {"ERX_FORWARDER_PARTITION": f"1/{forwarders}"} if forwarders > 1 else {}
        # the shipped log level: an access-log line per request (to /dev/null here)
        self.env = {**env, "ERX_HTTP_PORT": str(self.port), "ERX_HTTP_HOST": "127.0.0.1",
                    "ERX_WORKERS": str(workers), "ERX_LOG_LEVEL": "info", **partition}
        self.runner = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run"],
                                       env=self.env, cwd=harness.ROOT,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.extra = [harness.forwarder(env, f"{k}/{forwarders}")
                      for k in range(2, forwarders + 1)]

    def ready(self) -> None:
        harness.ready(self.port)
        deadline = time.monotonic() + 120
        while len(self.workers()) < self.workers_wanted or not self.forwarders():
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway's processes did not all start")
            time.sleep(0.2)

    def _master(self) -> int | None:
        return next((pid for pid in _children(self.runner.pid)
                     if "gunicorn" in _cmdline(pid)), None)

    def workers(self) -> list[int]:
        master = self._master()
        return _children(master) if master else []

    def forwarders(self) -> list[int]:
        own = [pid for pid in _children(self.runner.pid) if " forwarder" in _cmdline(pid)]
        return own + [process.pid for process in self.extra]

    def stop(self) -> None:
        harness.stop(self.runner, *self.extra)


# --- one phase -----------------------------------------------------------------------------------

class Phase:
    """CPU and operations from :meth:`start` to :meth:`finish` (drained and sealed)."""

    def __init__(self, gateway: Gateway, database: EmbeddedDatabase, ops: harness.Ops,
                 bench: Any, seal: Any) -> None:
        self.gateway, self.database, self.ops, self.bench, self.seal = (
            gateway, database, ops, bench, seal)

    def run(self, name: str, request: Request, rate: float, seconds: float) -> dict[str, Any]:
        groups = {"workers": self.gateway.workers(), "forwarder": self.gateway.forwarders(),
                  "database": [self.database.pid or 0]}
        cpu_before = {name: harness.cpu(pids) for name, pids in groups.items()}
        before, own = self.ops.read(), self.ops.own
        profilers = _profile(groups, re.sub(r"\W+", "-", name).strip("-"), seconds)
        result = loadgen.run("open", "127.0.0.1", self.gateway.port, request, rate, seconds,
                             cut_off=True)
        for profiler in profilers:
            profiler.wait(60)
        during = self.ops.since(before, own)
        cpu_during = {name: harness.cpu(pids) - cpu_before[name] for name, pids in groups.items()}
        answered = time.monotonic()
        drained = self._drain(answered)
        sealed = time.monotonic()
        self.seal()
        seal_seconds = time.monotonic() - sealed
        cpu_after = {name: harness.cpu(pids) - cpu_before[name] for name, pids in groups.items()}
        end_to_end = self.ops.since(before, own)
        ok = max(result.ok, 1)
        return {"result": result, "rate": rate, "drained": drained, "seal": seal_seconds,
                "cpu": {name: value * 1000 / ok for name, value in cpu_after.items()},
                "cpu_during": {name: value * 1000 / ok for name, value in cpu_during.items()},
                "ops": harness.total(during) / ok, "ops_e2e": harness.total(end_to_end) / ok}

    def _drain(self, since: float) -> float | None:
        """Seconds from ``since`` until no delivery is left to send; None past the limit."""
        prescriptions = self.bench["prescriptions"]
        while self.ops.query(lambda: prescriptions.find_one({"forward_open": True}, {"_id": 1})):
            if time.monotonic() - since > DRAIN_LIMIT:
                return None
            time.sleep(0.1)
        return time.monotonic() - since


def _profile(groups: dict[str, list[int]], name: str,
             seconds: float) -> list[subprocess.Popen[bytes]]:
    """With ERX_BENCH_PYSPY=DIR (and py-spy installed beside this Python: a tool, not a
    dependency), a sampling profile of every process of the phase while the load runs, as
    collapsed stacks in DIR/<phase>-<group>-<pid>.txt (``--nonblocking``: the processes are
    not paused to be sampled; ``--gil``: only the thread holding the interpreter, i.e. the
    Python code that is running)."""
    directory = os.environ.get("ERX_BENCH_PYSPY")
    spy = Path(sys.executable).with_name("py-spy")
    if not directory or not spy.exists():
        return []
    Path(directory).mkdir(parents=True, exist_ok=True)
    return [subprocess.Popen([str(spy), "record", "--nonblocking", "--gil", "--format", "raw",
                              "--rate", "100", "--duration", str(int(seconds)), "--pid", str(pid),
                              "-o", str(Path(directory) / f"{name}-{group}-{pid}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for group, pids in groups.items() for pid in pids]


# --- the run -------------------------------------------------------------------------------------

def run() -> str:
    with harness.embedded_gateway("erx-bench-sustained-") as (database, env):
        return _report(*_measure(env, database))


def _sealer(env: dict[str, str]) -> tuple[Any, Any]:
    """A seal of the audit log from this process (what the forwarder's sealer does every
    ``ERX_AUDIT_SEAL_INTERVAL_SECONDS``), and how to close it."""
    from gateway import create_app
    from gateway.web.context import services

    app = create_app({key[4:]: value for key, value in env.items() if key.startswith("ERX_")},
                     start=False)
    found = services(app)
    return (lambda: found.sealer.seal()), found.close


def _measure(env: dict[str, str], database: EmbeddedDatabase) -> tuple[Any, ...]:
    credentials = create_parties(env)
    ops = harness.Ops(database.uri)
    bench = ops.client["bench"]
    seal, close = _sealer(env)
    people = count(1)
    per = int(SECONDS * max(*RATES, OTHER_RATE, 100.0))

    def submits(rate: float) -> Request:
        bodies = [json.dumps(prescription_body(next(people))).encode()
                  for _ in range(int(rate * SECONDS))]
        return Request("POST", ["/v2/prescriptions"], None, tokens["doctor"], bodies=bodies,
                       in_order=True)

    phases: dict[str, dict[str, Any]] = {}
    gateway = Gateway(env, workers=2, forwarders=1)
    try:
        gateway.ready()
        tokens = bearer_tokens(gateway.port, credentials)
        first = requests.post(f"http://127.0.0.1:{gateway.port}/v2/prescriptions",
                              data=json.dumps(prescription_body(0)), headers=tokens["doctor"],
                              timeout=30)
        assert first.status_code == 201, first.text
        phase = Phase(gateway, database, ops, bench, seal)
        phase._drain(time.monotonic())
        seal()
        name = f"GET /healthz {OTHER_RATE:g}/s (the request edge alone)"
        print(f"   {name}", file=sys.stderr, flush=True)
        phases[name] = phase.run(name, Request("GET", ["/healthz"], None, {}), OTHER_RATE,
                                 min(SECONDS, 15))
        for rate in RATES:
            print(f"   submit {rate:g}/s", file=sys.stderr, flush=True)
            name = f"submit {rate:g}/s"
            phases[name] = phase.run(name, submits(rate), rate, SECONDS)
        codes = [doc["_id"] for doc in ops.query(lambda: list(
            bench["prescriptions"].find({}, {"_id": 1}).limit(2 * per)))]
        half = len(codes) // 2
        print(f"   lookup {OTHER_RATE:g}/s", file=sys.stderr, flush=True)
        lookup = Request("GET", [f"/v2/prescriptions/{code}" for code in codes[:half]], None,
                         tokens["pharmacy"], in_order=True)
        name = f"lookup {OTHER_RATE:g}/s"
        phases[name] = phase.run(name, lookup, OTHER_RATE, SECONDS)
        print(f"   dispense {OTHER_RATE:g}/s", file=sys.stderr, flush=True)
        dispense = Request("POST", [f"/v2/prescriptions/{code}/dispenses"
                                    for code in codes[half:]],
                           json.dumps({"items": [{"line": 0, "so_luong_ban": 1}]}).encode(),
                           tokens["pharmacy"], in_order=True)
        name = f"dispense {OTHER_RATE:g}/s"
        phases[name] = phase.run(name, dispense, OTHER_RATE, SECONDS)
        idle = _idle(ops, bench, close)
    finally:
        gateway.stop()

    print("   submit 100/s, ERX_WORKERS=4, two forwarders", file=sys.stderr, flush=True)
    seal, close = _sealer(env)
    scaled = Gateway(env, workers=4, forwarders=2)
    try:
        scaled.ready()
        tokens = bearer_tokens(scaled.port, credentials)
        phase = Phase(scaled, database, ops, bench, seal)
        name = "submit 100/s, 4 workers, 2 forwarders"
        phases[name] = phase.run(name, submits(100), 100, SECONDS)
    finally:
        scaled.stop()
        close()
    per_request = commands_per_request(env, credentials)
    return phases, idle, per_request


def _idle(ops: harness.Ops, bench: Any, close: Any) -> dict[str, Any]:
    """Operations per second of the gateway at rest, this script's own client closed first.

    At rest means settled, not merely unloaded: first the gateway's own queues are waited out
    (polled every second, up to ``SETTLE_LIMIT``): no prescription has a delivery left to send
    or an audit event waiting in it, ``audit_queue`` is empty; then the count runs for
    ``IDLE_SECONDS``. What the processes do at rest (the change feeds' polls, the forwarder's
    and the sealer's timers, the drivers' monitoring) is what is counted."""
    close()
    prescriptions, queue = bench["prescriptions"], bench["audit_queue"]
    started = time.monotonic()

    def busy() -> bool:
        return bool(ops.query(lambda: prescriptions.find_one(
            {"$or": [{"forward_open": True}, {"audit_open": True}]}, {"_id": 1}))
            or ops.query(lambda: queue.find_one({}, {"_id": 1})))

    while busy() and time.monotonic() - started < SETTLE_LIMIT:
        time.sleep(1)
    settled = time.monotonic() - started
    before, own = ops.read(), ops.own
    time.sleep(IDLE_SECONDS)
    delta = ops.since(before, own)
    return {"rate": harness.total(delta) / IDLE_SECONDS, "by_type": delta, "settled": settled,
            "still_busy": busy()}


# --- the section ---------------------------------------------------------------------------------

def _report(phases: dict[str, dict[str, Any]], idle: dict[str, Any],
            per_request: dict[str, list[str]]) -> str:
    def drained(phase: dict[str, Any]) -> str:
        return (f"{phase['drained']:.1f} s" if phase["drained"] is not None
                else f"not within {DRAIN_LIMIT:.0f} s")

    rows = []
    for name, phase in phases.items():
        result, cpu = phase["result"], phase["cpu"]
        errors = {status: n for status, n in result.statuses.items() if not 200 <= status < 300}
        rows.append(
            f"| {name} | {result.throughput:.1f}/s | {result.percentile(50):.0f} ms | "
            f"{result.percentile(99):.0f} ms | {result.ok}{f' {errors}' if errors else ''}"
            f"{f' ({result.unsent} not sent)' if result.unsent else ''} | "
            f"{drained(phase)} | {cpu['workers']:.2f} ms | {cpu['forwarder']:.2f} ms | "
            f"{phase['cpu_during']['database']:.2f} / {cpu['database']:.2f} ms | "
            f"{phase['ops']:.2f} / {phase['ops_e2e']:.2f} |")
    submits = [phase for name, phase in phases.items() if name.startswith("submit")]
    at_target = phases.get(f"submit {TARGET_RATE:g}/s")

    def mark(met: bool) -> str:
        return "met" if met else "**not met**"

    gateway = min(phase["cpu"]["workers"] for phase in submits)
    database = min(phase["cpu"]["database"] for phase in submits)
    targets = [f"| gateway CPU per submit | ≤ {GATEWAY_MS} ms | {gateway:.2f} ms (lowest of the "
               f"submit rows) | {mark(gateway <= GATEWAY_MS)} |",
               f"| embedded database CPU per prescription, end to end | ≤ {DATABASE_MS} ms | "
               f"{database:.2f} ms (lowest of the submit rows) | {mark(database <= DATABASE_MS)} |"]
    if at_target:
        result = at_target["result"]
        achieved = result.throughput >= 0.97 * TARGET_RATE and not any(
            not 200 <= status < 300 for status in result.statuses)
        p99 = result.percentile(99)
        targets += [
            f"| {TARGET_RATE:g} submits/s sustained (2 workers) | ≥ 97 % achieved, all 2xx | "
            f"{result.throughput:.1f}/s | {mark(achieved)} |",
            f"| p99 at {TARGET_RATE:g}/s | < {P99_MS:.0f} ms | {p99:.0f} ms | "
            f"{mark(p99 < P99_MS)} |",
            f"| deliveries drained after the last submit at {TARGET_RATE:g}/s | ≤ {DRAIN_S:.0f} s"
            f" | {drained(at_target)} | "
            f"{mark(at_target['drained'] is not None and at_target['drained'] <= DRAIN_S)} |"]
    commands = {name: len(found) for name, found in per_request.items()}
    targets += [
        f"| database commands per request: submit, lookup (first view, again), dispense | 2, 2, 2 | "
        f"{commands['submit']}, {commands['pharmacy lookup, first view']}, "
        f"{commands['pharmacy lookup, again']}, {commands['dispense']} | "
        f"{mark(commands['submit'] <= 2 and commands['pharmacy lookup, first view'] <= 2 and commands['pharmacy lookup, again'] <= 2 and commands['dispense'] <= 2)} |",
        f"| idle gateway | ≤ 3 operations/s | {idle['rate']:.2f}/s | {mark(idle['rate'] <= 3)} |"]
    return "\n".join([
        "## Sustained load (issue 27)",
        "",
        f"Each phase paces requests open-loop for {SECONDS:g} s. *Drained*: from the last "
        "answer until no delivery is left to send. CPU columns: milliseconds of CPU per request "
        "answered, from the phase's start until drained and sealed (end to end): the gunicorn "
        "workers, the forwarder(s) (which also seal on their timer), the embedded database "
        "(while the load ran / end to end). *Operations*: the database's opcounters per "
        "request while the load ran / end to end.",
        "",
        "| phase | achieved | p50 | p99 | answered 2xx | drained | gateway workers | "
        "forwarder | database | operations |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "**Against the targets of issue 27:**",
        "",
        "| target | wanted | this run | |",
        "|---|---|---|---|",
        *targets,
        "",
        f"**Idle**: after the dispense phase the gateway's queues were empty "
        f"{idle['settled']:.0f} s later{' (not settled: still busy at the end)' if idle['still_busy'] else ''}; "
        f"then, over {IDLE_SECONDS} s, " + ", ".join(
            f"{name} {count}" for name, count in idle["by_type"].items()) + " operations.",
        "",
        "Commands per request come from pymongo's command monitoring (lifecycle's in-process "
        "count: " + "; ".join(f"{name}: {', '.join(found)}" for name, found in
                              per_request.items()) + ").",
        "",
        (__doc__ or "").split("\n\n", 1)[1].strip(),
    ])


if __name__ == "__main__":
    print(run())
