"""Test doubles for the forwarder's receivers, speaking real HTTP on loopback.

- :class:`RegistryDouble`: the strict national-registry simulator that ships with the gateway
  (:class:`gateway.forwarding.simulator.RegistrySimulator`): every message it accepts conforms
  to the national interface.
- :class:`WebhookReceiver`: a pharmacy's webhook endpoint, dropping repeats by the
  ``Erx-Delivery-Id`` header, optionally holding chosen paths until released.

Both count everything and record when one delivery id is being handled twice at the same
moment (``overlaps``), which must never happen. Tests synchronise on their events (a hold's
``arrived``, the receiver's ``holding``), never on timing.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from gateway.forwarding.simulator import (
    DROP,
    HOLD_BOUND_SECONDS,
    RegistrySimulator,
    Reply,
    SendHold,
    _Handler,
    _LoopbackDouble,
)

RegistryDouble = RegistrySimulator

__all__ = ["DROP", "RegistryDouble", "SendHold", "WebhookReceiver"]


class WebhookReceiver(_LoopbackDouble):
    """A pharmacy webhook endpoint (any path). ``hold_paths``: requests to these paths wait
    until :meth:`release` (``holding`` is set when one does; ``hold_timeout`` is only a bound
    for a test that never releases); ``status``: answer this status instead."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.accepted: dict[str, dict[str, Any]] = {}
        self.duplicates = 0
        self.status: int | None = None
        self.hold_paths: set[str] = set()
        self.hold_timeout = HOLD_BOUND_SECONDS
        self.holding = threading.Event()
        self._released = threading.Event()

    def release(self) -> None:
        self._released.set()

    _release_holds = release

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(_Handler):
            def do_POST(self) -> None:
                receiver.handle(self)

        return Handler

    def handle(self, request: _Handler) -> None:
        raw = request.read_body()
        if self.down:
            request.drop()
            return
        delivery_id = request.headers.get("Erx-Delivery-Id", "")
        record = {"path": request.path, "headers": dict(request.headers.items()), "body": raw}
        with self.lock:
            self.received.append(record)
        self._enter(delivery_id)
        try:
            reply = self._receive(request, delivery_id, record)
        finally:
            self._leave(delivery_id)
        request.reply(reply)

    def _receive(self, request: _Handler, delivery_id: str, record: dict[str, Any]) -> Reply:
        if request.path in self.hold_paths:
            self.holding.set()
            self._released.wait(self.hold_timeout)
        if self.status is not None:
            return self.status, {"error": "switched to fail"}
        with self.lock:
            if delivery_id in self.accepted:
                self.duplicates += 1
            else:
                self.accepted[delivery_id] = record
        return 200, {"ok": True}
