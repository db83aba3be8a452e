"""Attack class: what reaches gunicorn as ``erx-gateway run`` starts it: huge bodies and request
lines, and patient identifiers in the paths and query strings of every route, with access
logging on.

Probe findings: a 20 MB body got a broken pipe (3 MB sometimes did) instead of the 413; a
request line over gunicorn's 8,190 bytes got gunicorn's HTML page; a CCCD sent where a
prescription code goes (``/v2/prescriptions/{x}``, ``/api/v1/thong-tin-don-thuoc/{x}``,
``/console/{x}``) was written to the log in plain text.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from gateway.core import config as settings
from gateway.runtime.supervisor import gunicorn_command
from gateway.web.problems import PROBLEM_MEDIA_TYPE
from tests.support.environment import free_port

pytestmark = pytest.mark.slow


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


CCCD = "079090001234"
CMND = "123456789"
BHYT = "DN4797915123456"
QR = (f"{_b64({'alg': 'EdDSA', 'kid': 'k1'})}."
      f"{_b64({'iat': 1767225600, 'ma_don_thuoc': '79001ABCDEFG-c', 'sha256': 'ab' * 32})}."
      f"{base64.urlsafe_b64encode(b'x' * 64).rstrip(b'=').decode()}")
IDENTIFIERS = (CCCD, CMND, BHYT, QR)


class Served:
    """A gunicorn started with ``erx-gateway run``'s command line, access log on."""

    def __init__(self, base: str, logs: list[Path]) -> None:
        self.base = base
        self.port = int(base.rsplit(":", 1)[1])
        self.logs = logs

    def log_text(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in self.logs if path.exists())

    def raw(self, request: bytes) -> bytes:
        """Send ``request`` as is; the whole answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(request)
            chunks = []
            while True:
                chunk = sock.recv(65_536)
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks)


@pytest.fixture(scope="module")
def served(mongo_server: Any, tmp_path_factory: pytest.TempPathFactory,
           data_key_file: str) -> Iterator[Served]:
    from tests.support.environment import TEST_CONFIG

    where = tmp_path_factory.mktemp("served")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("ERX_")}
    env.update({"ERX_ENV": "development", "ERX_MONGODB_URI": mongo_server.uri,
                "ERX_DB_NAME": f"served_{port}", "ERX_VAR_DIR": str(where / "var"),
                "ERX_DATA_KEY_FILE": data_key_file, "ERX_TOKEN_SECRET": TEST_CONFIG["TOKEN_SECRET"],
                "ERX_HTTP_PORT": str(port), "ERX_WORKERS": "1", "ERX_THREADS": "4",
                "ERX_LOG_LEVEL": "info", "ERX_SECRET_HASH_TIME_COST": "1",
                "ERX_SECRET_HASH_MEMORY_KIB": "1024"})
    values = settings.load({}, environ=env)
    access, errors, stderr = where / "access.log", where / "error.log", where / "stderr.log"
    argv = gunicorn_command(values)
    argv[-1:-1] = ["--access-logfile", str(access), "--error-logfile", str(errors)]
    with stderr.open("wb") as sink:
        process = subprocess.Popen(argv, env=env, stdout=sink, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            assert process.poll() is None, stderr.read_text()
            assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        yield Served(base, [access, errors, stderr])
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_run_starts_gunicorn_with_the_gateway_worker_and_logger() -> None:
    argv = gunicorn_command(settings.load({}, environ={}))
    assert argv[argv.index("--worker-class") + 1] == "gateway.runtime.gunicorn.ProblemWorker"
    assert argv[argv.index("--logger-class") + 1] == "gateway.runtime.gunicorn.RedactingLogger"
    assert argv[argv.index("--limit-request-line") + 1] == "8190"  # gunicorn's maximum, never 0


def _problem(answer: requests.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text[:300]
    assert answer.headers["Content-Type"].startswith(PROBLEM_MEDIA_TYPE), answer.headers
    body = answer.json()
    assert body["status"] == status
    return body


def _send_body(served: Served, head: bytes, body: Iterator[bytes]) -> bytes:
    """Send a request the way a plain client does (the whole body, then read the answer); a
    reset or broken pipe fails the test (urllib3 would hide it by reading an early answer)."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        try:
            sock.sendall(head)
            for chunk in body:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise AssertionError(f"the connection was cut while sending: {exc!r}") from None
        chunks = []
        try:
            while chunk := sock.recv(65_536):
                chunks.append(chunk)
        except ConnectionResetError as exc:
            raise AssertionError(f"the connection was reset before the answer: {exc!r}") from None
    return b"".join(chunks)


@pytest.mark.parametrize("megabytes", [3, 20])
def test_a_body_of_any_size_gets_the_413_not_a_reset(served: Served, megabytes: int) -> None:
    size = megabytes * 1_048_576
    head = (f"POST /v2/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n\r\n").encode()
    for _ in range(3):  # "sometimes": every round must answer
        raw = _send_body(served, head, (b" " * 1_048_576 for _ in range(megabytes)))
        status, media_type, body = _status_and_type(raw)
        assert status == 413 and media_type.startswith(PROBLEM_MEDIA_TYPE), raw[:300]
        assert json.loads(body)["type"].endswith(":too-large")


def test_a_chunked_body_of_any_size_gets_the_413(served: Served) -> None:
    head = (b"POST /v2/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    piece = b" " * 1_048_576
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * 20 + [b"0\r\n\r\n"]
    status, media_type, _ = _status_and_type(_send_body(served, head, iter(chunks)))
    assert status == 413 and media_type.startswith(PROBLEM_MEDIA_TYPE)


def _status_and_type(raw: bytes) -> tuple[int, str, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), fields.get("Content-Type", ""), body


@pytest.mark.parametrize("length", [5_000, 8_190, 8_191, 20_000, 70_000])
def test_a_long_request_line_is_414_problem_json(served: Served, length: int) -> None:
    prefix = "GET /v2/drugs?q="
    suffix = " HTTP/1.1"
    target = prefix + "a" * (length - len(prefix) - len(suffix)) + suffix
    raw = served.raw(target.encode() + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
    status, media_type, body = _status_and_type(raw)
    assert status == 414, raw[:300]
    assert media_type.startswith(PROBLEM_MEDIA_TYPE), raw[:300]
    assert json.loads(body)["type"].endswith(":uri-too-long")


def test_oversized_header_fields_are_431_problem_json(served: Served) -> None:
    raw = served.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 +
                     b"\r\nConnection: close\r\n\r\n")
    status, media_type, _ = _status_and_type(raw)
    assert status == 431 and media_type.startswith(PROBLEM_MEDIA_TYPE), raw[:300]


def _targets(app: Flask) -> list[str]:
    """Every route with each identifier in each of its variables, the same with identifiers in
    the query string, and routes that do not exist."""
    targets = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/static") or rule.rule.startswith("/docs/assets"):
            continue
        for identifier in IDENTIFIERS:
            path = re.sub(r"<(?:[^:<>]+:)?[^<>]+>", identifier, rule.rule)
            targets.append(path)
            targets.append(f"{path}?q={identifier}&patient={identifier}&from={identifier}")
    for identifier in IDENTIFIERS:
        targets += [f"/v2/prescriptions/{identifier}", f"/api/v1/thong-tin-don-thuoc/{identifier}",
                    f"/console/{identifier}", f"/nowhere/{identifier}/x",
                    f"/v2/prescriptions?patient={identifier}",
                    f"/nowhere?id={identifier}&x=%30%37%39%30%39%30%30%30%31%32%33%34"]
    return targets


def test_no_patient_identifier_reaches_any_log(served: Served, app: Flask) -> None:
    targets = _targets(app)
    session = requests.Session()
    sent = 0
    for target in targets:
        for method in ("GET", "POST"):
            session.request(method, served.base + target, timeout=30,
                            headers={"Authorization": "Bearer x.y.z", "Referer": served.base + target},
                            json={} if method == "POST" else None)
            sent += 1
    deadline = time.monotonic() + 60  # a deadline for gunicorn's processes, not a speed
    while served.log_text().count('"erx.access"') < sent and time.monotonic() < deadline:
        time.sleep(0.1)  # gunicorn's and the app's logs are written as the answers go out
    text = served.log_text()
    assert text.count('"erx.access"') >= sent, "the app's request log is missing lines"
    assert text.count(" HTTP/1.1\"") >= sent, "gunicorn's access log is missing lines"
    for identifier in (*IDENTIFIERS, QR.split(".")[1]):
        assert identifier not in text, f"{identifier[:20]}... is in the log"
    assert "<digits>" in text and "<bhyt>" in text and "<qr>" in text
    print(f"{sent} requests on {len(targets)} targets ({len(list(app.url_map.iter_rules()))} "
          f"routes), {len(text.splitlines())} log lines: no identifier found")
