"""What the whole suite runs with: the settings of a test app, the sample registry file, a free loopback port."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

#: 40 real records of the Drug Administration's registry, in its published column layout.
DAV_SAMPLE = Path(__file__).resolve().parents[1] / "data" / "dav-registry-sample.csv"


# Cheap Argon2 parameters: the tests create hundreds of parties.
TEST_CONFIG: dict[str, Any] = {
    "ENV": "development",
    "TOKEN_SECRET": "test-token-secret-that-is-long-enough-0123456789",
    "SECRET_HASH_TIME_COST": 1,
    "SECRET_HASH_MEMORY_KIB": 1024,
    "LOG_LEVEL": "warning",
    # Short server-side waits: an app closed at teardown lets go of its stream at once.
    "CHANGE_STREAM_AWAIT_MS": 200,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
