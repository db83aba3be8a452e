"""``erx-gateway run``: everything ``make run`` starts, and stops on Ctrl-C.

Order of start: the embedded database (unless ``MONGODB_URI`` is set), first-run preparation
(indexes and the bootstrap steps, e.g. the demo catalog: the ``prepare`` function the command
line gives), gunicorn, then the background workers it names (the forwarder). This module
imports no capability: what to prepare and which workers to start are its arguments.
Children run in their own sessions, with a parent-death signal on Linux, so Ctrl-C reaches only
this process, which stops them in reverse order (database last) and never leaves an orphan.

A dead embedded database is started again on the same data (WiredTiger recovers from its
journal); meanwhile requests answer 503 with ``Retry-After`` and ``/readyz`` recovers by itself
once it answers. Past ``EMBEDDED_DB_MAX_RESTARTS`` restarts in ``EMBEDDED_DB_RESTART_WINDOW_SECONDS``,
or when a restart fails, everything stops with a non-zero status, for a service manager to act.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gateway.core.config import check_embedded_database
from gateway.core.db import mongodb_uri
from gateway.core.settings import Settings
from gateway.runtime.embedded import EmbeddedDatabase, EmbeddedDatabaseError, answers, terminate

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(argv: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=dict(env), stdin=subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=_die_with_parent)


def run_file(settings: Settings) -> Path:
    """Where a running ``erx-gateway run`` says how it runs, so that command-line calls from
    another terminal act in the same mode (see :func:`running_gateway`)."""
    return Path(settings.var_dir) / "run" / "gateway.json"


#: Settings a running gateway publishes in its run file, which command-line calls and
#: ``make demo`` adopt unless their own environment sets them (``ERX_<NAME>``).
PUBLISHED = ("ENV", "HTTP_HOST", "HTTP_PORT", "EMBEDDED_DB_HOST", "EMBEDDED_DB_PORT",
             "EMBEDDED_DB_IN_PRODUCTION")


def write_run_file(settings: Settings, pid: int) -> None:
    """Publish how this gateway runs: its pid, mode, HTTP address and embedded database port
    (never the URI of an external database: it may hold a password)."""
    path = run_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    published = {name: settings.by_name()[name] for name in PUBLISHED}
    published.update(pid=pid, url=f"http://{settings.http_host}:{settings.http_port}",
                     external_database=bool(settings.mongodb_uri))
    path.write_text(json.dumps(published, indent=1))


def running_gateway(settings: Settings) -> dict[str, Any]:
    """What the ``erx-gateway run`` of this ``VAR_DIR`` published, if it is running, else {}:
    its :data:`PUBLISHED` settings, and ``pid``, ``url``, ``external_database``."""
    try:
        published = json.loads(run_file(settings).read_text())
        os.kill(int(published["pid"]), 0)  # raises if no such process
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if published.get("ENV") not in ("development", "production"):
        return {}
    return {name: published[name] for name in (*PUBLISHED, "pid", "url", "external_database")
            if name in published}


def adopted_settings(settings: Settings, environ: Mapping[str, str]) -> tuple[
        dict[str, Any], dict[str, Any]]:
    """The running gateway's published settings a command should take (those its environment
    does not set itself), and what was published (empty when no gateway of this VAR_DIR runs)."""
    running = running_gateway(settings)
    adopted = {name: running[name] for name in PUBLISHED
               if name in running and f"ERX_{name}" not in environ}
    return adopted, running


#: the longest request line gunicorn reads (its maximum; 0 would lift the limit altogether)
GUNICORN_MAX_REQUEST_LINE = 8190


def gunicorn_limits(settings: Settings) -> list[str]:
    """gunicorn's request-line and header limits, set above the gateway's own
    (``MAX_URL_BYTES``, ``MAX_HEADER_BYTES``, ``MAX_HEADER_FIELDS``) so that an oversized
    request reaches the gateway, which answers 414 or 431 in problem+json. gunicorn reads at
    most 8,190 bytes of request line: a longer one it refuses itself, and
    :class:`gateway.runtime.gunicorn.ProblemWorker` answers that refusal as problem+json too
    (the limit is never lifted: a worker would buffer whatever a client sends)."""
    return ["--limit-request-line", str(GUNICORN_MAX_REQUEST_LINE),
            "--limit-request-field_size", str(settings.max_header_bytes * 2),
            "--limit-request-fields", str(settings.max_header_fields * 2)]


def gunicorn_command(settings: Settings) -> list[str]:
    """The gunicorn that ``erx-gateway run`` starts: its workers, threads, address and limits,
    the gateway's worker (problem+json for gunicorn's own refusals, a bounded drain of unread
    bodies) and logger (no patient identifier in its logs)."""
    bind = f"{settings.http_host}:{settings.http_port}"
    return [sys.executable, "-m", "gunicorn", "--workers", str(settings.workers),
            "--threads", str(settings.threads), "--bind", bind,
            "--graceful-timeout", "10", *gunicorn_limits(settings),
            "--worker-class", "gateway.runtime.gunicorn.ProblemWorker",
            "--logger-class", "gateway.runtime.gunicorn.RedactingLogger",
            "gateway:create_app()"]


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _restart(database: EmbeddedDatabase, restarts: list[float], settings: Settings) -> bool:
    """Start a dead embedded database again; False when it may not or could not be."""
    now = time.monotonic()
    window = settings.embedded_db_restart_window_seconds
    restarts[:] = [at for at in restarts if now - at < window]
    say(f"the embedded database exited with status {database.exit_status()}")
    if len(restarts) >= settings.embedded_db_max_restarts:
        say(f"it died {len(restarts) + 1} times within {window:g} s: stopping everything")
        return False
    restarts.append(now)
    say("restarting the embedded database ...")
    try:
        database.start()
    except EmbeddedDatabaseError as exc:
        say(f"the embedded database did not restart: {exc}; stopping everything")
        return False
    say("the embedded database is back")
    return True


def run(settings: Settings, *, prepare: Callable[[str], bool],
        workers: Sequence[list[str]]) -> int:
    """Run until interrupted; the exit status is non-zero when a child failed.

    ``prepare(uri)`` readies the database at ``uri`` (indexes, bootstrap steps) and says
    whether it answered; ``workers`` are the argv lists of the processes started beside
    gunicorn.
    """
    check_embedded_database(settings)  # before anything starts (raises ConfigError)
    var_dir = Path(settings.var_dir)
    run_dir = var_dir / "run"
    var_dir.mkdir(parents=True, exist_ok=True)
    stopping = False

    def request_stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    database: EmbeddedDatabase | None = None
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    status = 0
    try:
        uri = mongodb_uri(settings)
        if not settings.mongodb_uri:
            if answers(uri):
                say(f"something already answers on {uri}: is another `make run` up? "
                     f"Stop it, or set ERX_EMBEDDED_DB_PORT.")
                return 1
            database = EmbeddedDatabase.from_settings(settings)
            say(f"starting the embedded database (data in {database.storage_path}) ...")
            database.start()
        if not prepare(uri):
            say(f"the database at {uri if not settings.mongodb_uri else 'ERX_MONGODB_URI'} "
                f"does not answer")
            return 1
        write_run_file(settings, os.getpid())

        env = dict(os.environ)
        env["ERX_MONGODB_URI"] = uri
        prometheus_dir = run_dir / "prometheus"
        shutil.rmtree(prometheus_dir, ignore_errors=True)
        prometheus_dir.mkdir(parents=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(prometheus_dir)
        bind = f"{settings.http_host}:{settings.http_port}"
        children.append(("gunicorn", _spawn(gunicorn_command(settings), env)))
        for argv in workers:
            children.append((argv[-1], _spawn(list(argv), env)))

        url = f"http://{bind}"
        say(f"\nerx-gateway is starting on {url}  (docs: {url}/docs, health: {url}/readyz)\n"
             f"Create a first party in another terminal:\n"
             f"  .venv/bin/erx-gateway parties create --role clinic --code 79001 "
             f"--name \"Phòng khám Demo\"\n"
             f"Press Ctrl-C to stop.\n")
        restarts: list[float] = []
        while not stopping:
            dead = database is not None and database.exit_status() is not None
            if database is not None and dead and not _restart(database, restarts, settings):
                status = 1
                break
            for name, process in children:
                if process.poll() is not None:
                    say(f"{name} exited with status {process.returncode}; stopping")
                    status = 1
                    stopping = True
                    break
            time.sleep(0.2)
    finally:
        run_file(settings).unlink(missing_ok=True)
        for _name, process in reversed(children):
            terminate(process, 20.0)
        if database is not None:
            say("stopping the embedded database ...")
            database.stop()
    say("stopped")
    return status
