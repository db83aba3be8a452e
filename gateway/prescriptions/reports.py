"""Regulators' reports: the summary over the prescriptions collection (its aggregations are
gateway/prescriptions/report_store.py's), and the shape of the controlled-overlaps report (its records are kept by
gateway/prescriptions/overlap_store.py).

``GET /v2/reports/summary?from=&to=&group_by=facility|drug|type|day`` counts, per group, the
prescriptions issued in ``[from, to)``, their drug lines and the quantities prescribed and
dispensed, and the same for controlled drugs (narcotic, psychotropic, precursor,
radioactive) separately. Quantities add up units as prescribed: they are comparable within a
drug (``group_by=drug``), indicative across drugs.

The fields of a prescription the summary reads are listed in report_store.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from gateway.core.config import ConfigError
from gateway.prescriptions.report_store import summary_rows
from gateway.prescriptions.store import PrescriptionStore
from schemas.quantities import as_number, exact

#: decimals a sum of quantities is rounded back to (well above ERX_RX_QUANTITY_DECIMALS, well
#: below where float sums drift)
SUM_DECIMALS = 6
GROUPINGS = ("facility", "drug", "type", "day")
_OFFSET = re.compile(r"^[+-](0\d|1[0-4]):[0-5]\d$")


def summary(store: PrescriptionStore, *, group_by: str, start: datetime | None = None,
            end: datetime | None = None, utc_offset: str = "+07:00") -> dict[str, Any]:
    """Per-group and total counts of prescriptions issued in ``[start, end)``.

    Raises:
        ValueError: ``group_by`` is not one of :data:`GROUPINGS`.
    """
    if group_by not in GROUPINGS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPINGS)}")
    groups_rows, totals = summary_rows(store, group_by=group_by, start=start, end=end,
                                       utc_offset=utc_offset)
    groups = [_shape(row, with_key=True) for row in groups_rows]
    return {"group_by": group_by, "from": _iso(start, utc_offset), "to": _iso(end, utc_offset),
            "groups": groups,
            "totals": _shape(totals, with_key=False) if totals else _shape({}, with_key=False)}


def _shape(row: Mapping[str, Any], *, with_key: bool) -> dict[str, Any]:
    shaped: dict[str, Any] = {"key": row.get("_id")} if with_key else {}
    shaped.update({
        "prescriptions": row.get("prescriptions", 0), "cancelled": row.get("cancelled", 0),
        "lines": row.get("lines", 0), "prescribed": _quantity(row.get("prescribed", 0)),
        "dispensed": _quantity(row.get("dispensed", 0)),
        "controlled": {"prescriptions": row.get("c_prescriptions", 0),
                       "lines": row.get("c_lines", 0),
                       "prescribed": _quantity(row.get("c_prescribed", 0)),
                       "dispensed": _quantity(row.get("c_dispensed", 0))},
    })
    return shaped


def _quantity(total: float) -> int | float:
    """A sum of quantities as the exact decimal it is: each quantity has at most a few decimals
    (docs/rules.md, "Quantities"), so the database's float sum is rounded back to them
    (0.1 + 0.2 is answered 0.3, never 0.30000000000000004)."""
    return as_number(exact(round(total, SUM_DECIMALS)))


def _iso(value: datetime | None, utc_offset: str) -> str | None:
    """A bound as answered: in the report's offset (README "Conventions")."""
    if value is None:
        return None
    sign = -1 if utc_offset.startswith("-") else 1
    hours, minutes = (int(part) for part in utc_offset.lstrip("+-").split(":"))
    return value.astimezone(timezone(sign * timedelta(hours=hours, minutes=minutes))).isoformat()


def check_utc_offset(offset: str) -> str:
    """Refuse a malformed ``REPORT_UTC_OFFSET`` at start-up.

    Raises:
        ConfigError: not of the form ``+07:00``.
    """
    if not _OFFSET.match(offset):
        raise ConfigError("ERX_REPORT_UTC_OFFSET must look like +07:00")
    return offset


# --------------------------------------------------- GET /v2/reports/controlled-overlaps

#: Columns of the CSV export, one row per overlap (``;`` separates the items of a list).
OVERLAP_COLUMNS = (
    "id", "at", "outcome", "severity", "accepted", "control_class", "match", "ingredients",
    "patient_hash", "ma_don_thuoc", "loai_don_thuoc", "facility", "facility_name",
    "prescriber", "prescriber_name", "line", "ma_thuoc", "drug_name", "periods",
    "other_ma_don_thuoc", "other_loai_don_thuoc", "other_status", "other_facility",
    "other_facility_name", "other_prescriber", "other_prescriber_name", "other_lines",
    "other_drugs", "other_periods", "overlap_days", "overlap_spans")
_SIDE = ("ma_don_thuoc", "loai_don_thuoc", "facility", "facility_name", "prescriber",
         "prescriber_name")


def overlap_item(doc: Mapping[str, Any], zone: tzinfo) -> dict[str, Any]:
    """The report's form of a stored overlap (gateway/prescriptions/overlap_store.py): the
    person only as ``patient_hash``, the keyed hash of the CCCD."""
    mine, other = doc["prescription"], doc["other"]
    return {
        "id": doc["_id"], "at": doc["at"].astimezone(zone).isoformat(),
        "outcome": doc["outcome"], "severity": doc["severity"], "accepted": doc["accepted"],
        "code": doc["code"], "control_class": doc["control_class"], "match": doc["match"],
        "ingredients": list(doc["ingredients"]), "patient_hash": doc["patient"],
        "prescription": {**{name: mine.get(name) for name in _SIDE},
                         "line": mine["line"], "ma_thuoc": mine["ma_thuoc"],
                         "drug_name": mine.get("drug_name"), "periods": mine["periods"]},
        "other": {**{name: other.get(name) for name in _SIDE}, "status": other.get("status"),
                  "lines": list(other["lines"]), "drugs": other["drugs"],
                  "periods": other["periods"]},
        "overlap": {"days": doc["overlap"]["days"], "spans": doc["overlap"]["spans"]},
    }


def _periods(periods: list[Mapping[str, str]]) -> str:
    return "; ".join(f"{p['tu_ngay']}..{p['den_ngay']}" for p in periods)


def overlap_csv_row(item: Mapping[str, Any]) -> list[Any]:
    """One CSV row (:data:`OVERLAP_COLUMNS`) of an :func:`overlap_item`."""
    mine, other = item["prescription"], item["other"]
    return [
        item["id"], item["at"], item["outcome"], item["severity"],
        "true" if item["accepted"] else "false", item["control_class"], item["match"],
        "; ".join(item["ingredients"]), item["patient_hash"],
        *[mine[name] or "" for name in _SIDE], mine["line"], mine["ma_thuoc"],
        mine["drug_name"] or "", _periods(mine["periods"]),
        *[other[name] or "" for name in _SIDE[:2]], other["status"] or "",
        *[other[name] or "" for name in _SIDE[2:]],
        "; ".join(str(line) for line in other["lines"]),
        "; ".join(f"{drug['ma_thuoc']} {drug['name'] or ''}".strip() for drug in other["drugs"]),
        _periods(other["periods"]), item["overlap"]["days"], _periods(item["overlap"]["spans"]),
    ]
