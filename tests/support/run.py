"""`erx-gateway run` as a child process: start it, wait until it answers, interrupt it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import requests


def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(BIN / "erx-gateway"), "run"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_ready(process: subprocess.Popen[bytes], base: str, timeout: float = 60.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
        try:
            if (requests.get(f"{base}/healthz", timeout=5).status_code == 200
                    and requests.get(f"{base}/readyz", timeout=5).status_code == 200):
                return time.monotonic() - started
        except (requests.ConnectionError, requests.Timeout):
            pass  # workers still booting
        time.sleep(0.25)
    raise AssertionError(f"not ready within {timeout} s")


def interrupt(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    output, _ = process.communicate(timeout=60)
    return output.decode()


BIN = Path(sys.executable).parent


def database_pid(port: str) -> int:
    """The pid of the SecantusDB process serving ``port`` (a child of the supervisor)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"secantus" in cmdline and port.encode() in cmdline:
            return int(entry.name)
    raise AssertionError(f"no embedded database on port {port}")
