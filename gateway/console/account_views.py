"""The console's front door: login, logout, password change, and its static assets.

Every login, successful or not, is an ``auth.login`` event (``details.method: "console"``,
the object the username claimed), and a logout an ``auth.logout``, as the API's logins are.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, request, session, url_for

from gateway.console import pages
from gateway.console.forms import field_errors
from gateway.console.pages import SESSION_ID, page, signed_in
from gateway.core.errors import Invalid, RateLimited
from gateway.web.context import services
from gateway.web.http import client_address

PASSWORD_FIELDS = ("current_password", "new_password", "confirm_password")

blp = pages.attach(Blueprint("console", __name__, url_prefix="/console",
                             template_folder="templates", static_folder="static"))


@blp.route("/", methods=["GET"])
def index() -> Any:
    signed = services().console_login.resume(session.get(SESSION_ID))
    if signed is None:
        return redirect(url_for("console.login"), 303)
    return redirect(pages.home_of(signed), 303)


@blp.route("/login", methods=["GET"])
def login() -> Any:
    signed = services().console_login.resume(session.get(SESSION_ID))
    if signed is not None:
        return redirect(pages.home_of(signed), 303)
    return page("console/login.html", next=pages.safe_next(request.args.get("next")),
                errors={}, username="")


@blp.route("/login", methods=["POST"])
def login_post() -> Any:
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    target = pages.safe_next(request.form.get("next"))
    errors: dict[str, list[str]] = {}
    if not username:
        errors["username"] = ["Nhập tên đăng nhập"]
    if not password:
        errors["password"] = ["Nhập mật khẩu"]
    if errors:
        return page("console/login.html", 422, next=target, errors=errors, username=username)
    found = services()
    try:
        signed = found.console_login.login(username, password, client_address())
    except RateLimited as exc:
        return page("console/login.html", 429, headers={"Retry-After": str(exc.retry_after)},
                    next=target, username=username,
                    errors={"": ["Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau "
                                 f"{exc.retry_after} giây."]})
    if signed is None:
        found.audit.record("auth.login", outcome="failure", object_type="user",
                           object_id=username.lower()[:128], details={"method": "console"})
        return page("console/login.html", 200, next=target, username=username,
                    errors={"": ["Sai tên đăng nhập hoặc mật khẩu, hoặc tài khoản đã bị khóa."]})
    session.clear()  # a new session: nothing of the anonymous one (its CSRF secret) is kept
    session[SESSION_ID] = signed.session_id
    pages.act_as(signed)
    found.audit.record("auth.login", object_type="user", object_id=signed.user.username,
                       details={"method": "console"})
    return redirect(target or pages.home_of(signed), 303)


@blp.route("/logout", methods=["POST"])
def logout() -> Any:
    found = services()
    signed = found.console_login.resume(session.get(SESSION_ID))
    if signed is not None:
        pages.act_as(signed)
        found.console_login.logout(signed.session_id)
        found.audit.record("auth.logout", object_type="user", object_id=signed.user.username)
    session.clear()
    flash(pages.say("Bạn đã đăng xuất."))
    return redirect(url_for("console.login"), 303)


@blp.route("/password", methods=["GET"])
@signed_in()
def password() -> Any:
    return page("console/password.html", errors={})


@blp.route("/password", methods=["POST"])
@signed_in()
def password_post() -> Any:
    found = services()
    form = request.form
    try:
        found.console_login.change_password(
            g.signed, current=form.get("current_password", ""),
            new=form.get("new_password", ""), confirm=form.get("confirm_password", ""),
            address=client_address())
    except Invalid as exc:
        return page("console/password.html", 422, errors=field_errors(exc.errors, fields=PASSWORD_FIELDS))
    except RateLimited as exc:
        return page("console/password.html", 429, headers={"Retry-After": str(exc.retry_after)},
                    errors={"": ["Nhập sai mật khẩu quá nhiều lần. Vui lòng thử lại sau "
                                 f"{exc.retry_after} giây."]})
    found.audit.record("user.password_changed", object_type="user",
                       object_id=g.signed.user.username, details={"by": "console"})
    flash(pages.say("Đã đổi mật khẩu. Các phiên đăng nhập khác của bạn đã kết thúc."))
    return redirect(pages.home_of(g.signed), 303)


@blp.route("/<path:rest>", methods=["GET", "POST"])
def not_found(rest: str) -> Any:
    return page("console/error.html", 404, title="Không tìm thấy",
                messages=[pages.MESSAGES[404]])
