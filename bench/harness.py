"""Processes and counters of the lifecycle benchmark (bench/lifecycle.py): the server's
operation counters, CPU per process from /proc, and the gateway's processes (gunicorn, a
forwarder, the sealer) started, waited for and stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymongo
import requests

from gateway.forwarding.simulator import RegistrySimulator
from gateway.runtime.embedded import EmbeddedDatabase

ROOT = Path(__file__).resolve().parents[1]
COUNTED = ("insert", "query", "update", "delete", "getmore", "command")


@contextlib.contextmanager
def embedded_gateway(prefix: str) -> Iterator[tuple[EmbeddedDatabase, dict[str, str]]]:
    """An embedded database on disk in a temporary directory and the registry simulator,
    with the environment of a gateway using both (:func:`gateway_env`); both stopped after."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        database = EmbeddedDatabase(storage_path=str(Path(tmp) / "db"), port=free_port(),
                                    log_path=str(Path(tmp) / "db.log"))
        database.start()
        registry = RegistrySimulator(facility_code="79001", password="bench-registry").start()
        try:
            yield database, gateway_env(database.uri, registry.url, tmp)
        finally:
            registry.stop()
            database.stop()


def gateway_env(database_uri: str, registry_url: str, tmp: str) -> dict[str, str]:
    """This process's environment without its ``ERX_`` settings, plus those of a benchmark
    gateway: the database at ``database_uri``, the registry simulator at ``registry_url``,
    its files under ``tmp``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ERX_")}
    env.update({"ERX_MONGODB_URI": database_uri, "ERX_DB_NAME": "bench",
                "ERX_ENV": "development", "ERX_VAR_DIR": str(Path(tmp) / "var"),
                "ERX_TOKEN_SECRET": "bench-token-secret-0123456789-0123456789",
                "ERX_LOG_LEVEL": "warning", "ERX_CATALOG_DEMO": "no",
                "ERX_REGISTRY_BASE_URL": registry_url, "ERX_REGISTRY_FACILITY_CODE": "79001",
                "ERX_REGISTRY_PASSWORD": "bench-registry"})
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Ops:
    """The server's operation counters, read by a client of this script (whose own reads are
    counted and left out: ``serverStatus`` as commands, its other reads as queries)."""

    def __init__(self, uri: str) -> None:
        self.client: pymongo.MongoClient = pymongo.MongoClient(uri, tz_aware=True)
        self.commands = 0
        self.queries = 0

    @property
    def own(self) -> tuple[int, int]:
        return self.commands, self.queries

    def read(self) -> dict[str, int]:
        self.commands += 1
        counters = self.client.admin.command("serverStatus")["opcounters"]
        return {name: int(counters.get(name, 0)) for name in COUNTED}

    def query(self, call: Any) -> Any:
        """Run one of this script's own reads (a find: counted, then left out)."""
        self.queries += 1
        return call()

    def since(self, before: dict[str, int], own_before: tuple[int, int]) -> dict[str, int]:
        after = self.read()
        delta = {name: after[name] - before[name] for name in COUNTED}
        delta["command"] -= self.commands - own_before[0]
        delta["query"] -= self.queries - own_before[1]
        return delta


def total(delta: dict[str, int]) -> int:
    return sum(delta.values())


def cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by these processes."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def workers(master: subprocess.Popen[bytes]) -> list[int]:
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    return [int(pid) for pid in children]


class Cpu:
    """CPU used by the gateway's workers, the forwarder and the database over a phase."""

    def __init__(self, workers: list[int], forwarder: int, database: int) -> None:
        self.groups = {"workers": workers, "forwarder": [forwarder], "database": [database]}
        self.start = {name: cpu(pids) for name, pids in self.groups.items()}

    def per(self, count: int) -> dict[str, float]:
        """Milliseconds of CPU per request, by process group."""
        return {name: (cpu(pids) - self.start[name]) * 1000 / max(count, 1)
                for name, pids in self.groups.items()}


# --- processes -----------------------------------------------------------------------------------

def gunicorn(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", "4",
         "--bind", f"127.0.0.1:{port}", "gateway:create_app()"], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def forwarder(env: dict[str, str], partition: str = "1/1") -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "gateway.cli", "forwarder", "--partition",
                             partition], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def ready(port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.3)
    raise RuntimeError("the gateway did not get ready")


def stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def drain(ops: Ops, database: Any, timeout: float = 600) -> None:
    """Wait until no prescription has a delivery left to send."""
    deadline = time.monotonic() + timeout
    # a find of one (a count is an aggregation, which the embedded database runs by reading
    # every matching document)
    while ops.query(lambda: database["prescriptions"].find_one({"forward_open": True},
                                                               {"_id": 1})):
        if time.monotonic() > deadline:
            raise RuntimeError("the forwarder did not deliver everything in time")
        time.sleep(0.5)


def seal(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "gateway.cli", "audit", "seal"], env=env, cwd=ROOT,
                   check=True, capture_output=True)
