"""The inspector's pages: the national picture in charts, the audit trail (search, export,
a patient's access log), the integrity of the log, the controlled-drug overlaps, and any
prescription read-only.

The same services and audit events as the regulator's API (``/v2/reports/*``,
``/v2/audit/events``, ``/v2/patients/{cccd}/access-log`` with
``patient.access_log_viewed``, ``GET /v2/prescriptions/{code}`` with ``prescription.viewed``),
with the person named in each event.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, g, request

from gateway.audit import search
from gateway.console import charts, pages
from gateway.console.forms import DAY_INVALID, FORM, day, shown_day
from gateway.console.labels import ACTION_FAMILIES, ACTIONS
from gateway.console.pages import page, signed_in
from gateway.console.sheet import sheet
from gateway.core.errors import Invalid
from gateway.forwarding.deliveries import deliveries_for
from gateway.prescriptions.answers import record
from gateway.web.context import services
from gateway.web.http import NDJSON, export_response

blp = pages.attach(Blueprint("console_inspector", __name__, url_prefix="/console/inspector"))

_PATIENT = re.compile(r"^[0-9A-Za-z]{1,32}$")
_SEQ = re.compile(r"^[0-9]{1,18}$")
_TEXT_FILTERS = {"actor": 128, "user": 128, "prescription": 64}
EXPORTS = {"csv": "text/csv", "ndjson": NDJSON}


def _window(form: Any) -> tuple[tuple[datetime, datetime] | None, dict[str, str],
                                 dict[str, list[str]]]:
    """The days chosen in a form (``from``, ``to``: both included) as instants."""
    values = {name: form.get(name, "").strip() for name in ("from", "to")}
    errors: dict[str, list[str]] = {}
    chosen = {}
    for name, raw in values.items():
        try:
            chosen[name] = day(raw)
        except ValueError:
            errors[name] = [DAY_INVALID]
    if errors:
        return None, values, errors
    try:
        window = services().console.window(chosen.get("from"), chosen.get("to"))
    except Invalid as exc:
        if exc.errors and exc.errors[0].get("parameter") == "from":  # the window is too long
            return None, values, {"from": [pages.item_message(exc.errors[0])]}
        return None, values, {"to": ["Ngày kết thúc phải sau ngày bắt đầu"]}
    zone = services().timezone
    values = {"from": shown_day(window[0].astimezone(zone).date()),
              "to": shown_day((window[1] - timedelta(days=1)).astimezone(zone).date())}
    return window, values, {}


# --- dashboard ---------------------------------------------------------------------------
def _dashboard(form: Any) -> Any:
    window, values, errors = _window(form)
    if window is None:
        return page("console/inspector_dashboard.html", 422, values=values, errors=errors,
                    charts=[], totals=None)
    figures = services().console.dashboard(*window)
    lang = pages.lang()
    drawn = [charts.per_day(figures.per_day, lang), charts.per_type(figures.per_type, lang),
             charts.controlled(figures.controlled, lang),
             charts.facilities(figures.facilities, lang), charts.drugs(figures.drugs, lang),
             charts.deliveries(figures.deliveries, lang)]
    return page("console/inspector_dashboard.html", values=values, errors={}, charts=drawn,
                totals=figures.totals)


@blp.route("/", methods=["GET"])
@signed_in("regulator")
def home() -> Any:
    return _dashboard({})


@blp.route("/", methods=["POST"])
@signed_in("regulator")
def dashboard() -> Any:
    return _dashboard(request.form)


# --- audit events --------------------------------------------------------------------------
def _event_filters(form: Any) -> tuple[dict[str, Any], dict[str, str], dict[str, list[str]]]:
    names = ("actor", "user", "action", "prescription", "patient", "from", "to")
    values = {name: form.get(name, "").strip() for name in names}
    if not form:  # the first visit: today's events
        values["from"] = shown_day(datetime.now(services().timezone).date())
    errors: dict[str, list[str]] = {}
    args: dict[str, Any] = {}
    for name, longest in _TEXT_FILTERS.items():
        if len(values[name]) > longest:
            errors[name] = [f"Tối đa {longest} ký tự"]
        elif values[name]:
            args[name] = values[name]
    if values["action"]:
        if search.known_action(values["action"]):
            args["action"] = values["action"]
        else:
            errors["action"] = ["Thao tác không có trong danh sách"]
    if values["patient"]:
        if _PATIENT.match(values["patient"]):
            args["patient"] = values["patient"]
        else:
            errors["patient"] = ["CCCD hoặc mã định danh y tế: chữ và số, tối đa 32 ký tự"]
    zone = services().timezone
    for name, key, shift in (("from", "from_", 0), ("to", "to", 1)):
        try:
            chosen = day(values[name])
        except ValueError:
            errors[name] = [DAY_INVALID]
            continue
        if chosen is not None:
            args[key] = datetime.combine(chosen + timedelta(days=shift), datetime.min.time(),
                                         tzinfo=zone)
    if "from_" in args and "to" in args and args["from_"] >= args["to"]:
        errors["to"] = ["Ngày kết thúc phải sau ngày bắt đầu"]
    cursor = form.get("cursor", "")
    if cursor and _SEQ.match(cursor):
        args["cursor"] = cursor
    return args, values, errors


def _audit_page(form: Any) -> Any:
    args, values, errors = _event_filters(form)
    items: list[dict[str, Any]] = []
    next_cursor = None
    if not errors:
        found = services()
        limit = min(found.console.policy.page_size, services().settings.audit_page_max)
        items, next_cursor = search.events_page(found.audit,
                                                search.event_query(args, found.audit), limit)
    return page("console/inspector_audit.html", 422 if errors else 200, items=items,
                next_cursor=next_cursor, values=values, errors=errors,
                actions=ACTIONS, families=ACTION_FAMILIES)


@blp.route("/audit", methods=["GET"])
@signed_in("regulator")
def audit() -> Any:
    return _audit_page({})


@blp.route("/audit", methods=["POST"])
@signed_in("regulator")
def audit_search() -> Any:
    return _audit_page(request.form)


@blp.route("/audit/export", methods=["POST"])
@signed_in("regulator")
def audit_export() -> Any:
    args, values, errors = _event_filters(request.form)
    args.pop("cursor", None)
    mimetype = EXPORTS.get(request.form.get("format", ""))
    if mimetype is None:
        errors[FORM] = ["Chọn định dạng CSV hoặc NDJSON"]
    if errors:
        return page("console/inspector_audit.html", 422, items=[], next_cursor=None,
                    values=values, errors=errors, actions=ACTIONS, families=ACTION_FAMILIES)
    audit_log = services().audit
    assert mimetype is not None  # refused above
    response = export_response(search.every_event(audit_log, search.event_query(args, audit_log)),
                               mimetype, columns=search.CSV_COLUMNS, row=search.csv_row,
                               filename="audit-events.csv")
    if mimetype == NDJSON:
        response.headers["Content-Disposition"] = 'attachment; filename="audit-events.ndjson"'
    return response


# --- a patient's access log ------------------------------------------------------------------
@blp.route("/access-log", methods=["GET"])
@signed_in("regulator")
def access_log() -> Any:
    return page("console/inspector_access_log.html", cccd="", log=None, errors={})


@blp.route("/access-log", methods=["POST"])
@signed_in("regulator")
def access_log_search() -> Any:
    cccd = request.form.get("cccd", "").strip()
    if not search.valid_cccd(cccd):
        return page("console/inspector_access_log.html", 422, cccd=cccd, log=None,
                    errors={"cccd": ["CCCD gồm 12 chữ số"]})
    cursor = request.form.get("cursor", "")
    found = services()
    log = search.access_log(found.audit, found.parties, cccd,
                            cursor=cursor if _SEQ.match(cursor) else None,
                            limit=found.console.policy.page_size)
    return page("console/inspector_access_log.html", cccd=cccd, log=log, errors={})


# --- integrity ---------------------------------------------------------------------------------
@blp.route("/integrity", methods=["GET"])
@signed_in("regulator")
def integrity() -> Any:
    return page("console/inspector_integrity.html", check=services().console.integrity())


# --- controlled-drug overlaps --------------------------------------------------------------------
def _overlaps(form: Any) -> Any:
    window, values, errors = _window(form)
    if window is None:
        return page("console/inspector_overlaps.html", 422, values=values, errors=errors,
                    items=[], next_cursor=None, facilities=[], prescribers=[])
    console = services().console
    after = form.get("cursor") or None
    items, next_cursor = console.overlap_page(*window, after if after and len(after) < 64 else None)
    facilities, prescribers = console.overlap_ranking(*window)
    return page("console/inspector_overlaps.html", values=values, errors={}, items=items,
                next_cursor=next_cursor, facilities=facilities, prescribers=prescribers)


@blp.route("/overlaps", methods=["GET"])
@signed_in("regulator")
def overlaps() -> Any:
    return _overlaps({})


@blp.route("/overlaps", methods=["POST"])
@signed_in("regulator")
def overlaps_search() -> Any:
    return _overlaps(request.form)


# --- a prescription ------------------------------------------------------------------------------
@blp.route("/rx/<code>", methods=["GET"])
@signed_in("regulator")
def prescription(code: str) -> Any:
    found = services()
    stored = found.reading.get(code)
    found.reading.authorize_read(stored, g.party)
    record("prescription.viewed", stored)
    return page("console/inspector_rx.html", rx=sheet(stored, g.party),
                deliveries=deliveries_for(found.outbox, code, g.party))
