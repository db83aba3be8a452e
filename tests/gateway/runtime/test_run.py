"""`erx-gateway run` (what `make run` starts): ready within 60 s, reachable by the CLI,
Ctrl-C stops everything, and the data survives a restart."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.support.environment import free_port
from tests.support.run import BIN, interrupt, start, wait_ready

pytestmark = pytest.mark.slow


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def processes_mentioning(marker: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in cmdline or marker.encode() in environ:
            found.append(f"{entry.name}: {cmdline}")
    return found


def test_run_serves_stops_cleanly_and_keeps_data(run_env: dict[str, str]) -> None:
    base = f"http://127.0.0.1:{run_env['ERX_HTTP_PORT']}"
    marker = run_env["ERX_VAR_DIR"]
    process = start(run_env)
    try:
        wait_ready(process, base)
        # As in README: another terminal, where make run's ERX_ENV=development is not set.
        other_terminal = {k: v for k, v in run_env.items() if k != "ERX_ENV"}
        created = subprocess.run(
            [str(BIN / "erx-gateway"), "parties", "create", "--role", "clinic", "--code",
             "79001", "--name", "Phòng khám Demo"], env=other_terminal, capture_output=True,
            text=True, timeout=120)
        assert created.returncode == 0, created.stderr
        credentials = json.loads(created.stdout)
    finally:
        output = interrupt(process)
    assert process.returncode == 0, output
    assert "stopped" in output
    assert not port_open(int(run_env["ERX_HTTP_PORT"]))
    assert not port_open(int(run_env["ERX_EMBEDDED_DB_PORT"]))
    assert processes_mentioning(marker) == []
    assert not (Path(marker) / "run" / "gateway.json").exists()

    process = start(run_env)
    try:
        wait_ready(process, base)
        answer = requests.post(f"{base}/v2/auth/token", timeout=10, json={
            "grant_type": "client_credentials", **credentials})
        assert answer.status_code == 200, answer.text
        # Oversized requests reach the gateway through gunicorn (its limits are set above the
        # gateway's): problem+json, never gunicorn's HTML page.
        long_query = requests.get(f"{base}/v2/audit/tree-head?tree_size={'1' * 4100}", timeout=10)
        big_header = requests.get(f"{base}/healthz", headers={"X-Big": "x" * 9000}, timeout=10)
        for refused, status in ((long_query, 414), (big_header, 431)):
            assert refused.status_code == status, refused.text[:300]
            assert refused.headers["Content-Type"] == "application/problem+json"
            assert refused.json()["status"] == status
    finally:
        interrupt(process)
    assert processes_mentioning(marker) == []


def test_readyz_follows_the_database(make_app, tmp_path: Path) -> None:
    """503 while the database is down; 200 again when it is back, with no restart."""
    from gateway.runtime.embedded import EmbeddedDatabase

    database = EmbeddedDatabase(storage_path=str(tmp_path / "db"), port=free_port())
    database.start()
    try:
        app = make_app(MONGODB_URI=database.uri, MONGODB_TIMEOUT_MS=500)
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        database.kill()
        down = client.get("/readyz")
        assert down.status_code == 503
        assert down.get_json()["checks"]["database"] == "failing"
        database.start()
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "readyz did not recover"
            time.sleep(0.5)
    finally:
        database.stop()
