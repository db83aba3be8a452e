"""Clinic staff's pages: the facility's prescriptions, filterable; each one with where it was
forwarded; cancelling with a reason; printing.

The same services and audit events as the API (``GET /v2/prescriptions``, ``GET
/v2/prescriptions/{code}`` with ``prescription.viewed``, ``…/deliveries``, ``…/cancel`` with
``prescription.cancelled``, ``…/print`` and ``…/print.html`` with ``prescription.printed``),
with the person named in each event.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from markupsafe import Markup

from gateway.audit.search import valid_cccd
from gateway.console import pages
from gateway.console.forms import DAY_INVALID, FORM, day, field_errors
from gateway.console.pages import page, signed_in
from gateway.console.sheet import row, sheet
from gateway.core.errors import Conflict, Forbidden, Invalid
from gateway.forwarding.deliveries import deliveries_for
from gateway.prescriptions.answers import cancel_answer, record
from gateway.prescriptions.model import STATUSES
from gateway.prescriptions.print_pdf import MODULE_MM
from gateway.prescriptions.printing import qr_svg
from gateway.web.context import services
from gateway.web.problems import status_of

blp = pages.attach(Blueprint("console_clinic", __name__, url_prefix="/console/clinic"))

PRESCRIBERS = ("clinic", "doctor")
FILTERS = ("status", "from", "to", "patient")
# The printable page's own policy (README "Printable prescription"): its styles are inline.
PRINT_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                "base-uri 'none'; form-action 'none'; frame-ancestors 'self'")


def _filters(form: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    values = {name: form.get(name, "").strip() for name in FILTERS}
    errors: dict[str, list[str]] = {}
    zone = services().timezone
    bounds: dict[str, datetime | None] = {}
    for name in ("from", "to"):
        try:
            chosen = day(values[name])
        except ValueError:
            errors[name] = [DAY_INVALID]
            chosen = None
        if chosen is not None and name == "to":
            chosen += timedelta(days=1)  # the day chosen is included
        bounds[name] = (datetime.combine(chosen, datetime.min.time(), tzinfo=zone)
                        if chosen is not None else None)
    if values["status"] and values["status"] not in STATUSES:
        errors["status"] = ["Trạng thái không hợp lệ"]
    if values["patient"] and not valid_cccd(values["patient"]):
        errors["patient"] = ["CCCD gồm 12 chữ số"]
    return {"values": values, "from": bounds["from"], "to": bounds["to"]}, errors


def _list(form: Any, status: int = 200) -> Any:
    chosen, errors = _filters(form)
    rows: list[dict[str, Any]] = []
    next_cursor = None
    if not errors:
        values = chosen["values"]
        try:
            found, next_cursor = services().reading.list(
                g.party, facility=None, status=values["status"] or None,
                issued_from=chosen["from"], issued_to=chosen["to"],
                patient=values["patient"] or None, cursor=form.get("cursor") or None,
                limit=services().console.policy.page_size)
        except Invalid as exc:
            errors = {FORM: [pages.item_message(item) for item in exc.errors]}
            status = 422
        else:
            rows = [row(stored) for stored in found]
    else:
        status = 422
    return page("console/clinic_list.html", status, rows=rows, next_cursor=next_cursor,
                values=chosen["values"], errors=errors, statuses=STATUSES)


@blp.route("/", methods=["GET"])
@signed_in(*PRESCRIBERS)
def home() -> Any:
    return _list({})


@blp.route("/", methods=["POST"])
@signed_in(*PRESCRIBERS)
def search() -> Any:
    return _list(request.form)


def _show(code: str, status: int = 200, *, errors: dict[str, list[str]] | None = None,
          reason: str = "") -> Any:
    found = services()
    stored = found.reading.get(code)
    found.reading.authorize_read(stored, g.party)
    if status == 200:
        record("prescription.viewed", stored)
    deliveries = deliveries_for(found.outbox, code, g.party)
    return page("console/clinic_rx.html", status, rx=sheet(stored, g.party),
                deliveries=deliveries, errors=errors or {}, reason=reason)


@blp.route("/rx/<code>", methods=["GET"])
@signed_in(*PRESCRIBERS)
def prescription(code: str) -> Any:
    return _show(code)


@blp.route("/rx/<code>/cancel", methods=["POST"])
@signed_in(*PRESCRIBERS)
def cancel(code: str) -> Any:
    reason = request.form.get("ly_do", "")
    try:
        cancel_answer(code, g.party, {"ly_do": reason})
    except (Invalid, Conflict, Forbidden) as exc:
        status = status_of(exc)
        return _show(code, status, errors=field_errors(exc.errors, fields=("ly_do",)),
                     reason=reason)
    flash(pages.say(f"Đã hủy đơn thuốc {code}."), "success")
    return redirect(url_for(".prescription", code=code), 303)


@blp.route("/rx/<code>/print", methods=["GET"])
@signed_in(*PRESCRIBERS)
def print_page(code: str) -> Any:
    stored, form = services().printing.form(code, g.party)
    html = render_template("print.html", form=form,
                           qr=Markup(qr_svg(form.qr_text, module_mm=MODULE_MM)))
    record("prescription.printed", stored, details={"format": "html", "status": form.status})
    return Response(html, mimetype="text/html",
                    headers={"Content-Security-Policy": PRINT_POLICY,
                             "Referrer-Policy": "no-referrer"})


@blp.route("/rx/<code>/print.pdf", methods=["GET"])
@signed_in(*PRESCRIBERS)
def print_pdf(code: str) -> Any:
    printing = services().printing
    stored, form = printing.form(code, g.party)
    body = printing.pdf(form)
    record("prescription.printed", stored, details={"format": "pdf", "status": form.status})
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="don-thuoc-{stored["_id"]}.pdf"'})
