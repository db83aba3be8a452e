"""The console's forms as the API's bodies, and the API's errors as the forms' fields (pure).

A browser sends fields; the services take the API's JSON bodies and answer errors whose JSON
pointers name places in those bodies. :func:`dispense_body` builds the body of
``POST /v2/prescriptions/{code}/dispenses`` from the dispense form, remembering which line
each item came from, and :func:`field_errors` puts each error back beside the input it is
about. Nothing here decides what is allowed: the dispense does.

The dispense form (one block per line of the prescription, ``i`` = the API's ``line``):

- ``qty-<i>``: the quantity sold (empty: the line is not sold now); a decimal comma is read
  as a point (``2,5``);
- ``packs-<i>``: the scanned packs, one GS1 element string a line, as the scanner typed them;
- ``sub-<i>``: the national code of a substitute product (empty: as prescribed);
- ``ma_hoa_don``: the invoice number.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.core import dates
from schemas.document import parse_national_date

#: Where an error without a field of its own is shown: at the top of the form.
FORM = ""
_NUMBER = re.compile(r"^[0-9]+(?:[.,][0-9]+)?$")
_ITEM_POINTER = re.compile(r"^/items/(\d+)(?:/([a-z_]+)(?:/(\d+))?)?$")
_ITEM_FIELDS = {"so_luong_ban": "qty", "line": "qty", "ma_thuoc": "sub", "packs": "packs"}


@dataclass
class DispenseForm:
    """A dispense form read: the API body, the line of each item, and the problems found
    before anything was sent (by field name)."""

    body: dict[str, Any]
    lines: list[int]
    errors: dict[str, list[str]] = field(default_factory=dict)


def quantity(raw: str) -> int | float | None:
    """A typed quantity as a JSON number (None when empty).

    Raises:
        ValueError: not a plain decimal number.
    """
    text = raw.strip().replace("\u00a0", "").replace(" ", "")
    if not text:
        return None
    if not _NUMBER.match(text):
        raise ValueError(text)
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ValueError(text) from None
    return int(value) if value == value.to_integral_value() else float(value)


def scanned_packs(raw: str) -> list[str]:
    """The packs of a textarea: one element string a line, blank lines left out (the GS
    separators a scanner sends inside a line are kept)."""
    return [line.strip(" \t\r") for line in raw.split("\n") if line.strip(" \t\r")]


def dispense_body(form: Mapping[str, str], line_count: int) -> DispenseForm:
    """The body of a dispense from the form of a prescription with ``line_count`` lines."""
    items: list[dict[str, Any]] = []
    lines: list[int] = []
    errors: dict[str, list[str]] = {}
    for index in range(line_count):
        raw = form.get(f"qty-{index}", "")
        packs = scanned_packs(form.get(f"packs-{index}", ""))
        try:
            amount = quantity(raw)
        except ValueError:
            errors.setdefault(f"qty-{index}", []).append(
                "Số lượng phải là một số (ví dụ 10 hoặc 2,5)")
            continue
        if amount is None:
            if packs:
                errors.setdefault(f"qty-{index}", []).append(
                    "Nhập số lượng bán cho dòng có hộp thuốc đã quét")
            continue
        item: dict[str, Any] = {"line": index, "so_luong_ban": amount}
        substitute = form.get(f"sub-{index}", "").strip()
        if substitute:
            item["ma_thuoc"] = substitute
        if packs:
            item["packs"] = packs
        items.append(item)
        lines.append(index)
    body: dict[str, Any] = {"items": items}
    invoice = form.get("ma_hoa_don", "").strip()
    if invoice:
        body["ma_hoa_don"] = invoice
    return DispenseForm(body=body, lines=lines, errors=errors)


def dispense_labels(line_count: int) -> dict[str, str]:
    """The name of each field of the dispense form, as the error summary links it."""
    labels = {"ma_hoa_don": "Số hóa đơn"}
    for index in range(line_count):
        labels.update({f"qty-{index}": f"Dòng {index + 1}, số lượng bán",
                       f"packs-{index}": f"Dòng {index + 1}, mã hộp thuốc",
                       f"sub-{index}": f"Dòng {index + 1}, thuốc thay thế"})
    return labels


def field_errors(errors: Iterable[Mapping[str, Any]], lines: list[int] | None = None, *,
                 fields: Collection[str] = ()) -> dict[str, list[str]]:
    """The errors of an answer by form field: ``/items/<n>/...`` goes to the field of the
    line item ``n`` came from (``lines``), ``/<name>`` to the field ``name`` when the form has
    it (``fields``), anything else to :data:`FORM`. A pack's message says which scanned line
    it is about."""
    shown: dict[str, list[str]] = {}
    for error in errors:
        pointer = str(error.get("pointer") or "")
        message = str(error.get("message") or error.get("code") or "")
        name = FORM
        match = _ITEM_POINTER.match(pointer)
        if match and lines is not None and int(match.group(1)) < len(lines):
            line = lines[int(match.group(1))]
            name = f"{_ITEM_FIELDS.get(match.group(2) or '', 'qty')}-{line}"
            if match.group(2) == "packs" and match.group(3) is not None:
                message = f"Hộp thứ {int(match.group(3)) + 1}: {message}"
        elif pointer[1:] in fields:
            name = pointer[1:]
        shown.setdefault(name, []).append(message)
    return shown


#: Date fields of the console are text, written day first whatever the browser's language
#: (a ``type=date`` input shows mm/dd/yyyy in a browser set to English).
DAY_PATTERN = r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}|[0-9]{4}-[0-9]{2}-[0-9]{2}"
DAY_HINT = "ngày/tháng/năm, ví dụ 07/12/2026"
DAY_INVALID = "Ngày không hợp lệ (ngày/tháng/năm, ví dụ 07/12/2026)"


def day(raw: str | None) -> date | None:
    """A date field's value, ``dd/mm/yyyy`` (also ``yyyy-mm-dd``, as links and bookmarks
    carry it), or None when empty.

    Raises:
        ValueError: not a date, or outside :mod:`gateway.core.dates`'s range.
    """
    text = (raw or "").strip()
    if not text:
        return None
    parsed = parse_national_date(text)
    if parsed is None:
        raise ValueError(f"not a date: {text!r}")
    return dates.checked(parsed)


def shown_day(value: date) -> str:
    """A date as the console writes it: ``dd/mm/yyyy``."""
    return value.strftime("%d/%m/%Y")
