"""A strict national-registry simulator, speaking real HTTP on loopback.

It serves the national registry's calls that the gateway makes (docs/national-api.md): the
facility login, ``gui-don-thuoc``, ``cap-nhat-don-thuoc`` and the (unconfirmed) cancel call.
Every message is checked field by field against the national interface
(:mod:`gateway.forwarding.national_spec`: unknown or missing fields, types, formats, lengths)
and answered as the national system does: ``{"success", "checksum", "error": {field:
[messages]}}``; a refused message answers 400 with its error map. It keeps the receiver's
duplicate check (by ``ma_don_thuoc``; by ``ma_hoa_don`` for dispense reports) and records
every message (``messages``; ``GET /_simulator/messages`` when it runs on its own).

Faults it injects on demand: be down (connection refused), be slow, answer a status without
acting, act then drop the connection, fail a fraction of calls at random, expire tokens, answer
"already exists" to a first receipt (``duplicate_answers``), and hold sends until released
(:meth:`RegistrySimulator.hold_sends`), so that fault tests synchronise on its events, never
on timing. It counts when one delivery id is handled twice at the same moment (``overlaps``),
which must never happen.

``erx-gateway registry-sim --port N`` runs it; the test suite, ``make demo`` and the
benchmarks use it. Nothing in the gateway's request path knows it exists.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gateway.forwarding.national_spec import (
    check_cancellation,
    check_dispense_report,
    check_prescription,
)

ALREADY_EXISTS = "Mã đơn thuốc đã tồn tại"

#: A failure bound only: a hold a test never released lets its requests go after this long.
HOLD_BOUND_SECONDS = 300.0

#: What a handler decided to send back: (status, JSON body), or DROP (close, no answer).
Reply = tuple[int, Any] | None
DROP: Reply = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _LoopbackDouble:
    """A threaded HTTP server on 127.0.0.1 that can go down and come back on the same port."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.port = 0
        self.down = False
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.in_progress: Counter[str] = Counter()
        self.overlaps = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self) -> _LoopbackDouble:
        self._server = _Server(("127.0.0.1", self.port), self._handler())
        self.port = self._server.server_address[1]
        self.down = False
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.down = True
        self._release_holds()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    go_down = stop

    def come_up(self) -> None:
        self.start()

    def __enter__(self) -> _LoopbackDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _release_holds(self) -> None:
        """Going down lets every held request go (a stopped double holds nothing)."""

    # Overlap tracking: the same delivery id handled twice at once would be a forwarder bug.
    def _enter(self, delivery_id: str) -> None:
        if not delivery_id:
            return
        with self.lock:
            if self.in_progress[delivery_id]:
                self.overlaps += 1
            self.in_progress[delivery_id] += 1

    def _leave(self, delivery_id: str) -> None:
        if not delivery_id:
            return
        with self.lock:
            self.in_progress[delivery_id] -= 1
            if self.in_progress[delivery_id] <= 0:
                del self.in_progress[delivery_id]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    double: Any = None

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def drop(self) -> None:
        """Close the connection without any answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def answer(self, status: int, body: Any) -> None:
        payload = json.dumps(body, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, reply: Reply) -> None:
        if reply is None:  # DROP
            self.drop()
        else:
            self.answer(*reply)


class SendHold:
    """Sends held at the registry (see :meth:`RegistrySimulator.hold_sends`).

    - ``arrived``: set when the first send is held (the forwarder is mid-send from then on);
    - ``held``: the delivery ids held so far; ``waiting``: how many are held right now;
    - :meth:`release`: the held sends go on (the registry acts and answers), and the hold
      ends: later sends are not held.
    """

    def __init__(self, paths: frozenset[str], after: int) -> None:
        self.paths = paths
        self.arrived = threading.Event()
        self.released = threading.Event()
        self.held: list[str] = []
        self.waiting = 0
        self._let_through = after
        self._lock = threading.Lock()

    def release(self) -> None:
        self.released.set()

    def wait_here(self, path: str, delivery_id: str) -> None:
        """In the request's handler thread: hold it if it is one to hold, until released."""
        if path not in self.paths or self.released.is_set():
            return
        with self._lock:
            if self._let_through > 0:
                self._let_through -= 1
                return
            self.held.append(delivery_id)
            self.waiting += 1
        self.arrived.set()
        try:
            self.released.wait(HOLD_BOUND_SECONDS)
        finally:
            with self._lock:
                self.waiting -= 1


class RegistrySimulator(_LoopbackDouble):
    """The national registry. ``strict`` (default): every message is checked against the
    national interface and refused with its error map when it does not conform; ``refused``
    lists those refusals, ``messages`` every message received. Switches (set them any time):

    - ``go_down()`` / ``come_up()``: stop listening (connection refused), same port after;
    - ``slow_seconds``: wait before acting;
    - ``status``: answer this status (e.g. 500, 503) without acting;
    - ``reject_codes``: ``ma_don_thuoc`` values refused with a 400 validation error map;
    - ``act_then_drop``: act, then close the connection without answering;
    - ``failure_rate`` (with ``rng``): that fraction of calls fail at random, each failure one
      of ``failure_modes`` ("500" before acting, "drop" before acting, "act_then_drop",
      "act_then_500");
    - ``expire_tokens()``: every issued token is refused from now on (401);
    - ``hold_sends()``: sends wait (in progress, not yet acted on) until released;
    - ``duplicate_answers``: act, then answer that the registry already has it (a national
      system that took a first attempt whose answer was lost answers so to the retry).
    """

    LOGIN = "/api/auth/dang-nhap-co-so-kham-chua-benh"
    SEND = "/api/v1/gui-don-thuoc"
    DISPENSE = "/api/v1/cap-nhat-don-thuoc"
    CANCEL = "/api/v1/huy-don-thuoc"

    CHECKS: dict[str, Callable[[Any], dict[str, list[str]]]] = {
        SEND: check_prescription, DISPENSE: check_dispense_report, CANCEL: check_cancellation}

    def __init__(self, *, facility_code: str = "79001", password: str = "registry-pass",
                 seed: int = 7, strict: bool = True) -> None:
        super().__init__()
        self.strict = strict
        self.duplicate_answers = False
        self.messages: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        self.facility_code = facility_code
        self.password = password
        self.slow_seconds = 0.0
        self.status: int | None = None
        self.reject_codes: set[str] = set()
        self.act_then_drop = False
        self.failure_rate = 0.0
        self.failure_modes: tuple[str, ...] = ("500", "drop", "act_then_drop", "act_then_500")
        self.rng = random.Random(seed)
        self.tokens: set[str] = set()
        # What the registry holds (its duplicate check) and what it saw.
        self.prescriptions: dict[str, dict[str, Any]] = {}
        self.dispenses: dict[tuple[str, str], dict[str, Any]] = {}
        self.cancellations: dict[str, dict[str, Any]] = {}
        self.logins = 0
        self.calls: Counter[str] = Counter()
        self.duplicates: Counter[str] = Counter()
        self.calls_by_delivery: Counter[str] = Counter()
        self.delivery_of_code: dict[str, set[str]] = {}
        self.out_of_order = 0
        self.failures_injected = 0
        self.holds: list[SendHold] = []

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def hold_sends(self, *, after: int = 0, paths: tuple[str, ...] = (SEND,)) -> SendHold:
        """From now on, calls to ``paths`` (default: sending prescriptions) are held, the
        first ``after`` of them excepted: each waits, in progress (``in_progress``) and not yet
        acted on, until the hold's :meth:`SendHold.release`. Its ``arrived`` event tells the
        test that a sender is mid-send, for as long as the test wants::

            hold = registry.hold_sends(after=5)   # five go through, later ones wait
            wait_until(hold.arrived.is_set)       # a forwarder is mid-send now
            ...                                   # kill it, stop it, start another one
            hold.release()                        # the held sends are acted on and answered

        Authentication comes first (a refused token is answered at once); switches such as
        ``status`` and ``failure_rate`` apply after the hold, as to any call.
        """
        hold = SendHold(frozenset(paths), after)
        with self.lock:
            self.holds.append(hold)
        return hold

    def _release_holds(self) -> None:
        with self.lock:
            holds = list(self.holds)
        for hold in holds:
            hold.release()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(_Handler):
            def do_POST(self) -> None:
                double.handle(self)

            def do_GET(self) -> None:
                if self.path == "/_simulator/messages":
                    with double.lock:
                        recorded = {"messages": list(double.messages),
                                    "refused": list(double.refused)}
                    self.answer(200, recorded)
                else:
                    self.answer(404, {"message": "no such call"})

        return Handler

    def _failure(self) -> str | None:
        with self.lock:
            if self.failure_rate and self.rng.random() < self.failure_rate:
                self.failures_injected += 1
                return self.rng.choice(self.failure_modes)
        return None

    def handle(self, request: _Handler) -> None:
        raw = request.read_body()
        if self.down:
            request.drop()
            return
        path = request.path
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            request.answer(400, {"success": False, "error": {"body": ["JSON không hợp lệ"]}})
            return
        if path == self.LOGIN:
            self._login(request, body)
            return
        delivery_id = request.headers.get("Idempotency-Key", "")
        with self.lock:
            self.calls[path] += 1
            if delivery_id:
                self.calls_by_delivery[delivery_id] += 1
        self._enter(delivery_id)
        try:
            reply = self._serve(request, path, body, delivery_id)
        finally:
            self._leave(delivery_id)
        request.reply(reply)

    def _login(self, request: _Handler, body: dict[str, Any]) -> None:
        password = body.get("password", body.get("mat_khau"))
        if (body.get("ma_lien_thong_co_so_kham_chua_benh") != self.facility_code
                or password != self.password):
            request.answer(401, {"success": False, "error": {"password": ["Sai mật khẩu"]}})
            return
        token = uuid.uuid4().hex
        with self.lock:
            self.logins += 1
            self.tokens.add(token)
        request.answer(200, {"token": token, "token_type": "bearer"})

    def _serve(self, request: _Handler, path: str, body: dict[str, Any],
               delivery_id: str) -> Reply:
        """What the registry does with one call; the reply, sent once the books are done."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        with self.lock:
            authorised = scheme.lower() == "bearer" and token in self.tokens
            holds = list(self.holds)
        if not authorised:
            return 401, {"message": "Unauthorized"}
        for hold in holds:
            hold.wait_here(path, delivery_id)
        if self.slow_seconds:
            time.sleep(self.slow_seconds)
        if self.status is not None:
            return self.status, {"message": "switched to fail"}
        failure = self._failure()
        if failure == "500":
            return 500, {"message": "random failure"}
        if failure == "drop":
            return DROP
        reply = self._act(path, body, delivery_id)
        if failure == "act_then_drop" or self.act_then_drop:
            return DROP
        if failure == "act_then_500":
            return 500, {"message": "acted, then failed"}
        return reply

    def _act(self, path: str, body: dict[str, Any], delivery_id: str) -> tuple[int, Any]:
        check = self.CHECKS.get(path)
        errors = check(body) if check is not None and self.strict else {}
        with self.lock:
            self.messages.append({"path": path, "delivery_id": delivery_id, "body": body,
                                  "conforms": not errors})
            if errors:
                self.refused.append({"path": path, "body": body, "error": errors})
        if errors:
            return 400, {"success": False, "checksum": None, "error": errors}
        code = body.get("ma_don_thuoc")
        if not isinstance(code, str) or not code:
            return 400, {"success": False, "error": {"ma_don_thuoc": ["Bắt buộc"]}}
        reply = self._record(path, body, code, delivery_id)
        if self.duplicate_answers and reply[0] == 200:
            return 400, {"success": False, "error": {"ma_don_thuoc": [ALREADY_EXISTS]}}
        return reply

    def _record(self, path: str, body: dict[str, Any], code: str,
                delivery_id: str) -> tuple[int, Any]:
        with self.lock:
            if delivery_id:
                self.delivery_of_code.setdefault(f"{path} {code}", set()).add(delivery_id)
            if path == self.SEND:
                if code in self.reject_codes:
                    return 400, {"success": False, "error": {
                        "thong_tin_don_thuoc": ["Mã thuốc không hợp lệ"]}}
                if code in self.prescriptions:
                    self.duplicates[path] += 1
                    return 400, {"success": False, "error": {"ma_don_thuoc": [ALREADY_EXISTS]}}
                self.prescriptions[code] = body
                checksum = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
                return 200, {"success": True, "checksum": checksum}
            if code not in self.prescriptions:
                self.out_of_order += 1
                return 400, {"danh_sach_cac_loi": ["Không tìm thấy đơn thuốc"]}
            if path == self.DISPENSE:
                key = (code, body.get("ma_hoa_don") or "")
                if key in self.dispenses:
                    self.duplicates[path] += 1
                    return 400, {"danh_sach_cac_loi": ["Hóa đơn đã tồn tại"]}
                self.dispenses[key] = body
                return 200, {"success": True}
            if path == self.CANCEL:
                if code in self.cancellations:
                    self.duplicates[path] += 1
                    return 400, {"danh_sach_cac_loi": ["Đơn thuốc đã tồn tại trong danh sách hủy"]}
                self.cancellations[code] = body
                return 200, {"success": True}
        return 404, {"message": "no such call"}


def serve(*, port: int, facility_code: str, password: str, failure_rate: float = 0.0,
          strict: bool = True) -> None:
    """Serve the simulator on 127.0.0.1:``port`` until interrupted (``erx-gateway
    registry-sim``); point ``ERX_REGISTRY_BASE_URL`` at it."""
    simulator = RegistrySimulator(facility_code=facility_code, password=password, strict=strict)
    simulator.port = port
    simulator.failure_rate = failure_rate
    with simulator:
        print(f"national registry simulator on {simulator.url} (facility {facility_code}, "
              f"{'strict' if strict else 'lenient'}); messages at {simulator.url}/_simulator/messages",
              flush=True)
        try:
            while True:
                time.sleep(5)
        except KeyboardInterrupt:
            pass
