"""Tools follow the instance: `make run` publishes its ports in its run file; the command line
and `make demo` use them (unless ERX_* says otherwise) and say which instance they act on."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner

from gateway.cli import main
from gateway.core import config as settings
from gateway.runtime import supervisor
from tests.support.cli import cli_env
from tools import demo


def _published(var_dir: Path, **overrides: object) -> dict:
    values = settings.load({"VAR_DIR": str(var_dir), "ENV": "development", "HTTP_PORT": 8123,
                            "EMBEDDED_DB_PORT": 27123, **overrides})
    supervisor.write_run_file(values, os.getpid())  # this process stands for the gateway
    return values


def test_the_run_file_publishes_ports_but_no_database_uri(tmp_path: Path) -> None:
    values = _published(tmp_path, MONGODB_URI="mongodb://user:secret@db1/")
    written = json.loads(supervisor.run_file(values).read_text())
    assert written["HTTP_PORT"] == 8123 and written["EMBEDDED_DB_PORT"] == 27123
    assert written["url"] == "http://127.0.0.1:8123" and written["external_database"] is True
    assert "secret" not in json.dumps(written)


def test_commands_adopt_the_running_instance_unless_told_otherwise(tmp_path: Path) -> None:
    values = _published(tmp_path)
    adopted, running = supervisor.adopted_settings(values, {})
    assert adopted["EMBEDDED_DB_PORT"] == 27123 and adopted["HTTP_PORT"] == 8123
    assert running["pid"] == os.getpid()
    told, _ = supervisor.adopted_settings(values, {"ERX_EMBEDDED_DB_PORT": "27999"})
    assert "EMBEDDED_DB_PORT" not in told and told["ENV"] == "development"
    supervisor.run_file(values).write_text(json.dumps({**json.loads(
        supervisor.run_file(values).read_text()), "pid": 2**22 + 12345}))  # no such process
    assert supervisor.adopted_settings(values, {}) == ({}, {})


def test_a_command_says_which_instance_it_acts_on(app_config: dict) -> None:
    env = cli_env(app_config)
    _published(Path(app_config["VAR_DIR"]))
    result = CliRunner().invoke(main, ["parties", "list"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
    assert f"the gateway of {app_config['VAR_DIR']} (pid {os.getpid()}, " \
           "http://127.0.0.1:8123), database ERX_MONGODB_URI" in result.stderr


def test_the_demo_talks_to_the_published_gateway(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("ERX_DEMO_URL", raising=False)
    monkeypatch.setenv("ERX_VAR_DIR", str(tmp_path))
    assert demo.target() == (None, f"no make run of {tmp_path} is running")
    _published(tmp_path)
    assert demo.target() == ("http://127.0.0.1:8123",
                             f"the make run of {tmp_path} (pid {os.getpid()})")
    monkeypatch.setenv("ERX_DEMO_URL", "http://127.0.0.1:9/")
    assert demo.target() == ("http://127.0.0.1:9", "ERX_DEMO_URL")


def test_config_describes_the_running_instance_and_says_which(tmp_path: Path) -> None:
    _published(tmp_path)
    env = {"ERX_VAR_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["config", "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    rows = {row["variable"]: row for row in json.loads(result.stdout)}
    assert rows["ERX_HTTP_PORT"]["value"] == "8123"
    assert rows["ERX_EMBEDDED_DB_PORT"]["value"] == "27123"
    assert rows["ERX_ENV"]["value"] == "development"
    assert rows["ERX_HTTP_PORT"]["source"] == "running gateway"
    assert f"the gateway of {tmp_path} (pid {os.getpid()}, http://127.0.0.1:8123)" \
        in result.stderr
    told = CliRunner().invoke(main, ["config", "--format", "json"],
                              env={**env, "ERX_HTTP_PORT": "9001"})
    told_rows = {row["variable"]: row for row in json.loads(told.stdout)}
    assert told_rows["ERX_HTTP_PORT"]["value"] == "9001"
    assert told_rows["ERX_HTTP_PORT"]["source"] == "environment"
    alone = CliRunner().invoke(main, ["config"], env={"ERX_VAR_DIR": str(tmp_path / "none")})
    assert "no gateway of" in alone.stderr and "ERX_HTTP_PORT=8000  (default)" in alone.stdout
