"""Request plumbing shared by every endpoint: JSON bodies, request ids, the request log,
and the CSV / NDJSON exports of list endpoints.

- A body is parsed strictly: a non-JSON content type is 415, malformed JSON, non-UTF-8 bytes
  and pathologically deep nesting are 400, all in the problem envelope.
- Every request gets an id (``X-Request-ID`` if the client sent a safe one, else a new one:
  :func:`request_id`), echoed in the answer and in the one JSON log line written per request.
"""

from __future__ import annotations

import csv
import io
import json as std_json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from flask import Flask, Request, Response, g, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from pythonjsonlogger.json import JsonFormatter
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway.core import redaction
from gateway.core.numbers import whole_numbers
from gateway.core.reasons import json_error
from gateway.core.settings import Settings
from gateway.web.context import services
from gateway.web.problems import ApiError

F = TypeVar("F", bound=Callable[..., Any])

access_log = logging.getLogger("erx.access")

#: what a client's ``X-Request-ID`` may be (and :func:`redaction.redact` must leave it as it is)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Only the media type the API declares: not any application/x-anything+json (OWASP: a parser
# must not be chosen by a type the client invents).
_JSON_TYPE = re.compile(r"^application/json$")
# Characters no text field may hold (refused at the edge, before anything reads the body):
# lone surrogates (no UTF-8 form: the database driver cannot store them), NUL and the other C0
# controls but tab, line feed and carriage return, DEL and the C1 controls, and the bidi
# embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) that make text display
# other than it reads.
_FORBIDDEN_TEXT = re.compile("[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
                             "\u202a-\u202e\u2066-\u2069]")
# A CSV cell starting with one of these is a formula to a spreadsheet (OWASP CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORM_TYPE = "application/x-www-form-urlencoded"
NDJSON = "application/x-ndjson"
_CSV_CHUNK = 65_536


class GatewayRequest(Request):
    """Flask's request with JSON failures that are always a 400, never a 500."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        raise malformed_json(e)


def json_body(*, allow_form: bool = False, json_types: tuple[str, ...] = ()) -> Any:
    """The request body as JSON (or as a flat form, where the endpoint allows it);
    ``json_types``: other JSON media types the endpoint reads (the FHIR face's
    ``application/fhir+json``).

    Raises:
        ApiError: 415 for another content type, 400 for a body that is not valid JSON.
    """
    mimetype = request.mimetype or ""
    if allow_form and mimetype == _FORM_TYPE:
        return _clean_text(request.form.to_dict())
    if not _JSON_TYPE.match(mimetype) and mimetype not in json_types:
        accepted = " or ".join(("application/json", *json_types)) + (
            " or application/x-www-form-urlencoded" if allow_form else "")
        raise ApiError(415, detail=f"expected {accepted}, got {mimetype or 'no content type'}",
                       detail_vi=f"Cần Content-Type {accepted}, nhận được {mimetype or 'không có'}")
    raw = request.get_data(cache=True)
    try:
        body = std_json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
    except UnicodeDecodeError as exc:
        raise ApiError(400, detail=f"the body is not UTF-8 (byte {exc.start})",
                       detail_vi=f"Nội dung không phải UTF-8 (byte {exc.start})") from None
    except RecursionError:
        raise ApiError(400, detail="the JSON is nested too deeply",
                       detail_vi="JSON lồng quá nhiều cấp") from None
    except ValueError as exc:
        raise malformed_json(exc) from None
    return _clean_text(body)


def malformed_json(exc: ValueError | None) -> ApiError:
    """The 400 of a body that is not JSON: where the parser stopped and why, in the
    request's language (the parser's English said in Vietnamese too)."""
    if isinstance(exc, std_json.JSONDecodeError):
        english, vietnamese = json_error(exc)
    elif exc is not None and (duplicate := _DUPLICATE.fullmatch(str(exc))):
        english, vietnamese = str(exc), f"tên trường {duplicate.group(1)} xuất hiện hai lần"
    else:
        return ApiError(400, detail="malformed JSON", detail_vi="JSON không đúng cú pháp")
    return ApiError(400, detail=f"malformed JSON: {english}",
                    detail_vi=f"JSON không đúng cú pháp: {vietnamese}")


def _clean_text(body: Any) -> Any:
    """``body`` when no text in it (names or values) holds a forbidden character.

    Raises:
        ApiError: 422 naming each field that does (its JSON pointer, ``request.text``).
    """
    found: list[dict[str, str]] = []
    stack: list[tuple[Any, str]] = [(body, "")]
    while stack and len(found) < 50:
        value, pointer = stack.pop()
        if isinstance(value, str):
            bad = _FORBIDDEN_TEXT.search(value)
            if bad:
                found.append({"pointer": pointer or "/", "code": "request.text",
                              "message": f"Ký tự không được phép (U+{ord(bad.group()):04X}): "
                                         "ký tự điều khiển, ký tự đảo chiều hoặc UTF-16 lẻ"})
        elif isinstance(value, dict):
            for key, item in value.items():
                path = f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}"
                if _FORBIDDEN_TEXT.search(key):
                    found.append({"pointer": _printable(path), "code": "request.text",
                                  "message": "Tên trường chứa ký tự không được phép"})
                    continue
                stack.append((item, path))
        elif isinstance(value, list):
            stack.extend((item, f"{pointer}/{index}") for index, item in enumerate(value))
    if found:
        raise ApiError(422, detail="text fields hold characters that are not allowed (controls, "
                                   "bidi overrides or lone surrogates)",
                       detail_vi="Có trường chứa ký tự không được phép",
                       errors=sorted(found, key=lambda item: item["pointer"]))
    return body


def _printable(text: str) -> str:
    return _FORBIDDEN_TEXT.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


_DUPLICATE = re.compile(r"duplicate key (.+)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's members, refusing a name given twice (which one would win is the parser's
    whim, and two readers of the same body could disagree)."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"duplicate key {key!r}")
        found[key] = value
    return found


def csv_safe(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs as a formula: text starting with ``=``, ``+``,
    ``-``, ``@``, a tab or a carriage return gets a leading apostrophe (OWASP CSV injection);
    anything else is kept."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def json_object(*, allow_form: bool = False, json_types: tuple[str, ...] = ()) -> dict[str, Any]:
    """Like :func:`json_body`, but the top level must be an object (422 otherwise)."""
    body = json_body(allow_form=allow_form, json_types=json_types)
    if not isinstance(body, dict):
        raise ApiError(422, detail="the body must be a JSON object",
                       detail_vi="Nội dung phải là một đối tượng JSON",
                       errors=[{"pointer": "", "code": "request.not_object",
                                "message": "Nội dung phải là một đối tượng JSON"}])
    return body


def export_type() -> str:
    """What a list endpoint answers: ``application/json`` (a page), ``text/csv`` or
    :data:`NDJSON` (every match), by the request's Accept header.

    Raises:
        ApiError: 406 when Accept names none of the three.
    """
    if not request.accept_mimetypes:
        return "application/json"
    wanted = request.accept_mimetypes.best_match(["application/json", "text/csv", NDJSON])
    if wanted is None:
        raise ApiError(406, detail="this answers application/json, text/csv or "
                                   "application/x-ndjson",
                       detail_vi="Chỉ trả lời application/json, text/csv hoặc application/x-ndjson")
    return wanted


def export_response(items: Iterable[Mapping[str, Any]], mimetype: str, *,
                    columns: Sequence[str], row: Callable[[Mapping[str, Any]], list[Any]],
                    filename: str) -> Response:
    """A streamed export: one JSON object a line (NDJSON), or a CSV file with a header of
    ``columns`` and ``row(item)`` for each item (sent as ``filename``), every cell made safe
    for spreadsheets (:func:`csv_safe`)."""

    def lines() -> Iterator[str]:
        if mimetype == NDJSON:
            for item in items:
                yield std_json.dumps(whole_numbers(item), ensure_ascii=False,
                                     separators=(",", ":")) + "\n"
            return
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for item in items:
            writer.writerow([csv_safe(whole_numbers(cell)) for cell in row(item)])
            if buffer.tell() > _CSV_CHUNK:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(lines(), mimetype=mimetype)
    if mimetype == "text/csv":
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


#: path variables that hold a patient's identifier: never written to a log
PATIENT_PATH_VARIABLES = frozenset({"cccd"})
_DIGIT_RUN = re.compile(r"\d{6,}")


def logged_path() -> str:
    """The request path as the access log may keep it: a patient identifier in a matched route
    becomes ``<cccd>``; in a path no route matched, every run of six or more digits becomes
    ``<digits>``; and in every path, whatever the route, :func:`redaction.redact` takes out
    what looks like a patient identifier (nine or more digits, a BHYT number, a QR text)."""
    rule, values = request.url_rule, request.view_args or {}
    if rule is None:
        return redaction.redact(_DIGIT_RUN.sub("<digits>", request.path))[:512]
    path = request.path
    for name in PATIENT_PATH_VARIABLES & set(values):
        path = path.replace(str(values[name]), f"<{name}>")
    return redaction.redact(path)[:512]


def client_address() -> str:
    return request.remote_addr or ""


def _bound_chunked_body() -> None:
    """Hold a chunked body to ``MAX_BODY_BYTES`` exactly as a Content-Length one: 413 when it
    is longer (Werkzeug alone would cut it at the limit and go on with the truncated body)."""
    environ = request.environ
    if environ.get("CONTENT_LENGTH") or "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return
    limit = services().settings.max_body_bytes
    raw = environ["wsgi.input"].read(limit + 1)
    if len(raw) > limit:
        raise RequestEntityTooLarge(f"the body is over {limit} bytes")
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["CONTENT_LENGTH"] = str(len(raw))


def request_id(supplied: str | None) -> str:
    """The id of a request: the client's ``X-Request-ID`` when it is a safe one, else a new one.

    Safe: 1 to 64 letters, digits, ``.``, ``_``, ``:`` or ``-``, and nothing the log redaction
    takes out (no run of nine or more digits, BHYT number or QR text). The id is echoed in the
    answer, written in the request log and kept in audit events, so a patient identifier sent
    as one would reach all three.
    """
    if supplied and _REQUEST_ID.match(supplied) and redaction.redact(supplied) == supplied:
        return supplied
    return new_request_id()


def new_request_id() -> str:
    """A random id (128 bits, hexadecimal) that :func:`request_id` would accept back: one
    with a run of nine or more digits, which the log redaction would mistake for an
    identifier, is drawn again."""
    while True:
        made = uuid.uuid4().hex
        if redaction.redact(made) == made:
            return made


def _begin() -> None:
    g.request_id = request_id(request.headers.get("X-Request-ID"))
    g.started = time.perf_counter()
    _check_sizes()
    if request.path.startswith("/v2/"):
        _check_query_text()


def _check_query_text() -> None:
    """The text policy of bodies (:func:`json_object`) for query parameters too: no control,
    bidi or lone-surrogate character in a name or a value (the OpenAPI document states it as
    every string parameter's ``pattern``).

    Raises:
        ApiError: 422 ``request.text``, naming each parameter.
    """
    found = []
    for name, value in request.args.items(multi=True):
        if _FORBIDDEN_TEXT.search(name) or _FORBIDDEN_TEXT.search(value):
            found.append({"pointer": "", "parameter": _printable(name), "code": "request.text",
                          "message": "Ký tự không được phép: ký tự điều khiển, ký tự đảo chiều "
                                     "hoặc UTF-16 lẻ",
                          "_en": "a character that is not allowed: a control, bidi or lone "
                                 "surrogate character"})
    if found:
        raise ApiError(422, detail="text fields hold characters that are not allowed (controls, "
                                   "bidi overrides or lone surrogates)", errors=found[:50])


def _check_sizes() -> None:
    """414 for a URL, 431 for header fields, larger than the gateway reads (gunicorn's own
    limits are set above these, so the answer is problem+json, never gunicorn's HTML page).

    Raises:
        ApiError: 414 or 431.
    """
    settings = services().settings
    url = request.environ.get("RAW_URI") or request.full_path.rstrip("?")
    if len(url.encode("utf-8", "surrogateescape")) > settings.max_url_bytes:
        raise ApiError(414, detail=f"the URL is longer than {settings.max_url_bytes} bytes",
                       detail_vi=f"Địa chỉ dài hơn {settings.max_url_bytes} byte")
    headers = list(request.headers.items())  # read from the WSGI environ once, not twice
    if len(headers) > settings.max_header_fields:
        raise ApiError(431, detail=f"more than {settings.max_header_fields} header fields",
                       detail_vi=f"Nhiều hơn {settings.max_header_fields} trường tiêu đề")
    for name, value in headers:
        if len(name) + len(value) + 2 > settings.max_header_bytes:
            raise ApiError(431, detail=f"the header field {name[:64]} is larger than "
                                       f"{settings.max_header_bytes} bytes",
                           detail_vi=f"Trường tiêu đề {name[:64]} lớn hơn "
                                     f"{settings.max_header_bytes} byte")


def _credentials_sent() -> bool:
    """Whether the request carried (or was answered for) a party: such an answer may hold
    patient data."""
    return (g.get("party") is not None or "Authorization" in request.headers
            or "app-key" in request.headers or bool(request.cookies))


def _finish(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "")
    # Nothing a party reads is kept by a browser or a shared cache (OWASP ASVS 8.2.1): no-store
    # on every authenticated answer (API JSON, CSV, NDJSON, PDF, console pages), and on any
    # answer that states no policy of its own (the public JWKS and the docs' assets do).
    if _credentials_sent() or "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    if not access_log.isEnabledFor(logging.INFO):  # its fields are not worth building
        return response
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    endpoint = request.url_rule.rule if request.url_rule else "<unmatched>"
    party = g.get("party")
    # Only the redacted path (no query string: it may carry identifiers), never headers or bodies.
    access_log.info("request", extra={
        "request_id": g.get("request_id"), "method": request.method, "path": logged_path(),
        "endpoint": endpoint, "status": response.status_code,
        "duration_ms": round(elapsed * 1000, 2), "client": client_address(),
        "party": party.client_id if party is not None else None,
    })
    return response


def _text(formatted: str | list[str]) -> str:
    """What JsonFormatter formats an exception or stack into: text (a list of lines only when
    asked for arrays, which this logger never is)."""
    return formatted if isinstance(formatted, str) else "\n".join(formatted)


class RedactingFormatter(JsonFormatter):
    """The JSON log line, with patient identifiers taken out of the message, the traceback
    and any ``path`` or ``query`` field (:func:`redaction.redact`), whoever logged them (an
    exception's text may quote the identifier it was about)."""

    def format(self, record: logging.LogRecord) -> str:
        record.msg, record.args = redaction.redact(record.getMessage()), None
        for name in ("path", "query", "url"):
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, redaction.redact(value))
        return super().format(record)

    def formatException(self, ei: Any) -> str:
        return redaction.redact(_text(super().formatException(ei)))

    def formatStack(self, stack_info: str) -> str:
        return redaction.redact(_text(super().formatStack(stack_info)))


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signer built only for a request that sends
    the session cookie: Flask builds it for every request, and only the console's pages carry
    the cookie (the API's requests never do)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()  # what Flask opens for a request without the cookie
        return super().open_session(app, request)


class GatewayFlask(Flask):
    """Flask whose log of an unexpected error names the redacted path (Flask's own names the
    raw one: a CCCD in the URL would reach the log)."""

    request_class = GatewayRequest

    def log_exception(self, exc_info: Any) -> None:
        self.logger.error(f"Exception on {logged_path()} [{request.method}]", exc_info=exc_info)


#: Libraries that log their own work at INFO (fontTools writes ~60 lines of font subsetting for
#: each PDF print): the gateway's log carries the gateway's events, so these log warnings only.
QUIET_LIBRARIES = ("fontTools", "fpdf", "PIL")


class _GatewayLogHandler(logging.StreamHandler):
    """The gateway's own handler on the root logger (added once however many apps are made)."""


def configure_logging(level: str) -> None:
    handler = _GatewayLogHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                            rename_fields={"asctime": "time", "levelname": "level",
                                                           "name": "logger"}))
    root = logging.getLogger()
    if not any(isinstance(h, _GatewayLogHandler) for h in root.handlers):
        root.addHandler(handler)
    root.setLevel(level.upper())
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


def init_app(app: Flask, settings: Settings) -> None:
    hops = settings.proxy_hops
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.request_class = GatewayRequest
    app.session_interface = CookieSessions()
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.before_request(_begin)
    app.before_request(_bound_chunked_body)
    app.after_request(_finish)
