"""Attack class: dates at the ends of what Python can represent, on every date parameter.

Probe findings: ``GET /v2/prescriptions?from=0001-01-01`` was a 500 (day one at midnight in
Asia/Ho_Chi_Minh has no UTC form), and the inspector's dashboard drew a 1900-2100 window for
16 s of CPU. Every date parameter of the API (found in the OpenAPI document) and of the console
(found in its pages' forms) now answers 200 or a 422 naming the parameter, never a 500.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core import dates
from gateway.web.context import services
from gateway.web.problems import PROBLEM_MEDIA_TYPE
from tests.support.console import Browser, Person

EXAMPLES = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
#: the ends, with and without a time, with the widest offsets either way
LIMITS = [day + time + zone
          for day in ("0001-01-01", "9999-12-31", "1899-12-31", "2200-01-01")
          for time, zone in (("", ""), ("T00:00:00", ""), ("T23:59:59.999999", ""),
                             ("T00:00:00", "+23:59"), ("T23:59:59", "-23:59"),
                             ("T00:00:00", "Z"), ("T12:00:00", "+14:00"))]
IN_RANGE = ["1900-01-01T12:00:00+07:00", "2199-12-31T00:00:00Z", "2026-03-01T00:00:00+07:00"]
#: who may call each operation (the answer must come from the view, not the role check)
CALLER = {"/v2/prescriptions": "clinic_a", "/v2/reports/summary": "regulator",
          "/v2/reports/controlled-overlaps": "regulator", "/v2/audit/events": "regulator"}


def date_parameters(client: FlaskClient) -> list[tuple[str, str, dict[str, str]]]:
    """Every date or date-time query parameter of the API, from its OpenAPI document: (path,
    name, the other required parameters with an acceptable value)."""
    spec = client.get("/openapi.json").get_json()
    found = []
    for path, operations in spec["paths"].items():
        get = operations.get("get")
        if not get:
            continue
        parameters = [p for p in get.get("parameters", []) if p.get("in") == "query"]
        required = {p["name"]: p["schema"]["enum"][0] for p in parameters
                    if p.get("required") and "enum" in p.get("schema", {})}
        for parameter in parameters:
            schema = parameter.get("schema", {})
            if schema.get("format") in ("date", "date-time") or ("[0-9]{4}-" in \
                    schema.get("pattern", "") and parameter["name"] != "cursor"):
                found.append((path, parameter["name"], required))
    return found


def _out_of_range(text: str) -> bool:
    """Whether the value lies outside the supported days (read in UTC when it has an offset)."""
    return not dates.in_range(datetime.fromisoformat(text))


def _check(answer: Any, name: str, value: str) -> None:
    assert answer.status_code in (200, 422), (name, value, answer.status_code,
                                              answer.get_data(as_text=True)[:300])
    if answer.status_code == 422:
        assert answer.mimetype == PROBLEM_MEDIA_TYPE
        assert name in answer.get_data(as_text=True)
    if _out_of_range(value):
        assert answer.status_code == 422, (name, value)


def test_every_api_date_parameter_is_found(client: FlaskClient) -> None:
    assert {(path, name) for path, name, _ in date_parameters(client)} == {
        (path, name) for path in CALLER for name in ("from", "to")}


def test_every_api_date_parameter_answers_the_limits_with_422(client: FlaskClient,
                                                              world: dict) -> None:
    parameters = date_parameters(client)
    for path, name, required in parameters:
        headers = world["h"][CALLER[path]]
        for value in LIMITS:
            _check(client.get(path, query_string={**required, name: value}, headers=headers),
                   name, value)
        for value in IN_RANGE:
            answer = client.get(path, query_string={**required, name: value}, headers=headers)
            assert answer.status_code == 200, (path, name, value, answer.get_json())


instants = st.builds(
    lambda moment, offset, shape: (
        moment.date().isoformat() if shape == 0 else
        moment.isoformat() if shape == 1 else
        moment.replace(tzinfo=timezone(timedelta(minutes=offset))).isoformat()),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1),
    st.integers(min_value=0, max_value=2))


@EXAMPLES
@given(value=instants, which=st.integers(min_value=0, max_value=7))
def test_any_instant_on_any_api_date_parameter_is_200_or_422(
        client: FlaskClient, world: dict, value: str, which: int) -> None:
    path, name, required = date_parameters(client)[which]
    answer = client.get(path, query_string={**required, name: value},
                        headers=world["h"][CALLER[path]])
    _check(answer, name, value)


# --- the console --------------------------------------------------------------------------
_FORM = re.compile(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', re.S)
_DATE_INPUT = re.compile(r'<input[^>]*placeholder="dd/mm/yyyy"[^>]*>')  # day-first text fields
_NAME = re.compile(r'name="([^"]+)"')


def console_date_forms(browser: Browser, pages: list[str]) -> list[tuple[str, str]]:
    """(form action, input name) of every date input on the console pages given."""
    found = []
    for page in pages:
        html = browser.get(page).get_data(as_text=True)
        for action, body in _FORM.findall(html):
            for tag in _DATE_INPUT.findall(body):
                found.append((action, _NAME.search(tag).group(1)))
    return sorted(set(found))


def _person(app: Flask, world: dict, party: str, username: str, browser: Browser) -> Browser:
    found = world["parties"][party]
    user, password = services(app).users.create(party_id=found.client_id, role=found.role,
                                                username=username)
    browser.login(Person(user.username, password, found.client_id))
    return browser


def _console_pages(app: Flask, prefix: str) -> list[str]:
    return sorted(rule.rule for rule in app.url_map.iter_rules()
                  if rule.rule.startswith(prefix) and "GET" in rule.methods and not rule.arguments)


@pytest.mark.parametrize(("party", "prefix"), [("regulator", "/console/inspector"),
                                               ("clinic_a", "/console/clinic")])
def test_every_console_date_input_answers_the_limits_with_a_form_error(
        app: Flask, world: dict, browser: Browser, party: str, prefix: str) -> None:
    _person(app, world, party, "nguoi.dung", browser)
    forms = console_date_forms(browser, _console_pages(app, prefix))
    assert {name for _, name in forms} == {"from", "to"}, forms
    for action, name in forms:
        for value in ("0001-01-01", "9999-12-31", "1899-12-31", "2200-01-01"):
            answer = browser.post(action, {name: value})
            assert answer.status_code == 422, (action, name, value, answer.status_code)
        assert browser.post(action, {name: "2026-03-01"}).status_code in (200, 303), action


@EXAMPLES
@given(day=st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
       which=st.integers(min_value=0, max_value=99))
def test_any_day_on_any_console_date_input_is_answered(
        app: Flask, world: dict, browser_factory: Any, day: date, which: int) -> None:
    browser = browser_factory()
    if not hasattr(app, "_inspector_person"):
        found = world["parties"]["regulator"]
        app._inspector_person = services(app).users.create(  # type: ignore[attr-defined]
            party_id=found.client_id, role="regulator", username="thanh.tra.h")
    user, password = app._inspector_person  # type: ignore[attr-defined]
    browser.login(Person(user.username, password, world["parties"]["regulator"].client_id))
    forms = console_date_forms(browser, _console_pages(app, "/console/inspector"))
    action, name = forms[which % len(forms)]
    answer = browser.post(action, {name: day.isoformat()})
    assert answer.status_code in (200, 422), (action, name, day, answer.status_code)
    if not dates.in_range(day):
        assert answer.status_code == 422


def test_the_dashboard_window_is_capped_with_a_message(app: Flask, world: dict,
                                                       browser: Browser) -> None:
    _person(app, world, "regulator", "thanh.tra", browser)
    longest = services(app).settings.console_dashboard_max_days
    assert longest == 366
    start = date(2025, 1, 1)
    too_long = browser.post("/console/inspector/", {
        "from": start.isoformat(), "to": (start + timedelta(days=longest)).isoformat()})
    assert too_long.status_code == 422
    assert f"tối đa {longest} ngày" in too_long.get_data(as_text=True)
    widest = browser.post("/console/inspector/", {
        "from": start.isoformat(), "to": (start + timedelta(days=longest - 1)).isoformat()})
    assert widest.status_code == 200
    century = browser.post("/console/inspector/", {"from": "1900-01-01", "to": "2100-12-31"})
    assert century.status_code == 422
