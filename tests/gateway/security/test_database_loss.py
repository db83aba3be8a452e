"""Attack class (availability): the database dies or stops answering.

Probe findings: requests answered 500 (``ServerSelectionTimeoutError``); the supervisor neither
restarted the embedded database nor exited, so ``/readyz`` stayed 503 for good; ``connect()``
set no socket timeout, so a database that stopped answering held every request thread.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from gateway.core import config
from gateway.core.db import connect
from gateway.runtime.embedded import EmbeddedDatabase
from gateway.web.context import services
from tests.support.environment import free_port
from tests.support.http import assert_problem
from tests.support.run import database_pid, interrupt, start, wait_ready


def test_requests_answer_503_with_retry_after_while_the_database_is_down(
        make_app, make_party, tmp_path: Path) -> None:
    database = EmbeddedDatabase(storage_path=str(tmp_path / "db"), port=free_port())
    database.start()
    try:
        app = make_app(MONGODB_URI=database.uri, MONGODB_TIMEOUT_MS=300)
        client = app.test_client()
        with app.app_context():
            party, secret = services().parties.create(role="clinic", code="79001", name="A")
        token = client.post("/v2/auth/token", json={"grant_type": "client_credentials",
                                                     "client_id": party.client_id,
                                                     "client_secret": secret}).get_json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert client.get("/v2/prescriptions", headers=headers).status_code == 200
        database.kill()
        for response in (client.get("/v2/prescriptions", headers=headers),
                         client.post("/v2/prescriptions", headers=headers, json={"x": 1}),
                         client.post("/v2/auth/token", json={"grant_type": "client_credentials",
                                                             "client_id": party.client_id,
                                                             "client_secret": secret})):
            problem = assert_problem(response, 503, "database-unavailable")
            assert response.headers["Retry-After"] == "5"
            assert problem["errors"][0]["code"] == "service.database_unavailable"
        database.start()
        deadline = time.monotonic() + 30
        while client.get("/v2/prescriptions", headers=headers).status_code != 200:
            assert time.monotonic() < deadline, "requests did not recover with the database"
    finally:
        database.stop()


def test_the_client_bounds_every_wait() -> None:
    client = connect(config.load({"MONGODB_URI": "mongodb://127.0.0.1:1/"}, environ={}))
    try:
        options = client.options
        assert options.server_selection_timeout == 2.0
        assert options.pool_options.socket_timeout == 30.0
        assert options.pool_options.connect_timeout == 2.0
    finally:
        client.close()


@pytest.mark.slow
def test_the_supervisor_restarts_a_dead_database_and_readyz_recovers(run_env: dict[str, str]) -> None:
    base = f"http://127.0.0.1:{run_env['ERX_HTTP_PORT']}"
    process = start(run_env)
    try:
        wait_ready(process, base)
        first = database_pid(run_env["ERX_EMBEDDED_DB_PORT"])
        os.kill(first, signal.SIGKILL)
        wait_ready(process, base)  # asserts the supervisor is still running
        assert database_pid(run_env["ERX_EMBEDDED_DB_PORT"]) != first
    finally:
        output = interrupt(process)
    assert "restarting the embedded database" in output, output
    assert process.returncode == 0, output


@pytest.mark.slow
def test_past_its_restart_budget_the_supervisor_exits_non_zero(run_env: dict[str, str]) -> None:
    base = f"http://127.0.0.1:{run_env['ERX_HTTP_PORT']}"
    process = start({**run_env, "ERX_EMBEDDED_DB_MAX_RESTARTS": "0"})
    try:
        wait_ready(process, base)
        os.kill(database_pid(run_env["ERX_EMBEDDED_DB_PORT"]), signal.SIGKILL)
        output, _ = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        output = interrupt(process).encode()
        raise AssertionError(output) from None
    assert process.returncode == 1, output
    assert b"stopping everything" in output
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}/healthz", timeout=2)
