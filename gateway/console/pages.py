"""What every console page shares (edge code, no endpoint): the session cookie, CSRF, who is
signed in, rendering with the console's headers, and error pages.

- **Session cookie**: Flask's signed session cookie holds only the session id (see
  :mod:`gateway.auth.sessions`) and the CSRF secret. HttpOnly, SameSite=Lax, Secure and named
  ``__Host-erx-console`` outside development (plain ``erx-console`` over development's
  http). Its signing key is derived from ``TOKEN_SECRET`` (one secret to keep, none to add).
- **CSRF**: Flask-WTF's ``CSRFProtect`` checks every POST to a console blueprint (a hidden
  ``csrf_token`` field in every form); nothing else is checked by default
  (``WTF_CSRF_CHECK_DEFAULT`` off), so the JSON API stays exempt. A POST without a valid token
  changes nothing and is answered 400 with a page saying so.
- **Headers**: ``Content-Security-Policy`` (no script at all, styles and images from the
  gateway only), ``Cache-Control: no-store`` (pages carry patient data), no framing, no
  referrer beyond the gateway.
- **Language**: Vietnamese, or English when the browser prefers English
  (``Accept-Language``, q-values respected) or the person chose it with ``?lang=en`` (kept
  in the ``erx-lang`` cookie; ``?lang=vi`` goes back; no other value is read). The templates
  mark their texts with Jinja's i18n extension (``_()``, ``{% trans %}``); the ``tr`` filter
  says a finished text (a label, a view's or a service's message) in the page's language.
  The tables are :mod:`gateway.console.english`. Dates stay ``dd/mm/yyyy``; the printed
  prescription (HTML print page and PDF) stays Vietnamese, a legal document.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Flask, Response, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from gateway.auth.sessions import Signed
from gateway.console import english, labels
from gateway.console.forms import DAY_HINT, DAY_PATTERN
from gateway.core.messages import LANGUAGES, delivery_error_in_vietnamese, preferred_language
from gateway.core.reasons import integrity_in_vietnamese
from gateway.web.context import services
from gateway.web.problems import ApiError, from_http_exception, localized, to_problem

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

csrf = CSRFProtect()
SESSION_ID = "sid"
#: The page each role lands on.
HOMES = {"pharmacy": "console_pharmacy.home", "clinic": "console_clinic.home",
         "doctor": "console_clinic.home", "regulator": "console_inspector.home"}
POLICY = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
          "base-uri 'none'; frame-ancestors 'none'")
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}
MESSAGES = {
    400: "Yêu cầu không hợp lệ.",
    403: "Bạn không có quyền thực hiện thao tác này.",
    404: "Không tìm thấy trang hoặc đơn thuốc này.",
    405: "Thao tác này không được hỗ trợ ở đây.",
    409: "Thao tác không thực hiện được với trạng thái hiện tại.",
    413: "Dữ liệu gửi lên quá lớn.",
    422: "Dữ liệu nhập chưa hợp lệ.",
    429: "Bạn đã thử quá nhiều lần. Vui lòng thử lại sau.",
    500: "Đã có lỗi hệ thống. Vui lòng thử lại sau.",
    503: "Hệ thống tạm thời không phục vụ được. Vui lòng thử lại sau.",
}
#: The cookie that keeps the language a person chose with ``?lang=`` (a year).
LANG_COOKIE = "erx-lang"
LANG_COOKIE_SECONDS = 365 * 24 * 3600
CSRF_MESSAGE = ("Biểu mẫu đã hết hạn hoặc thiếu mã bảo vệ (CSRF), nên không có gì được thay "
                "đổi. Hãy tải lại trang rồi gửi lại.")


def init_app(app: Flask) -> None:
    """Configure the session cookie and CSRF for the console (composition root)."""
    settings = services(app).settings
    development = settings.env == "development"
    secret = services(app).tokens.secret
    app.config.update(
        SECRET_KEY=hmac.new(secret, b"erx-console-session", hashlib.sha256).hexdigest(),
        SESSION_COOKIE_NAME="erx-console" if development else "__Host-erx-console",
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SECURE=not development,
        SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_PATH="/",
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=settings.console_session_absolute_seconds)
    csrf.init_app(app)
    zone = services(app).timezone
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=True)
    app.add_template_filter(say, "tr")
    app.add_template_filter(lambda value: labels.number(value, lang()), "vnnum")
    app.add_template_filter(_delivery_error, "deliveryerror")
    app.add_template_filter(
        lambda text: text if lang() == "en" else integrity_in_vietnamese(text), "integritytext")
    app.add_template_filter(lambda value: _when(value, zone, "%d/%m/%Y %H:%M"), "vntime")
    app.add_template_filter(lambda value: _when(value, zone, "%d/%m/%Y"), "vndate")
    app.add_template_filter(lambda value: _when(value, zone, "%d/%m/%Y %H:%M:%S"), "vnsecond")


def lang() -> str:
    """``vi`` or ``en``: the language of the console page being made."""
    return str(g.get("lang", "vi"))


def say(text: Any) -> str:
    """A finished text (a label, a view's or a service's message) in the page's language."""
    text = "" if text is None else str(text)
    return english.english(text) if lang() == "en" else text


def item_message(item: Mapping[str, Any]) -> str:
    """An error item's message in the page's language (its own English when it has one)."""
    return str(localized(item, lang()).get("message", ""))


def _gettext(message: str) -> str:
    return english.page_text(message) if lang() == "en" else message


def _ngettext(singular: str, plural: str, count: int) -> str:
    if lang() == "en":
        return english.page_plural(singular, plural, count)
    return singular if count == 1 else plural


def _delivery_error(text: str | None) -> str:
    """A delivery's last error: Vietnamese, or the API's own English text."""
    return (text or "") if lang() == "en" else delivery_error_in_vietnamese(text)


def _choose_language() -> None:
    """The page's language: ``?lang=`` (then remembered), else the cookie, else the
    browser's ``Accept-Language``; Vietnamese for anything else."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        g.lang = g.lang_chosen = asked
    elif request.cookies.get(LANG_COOKIE) in LANGUAGES:
        g.lang = request.cookies[LANG_COOKIE]
    else:
        g.lang = preferred_language(request.accept_languages)


def _switch_url(other: str) -> str:
    """This page in the other language (a GET page as it is, else the home or login page)."""
    if request.method == "GET":
        args = request.args.to_dict()
        args["lang"] = other
        return request.path + "?" + urlencode(args)
    return (home_of(g.signed) if g.get("signed") else url_for("console.login")) + f"?lang={other}"


def _when(value: Any, zone: Any, fmt: str) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(zone)
    return value.strftime(fmt)


def attach(blueprint: Blueprint) -> Blueprint:
    """Give a console blueprint CSRF checks, the console's headers, HTML error pages and the
    templates' common values."""
    blueprint.before_request(_choose_language)
    blueprint.before_request(_protect)
    blueprint.after_request(_headers)
    blueprint.register_error_handler(Exception, error_page)
    blueprint.context_processor(_context)
    return blueprint


def _protect() -> None:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


def _headers(response: Response) -> Response:
    chosen = g.get("lang_chosen")
    if chosen:
        development = services().settings.env == "development"
        response.set_cookie(LANG_COOKIE, chosen, max_age=LANG_COOKIE_SECONDS, path="/console/",
                            secure=not development, httponly=True, samesite="Lax")
    response.headers.setdefault("Content-Language", lang())
    response.vary.update(("Accept-Language", "Cookie"))
    response.headers.setdefault("Content-Security-Policy", POLICY)
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


#: A date field: text with the day first (never type=date, which follows the browser's
#: language), checked by the browser with this pattern and by the server (forms.day).
DAY_ATTRS = (f'inputmode="numeric" pattern="{DAY_PATTERN}" placeholder="dd/mm/yyyy" '
             'autocomplete="off" maxlength="10"')


def _context() -> dict[str, Any]:
    signed = g.get("signed")
    other = "vi" if lang() == "en" else "en"
    return {"signed": signed, "labels": labels, "day_hint": say(DAY_HINT), "day_attrs": DAY_ATTRS,
            "lang": lang(), "other_lang": other, "switch_url": _switch_url(other),
            "password_min_chars": services().settings.console_password_min_chars,
            "home": url_for(HOMES[signed.party.role]) if signed is not None else None}


def signed_in(*roles: str) -> Callable[[F], F]:
    """View decorator: a live console session (else the login page, then back here) of a
    person whose party has one of ``roles`` (else 403)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            signed = services().console_login.resume(session.get(SESSION_ID))
            if signed is None:
                session.pop(SESSION_ID, None)
                target = request.path if request.method == "GET" else None
                return redirect(url_for("console.login", next=target), 303)
            act_as(signed)
            if roles and signed.party.role not in roles:
                return page("console/error.html", 403, title="Không có quyền",
                            messages=[MESSAGES[403]])
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def act_as(signed: Signed) -> None:
    """Make the person's party the request's party (``current_party()``, the audit actor)."""
    g.signed = signed
    g.party = signed.party
    g.console_user = signed.user.username


def home_of(signed: Signed) -> str:
    return url_for(HOMES[signed.party.role])


def safe_next(target: str | None) -> str | None:
    """A ``next`` page to go back to after login: a console path of this gateway only."""
    if not target or not target.startswith("/console/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and "\\" not in target else None


def page(template: str, status: int = 200, *, headers: dict[str, str] | None = None,
         **context: Any) -> Response:
    response = Response(render_template(template, **context), status=status,
                        mimetype="text/html")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def messages_of(exc: Exception) -> tuple[int, list[str], dict[str, str]]:
    """The status, the messages (in the page's language) and the headers an error is shown
    with."""
    problem = exc if isinstance(exc, ApiError) else to_problem(exc)
    if problem is None and isinstance(exc, HTTPException):
        problem = from_http_exception(exc)
    if problem is None:
        return 500, [MESSAGES[500]], {}
    found = [str(shown["message"]) for shown in (localized(item, lang()) for item in problem.errors)
             if shown.get("message")]
    return problem.status, found or [MESSAGES.get(problem.status, MESSAGES[400])], problem.headers


def error_page(exc: Exception) -> Response:
    if isinstance(exc, CSRFError):
        return page("console/error.html", 400, title="Biểu mẫu không hợp lệ",
                    messages=[CSRF_MESSAGE])
    status, found, headers = messages_of(exc)
    if status >= 500:
        log.error("console error", exc_info=(type(exc), exc, exc.__traceback__))
    return page("console/error.html", status, headers=headers,
                title=MESSAGES.get(status, MESSAGES[400]), messages=found)
