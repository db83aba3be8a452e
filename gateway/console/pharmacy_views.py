"""The pharmacist's pages: look a prescription up by its code or the text of its printed QR
code, see it, dispense against it, and see this pharmacy's own dispense history.

The same services and audit events as ``GET /v2/prescriptions/{code}`` (``prescription.viewed``,
``details.via: "qr"`` for QR text, a failure for refused QR text) and ``POST
/v2/prescriptions/{code}/dispenses`` (``prescription.dispensed``, success or failure), with the
person named in each event.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, flash, g, redirect, request, session, url_for

from gateway.console import pages
from gateway.console.forms import FORM, dispense_body, dispense_labels, field_errors
from gateway.console.labels import number
from gateway.console.pages import page, signed_in
from gateway.console.sheet import sheet
from gateway.core.errors import Conflict, Forbidden, Invalid, NotFound
from gateway.prescriptions.answers import dispense_answer, looked_up, viewed
from gateway.web.context import services
from gateway.web.problems import status_of

blp = pages.attach(Blueprint("console_pharmacy", __name__, url_prefix="/console/pharmacy"))

#: A prescription whose next page view is not a new ``prescription.viewed``: the lookup by QR
#: text or the dispense that led there was audited already.
SEEN = "seen"


@blp.route("/", methods=["GET"])
@signed_in("pharmacy")
def home() -> Any:
    return page("console/pharmacy_home.html", errors={}, code="")


@blp.route("/lookup", methods=["POST"])
@signed_in("pharmacy")
def lookup() -> Any:
    text = request.form.get("code", "").strip()
    if not text:
        return page("console/pharmacy_home.html", 422, code="",
                    errors={"code": ["Nhập hoặc quét mã đơn thuốc"]})
    try:
        stored, details = looked_up(text)
    except NotFound:
        return page("console/pharmacy_home.html", 404, code=text,
                    errors={"code": ["Không tìm thấy đơn thuốc có mã này"]})
    except (Invalid, Conflict) as exc:
        status = status_of(exc)
        return page("console/pharmacy_home.html", status, code=text,
                    errors={"code": [pages.item_message(item) for item in exc.errors]})
    if details is not None:  # QR text: audited now, with how it was read
        services().reading.authorize_read(stored, g.party)
        viewed(stored, g.party, details)
        session[SEEN] = stored["_id"]
    return redirect(url_for(".prescription", code=stored["_id"]), 303)


def _show(code: str, status: int = 200, *, errors: dict[str, list[str]] | None = None,
          form: dict[str, str] | None = None) -> Any:
    reading = services().reading
    stored = reading.get(code)
    reading.authorize_read(stored, g.party)
    if session.pop(SEEN, None) != code and status == 200:
        viewed(stored, g.party)
    shown = sheet(stored, g.party)
    console = services().console
    substitutes = {line["index"]: console.substitutes(line["ma_thuoc"])
                   for line in shown["lines"]} if shown["dispensable"] else {}
    mine = [dispense for dispense in shown["dispenses"] if dispense["pharmacy"] == g.party.code]
    return page("console/pharmacy_rx.html", status, rx=shown, substitutes=substitutes,
                errors=errors or {}, form=form or {}, nonce=secrets.token_urlsafe(18),
                mine=mine, field_labels=dispense_labels(len(stored["lines"])))


@blp.route("/rx/<code>", methods=["GET"])
@signed_in("pharmacy")
def prescription(code: str) -> Any:
    return _show(code)


@blp.route("/rx/<code>/dispense", methods=["POST"])
@signed_in("pharmacy")
def dispense(code: str) -> Any:
    stored = services().reading.get(code)
    filled = dispense_body(request.form, len(stored["lines"]))
    form = {name: request.form.get(name, "") for name in request.form if name != "csrf_token"}
    if filled.errors:  # with what the rest of the form would be refused for: all at once
        problems = services().dispensing.dispense_problems(stored, filled.body)
        errors = dict(filled.errors)
        for name, messages in field_errors(problems, filled.lines,
                                           fields=("ma_hoa_don",)).items():
            errors.setdefault(name, []).extend(messages)
        return _show(code, 422, errors=errors, form=form)
    nonce = request.form.get("nonce", "")[:64]
    try:
        answer = dispense_answer(code, g.party, filled.body,
                                 idempotency_key=f"console:{nonce}" if nonce else None)
    except (Invalid, Conflict, Forbidden) as exc:
        status = status_of(exc)
        errors = field_errors(exc.errors, filled.lines, fields=("ma_hoa_don",))
        if not exc.errors:
            errors.setdefault(FORM, []).append(pages.MESSAGES.get(status, pages.MESSAGES[400]))
        return _show(code, status, errors=errors, form=form)
    done = answer.body["dispense"]
    lang = pages.lang()
    sold = ", ".join(pages.say(f"dòng {item['line'] + 1}: {number(item['so_luong_ban'], lang)}")
                     for item in done["items"])
    flash(pages.say(f"Đã ghi nhận lần bán {done['id']} ({sold})."), "success")
    for warning in done.get("warnings") or []:
        flash(pages.item_message(warning), "warning")
    session[SEEN] = code
    return redirect(url_for(".prescription", code=code), 303)


@blp.route("/history", methods=["GET"])
@signed_in("pharmacy")
def history() -> Any:
    rows, next_cursor = services().console.dispense_history(g.party, request.args.get("cursor"))
    return page("console/pharmacy_history.html", rows=rows, next_cursor=next_cursor)
