"""What gunicorn itself answers and logs, made the gateway's: problem+json errors and logs
without patient identifiers.

``erx-gateway run`` starts gunicorn with :class:`ProblemWorker` (``--worker-class``) and
:class:`RedactingLogger` (``--logger-class``); a production gunicorn takes the same two flags
(README "Production").

- gunicorn refuses some requests before the application sees them: a request line over its
  own maximum of 8,190 bytes (``limit_request_line`` cannot be raised past it; 0 lifts the
  limit altogether, which lets a client make a worker buffer any amount), too many or too large
  header fields, a malformed request line. It answers those with an HTML page; the worker
  answers them in the gateway's envelope instead (414, 431, 400 ... as
  ``application/problem+json``).
- An answer given before the body was read (413: over ``MAX_BODY_BYTES``) leaves the client
  still sending; closing the socket with unread data makes the kernel reset the connection,
  and the client loses the answer (a "broken pipe"). The worker reads and discards up to
  ``MAX_DRAIN_BYTES`` of what remains, within ``DRAIN_SECONDS``, before it closes (half-closing
  first, so the client sees the answer's end), as HTTP servers' lingering close does.
- The logger takes patient identifiers out of every access-log atom (request line, path, query
  string, referer, headers) and of every error-log message (:mod:`gateway.core.redaction`).
"""

from __future__ import annotations

import json
import logging
import socket
import time
from typing import Any

from gunicorn import util
from gunicorn.glogging import Logger
from gunicorn.http.body import LengthReader
from gunicorn.workers.gthread import ThreadWorker

from gateway.core import config as settings
from gateway.core.redaction import redact
from gateway.web.problems import PROBLEM_MEDIA_TYPE, status_problem

_DETAIL_CHARS = 200


def problem_bytes(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 answer (connection closing) with a problem+json body."""
    problem_type, title = status_problem(status)
    body = json.dumps({"type": problem_type, "title": title, "status": status,
                       "detail": redact(message)[:_DETAIL_CHARS] or reason},
                      ensure_ascii=False).encode("utf-8")
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: {PROBLEM_MEDIA_TYPE}\r\nContent-Length: {len(body)}\r\n"
            f"Cache-Control: no-store\r\n\r\n")
    return head.encode("latin-1") + body


def _write_problem(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    util.write_nonblock(sock, problem_bytes(int(status_int), reason, mesg))


def drain(sock: socket.socket, *, limit: int, seconds: float) -> int:
    """Read and discard what the client still sends, up to ``limit`` bytes or ``seconds``,
    after half-closing the socket; the number of bytes discarded."""
    discarded = 0
    deadline = time.monotonic() + seconds
    try:
        sock.shutdown(socket.SHUT_WR)
        while discarded < limit:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            chunk = sock.recv(min(65_536, limit - discarded))
            if not chunk:
                break
            discarded += len(chunk)
    except OSError:
        pass
    return discarded


class ProblemWorker(ThreadWorker):
    """gunicorn's threaded worker (what ``--threads`` selects) with problem+json errors and a
    bounded drain, in the request's own thread, of a body the application did not read before
    the connection closes."""

    def init_process(self) -> None:
        util.write_error = _write_problem  # what Worker.handle_error calls to answer
        configured = settings.load()
        self.drain_limit = configured.max_drain_bytes
        self.drain_seconds = configured.drain_seconds
        super().init_process()

    def handle(self, conn: Any) -> Any:
        result = super().handle(conn)
        if result is False and _unread_body(conn):  # closing with the client still sending
            drain(conn.sock, limit=self.drain_limit, seconds=self.drain_seconds)
        return result


def _unread_body(conn: Any) -> bool:
    """Whether the connection's last request still has body bytes nobody read."""
    message = getattr(getattr(conn, "parser", None), "mesg", None)
    reader = getattr(getattr(message, "body", None), "reader", None)
    if reader is None:
        return False
    if isinstance(reader, LengthReader):
        return reader.length > 0
    return True  # chunked or read to the end of the connection: assume some is left


class RedactingLogger(Logger):
    """gunicorn's logger with patient identifiers taken out of its access and error logs."""

    # Any: the stubs type the atoms with a private TypedDict (gunicorn-stubs _AtomsDict).
    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> Any:
        found = super().atoms(resp, req, environ, request_time)
        return {key: redact(value) if isinstance(value, str) and key != "t" else value
                for key, value in found.items()}

    def _redacted(self, msg: Any, args: tuple[Any, ...]) -> str:
        text = str(msg)
        if args:
            try:
                text = text % args
            except (TypeError, ValueError):
                text = " ".join([text, *map(str, args)])
        return redact(text)

    def critical(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().critical(self._redacted(msg, args), **kwargs)

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().error(self._redacted(msg, args), **kwargs)

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().warning(self._redacted(msg, args), **kwargs)

    def info(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        if self.error_log.isEnabledFor(logging.INFO):
            super().info(self._redacted(msg, args), **kwargs)

    def debug(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        # gunicorn says every request at debug level: redacted only when it is written
        if self.error_log.isEnabledFor(logging.DEBUG):
            super().debug(self._redacted(msg, args), **kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().exception(self._redacted(msg, args), **kwargs)
