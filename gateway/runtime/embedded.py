"""The embedded database: SecantusDB run as a child process on loopback.

SecantusDB is GPL-2.0 and an optional extra (``embedded``), so it is only ever run as its own
process (``python -m secantus``), never imported. The gateway talks to it through pymongo
exactly as to mongod; nothing here is used when ``ERX_MONGODB_URI`` is set.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pymongo
from pymongo.errors import PyMongoError

from gateway.core.config import check_embedded_database
from gateway.core.db import embedded_uri, mongodb_uri
from gateway.core.settings import Settings


class EmbeddedDatabaseError(RuntimeError):
    """The embedded database could not be started or is not installed."""


def answers(uri: str, timeout_ms: int = 500) -> bool:
    client: pymongo.MongoClient = pymongo.MongoClient(
        uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM a child process, then SIGKILL it if it has not exited after ``timeout``."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class EmbeddedDatabase:
    """One SecantusDB server process.

    ``storage_path`` ``":memory:"`` gives a throw-away database (tests); a directory keeps
    the data across restarts.
    """

    def __init__(self, *, storage_path: str, host: str = "127.0.0.1", port: int,
                 cache_size: str = "512M", log_path: str | None = None,
                 test_commands: bool = False) -> None:
        self.storage_path = storage_path
        self.host = host
        self.port = port
        self.cache_size = cache_size
        self.log_path = log_path
        self.test_commands = test_commands
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbeddedDatabase:
        var_dir = Path(settings.var_dir)
        return cls(storage_path=str(var_dir / "db"), host=settings.embedded_db_host,
                   port=settings.embedded_db_port, cache_size=settings.embedded_db_cache,
                   log_path=str(var_dir / "log" / "embedded-db.log"))

    @property
    def uri(self) -> str:
        return embedded_uri(self.host, self.port)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def command(self) -> list[str]:
        """The server's command line. ``--sync-on-commit``: every commit fsyncs the journal
        before it is answered, whatever the write concern of the write (the gateway's writes
        carry ``j: true`` as well); docs/durability.md says why and what it costs."""
        cmd = [sys.executable, "-m", "secantus", "--host", self.host, "--port", str(self.port),
               "--storage-path", self.storage_path, "--log-level", "WARNING",
               "--cache-size", self.cache_size, "--sync-on-commit"]
        if self.test_commands:
            cmd.append("--enable-test-commands")
        return cmd

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until it answers a ping.

        Raises:
            EmbeddedDatabaseError: SecantusDB is not installed, exited, or did not answer in time.
        """
        if importlib.util.find_spec("secantus") is None:
            raise EmbeddedDatabaseError(
                "the embedded database is not installed: pip install 'erx-gateway[embedded]' "
                "or set ERX_MONGODB_URI")
        if self.storage_path != ":memory:":
            # Only the gateway's user may read the data files (and the journal) at all.
            Path(self.storage_path).mkdir(parents=True, exist_ok=True)
            os.chmod(self.storage_path, 0o700)
        log: IO[bytes] | int
        if self.log_path:
            Path(self.log_path).parent.mkdir(parents=True, exist_ok=True)
            log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        else:
            log = subprocess.DEVNULL
        # A new session so that Ctrl-C in a terminal reaches only our supervisor, which then
        # stops this process in order (the database last).
        # SECANTUS_TEST_FAST_STORAGE=1 in the environment would open the store without the
        # journal's sync; SECANTUS_FORCE_DURABLE=1 overrides it.
        env = {**os.environ, "SECANTUS_FORCE_DURABLE": "1"}
        self._process = subprocess.Popen(self.command(), stdout=log, stderr=log, env=env,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         umask=0o077)
        if not isinstance(log, int):
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedDatabaseError(
                    f"the embedded database exited with status {self._process.returncode}"
                    + (f"; see {self.log_path}" if self.log_path else ""))
            if answers(self.uri, timeout_ms=300):
                return
            time.sleep(0.2)
        self.stop()
        raise EmbeddedDatabaseError(f"the embedded database did not answer on {self.uri} "
                                    f"within {timeout:.0f} s")

    def exit_status(self) -> int | None:
        """The status the server exited with, or None while it runs (or was never started)."""
        return self._process.poll() if self._process is not None else None

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server: SIGTERM (WiredTiger closes cleanly), then SIGKILL after ``timeout``."""
        process, self._process = self._process, None
        if process is not None:
            terminate(process, timeout)

    def kill(self) -> None:
        """Kill without a clean shutdown (fault tests)."""
        if self._process is not None:
            os.kill(self._process.pid, signal.SIGKILL)
            self._process.wait()
            self._process = None

    def __enter__(self) -> EmbeddedDatabase:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def database_for_command(settings: Settings) -> Iterator[str]:
    """The URI a command-line call should use, starting the embedded database if needed.

    With ``MONGODB_URI`` set, that URI. Otherwise the embedded database of ``VAR_DIR``: the one
    ``make run`` started if it answers, else one started for the duration of the command.
    """
    check_embedded_database(settings)
    uri = mongodb_uri(settings)
    if settings.mongodb_uri or answers(uri):
        yield uri
        return
    with EmbeddedDatabase.from_settings(settings) as database:
        yield database.uri
