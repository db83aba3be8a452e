"""A prescription as a console page shows it (edge code, no endpoint): the resource the API
answers the same party (:func:`gateway.prescriptions.answers.view_of`), with the catalog's
names and the national document's fields in the words of the paper form."""

from __future__ import annotations

from datetime import date
from typing import Any

from gateway.console import labels
from gateway.parties.model import Party
from gateway.prescriptions.answers import view_of
from gateway.prescriptions.model import DISPENSABLE, StoredPrescription
from gateway.prescriptions.printing import SEXES, TITLES, age_text, clean
from gateway.web.context import services


def _dmy(value: str | None) -> str:
    if not value:
        return ""
    try:
        return date.fromisoformat(value).strftime("%d/%m/%Y")
    except ValueError:
        return clean(value)


def sheet(stored: StoredPrescription, party: Party) -> dict[str, Any]:
    """Everything a prescription page shows ``party``."""
    found = services()
    shown = view_of(stored, party)
    document = shown["prescription"]
    console = found.console
    lines = []
    for line, amounts in zip(document["thong_tin_don_thuoc"], shown["lines"], strict=True):
        drug = console.drug(amounts["ma_thuoc"])
        prescribed_name = clean(line.get("ten_thuoc")) or (drug.name if drug else "")
        lines.append({
            "index": amounts["index"], "ma_thuoc": amounts["ma_thuoc"],
            "name": prescribed_name, "brand": clean(line.get("biet_duoc")),
            "catalog_name": drug.name if drug else amounts["ma_thuoc"],
            "strength": " + ".join(f"{item.name} {item.strength}".strip()
                                   for item in drug.active_ingredients) if drug else "",
            "form": drug.dosage_form if drug else "",
            "control": labels.CONTROL_CLASSES.get(drug.control_class, "") if drug else "",
            "unit": clean(line.get("don_vi_tinh")), "directions": clean(line.get("cach_dung")),
            "prescribed": amounts["prescribed"], "dispensed": amounts["dispensed"],
            "remaining": amounts["remaining"]})
    born = document.get("ngay_sinh_benh_nhan")
    prescribed_on = str(document.get("ngay_gio_ke_don", ""))[:10]
    age = ""
    if born and prescribed_on:
        try:
            age = age_text(date.fromisoformat(born), date.fromisoformat(prescribed_on),
                           child_months=found.printing.child_months)
        except ValueError:
            age = ""
    facility = found.parties.find_national(stored["facility"])
    dispenses = []
    for dispense in shown["dispenses"]:
        items = []
        for item in dispense["items"]:
            drug = console.drug(item["ma_thuoc"])
            items.append({"line": item["line"], "quantity": item["so_luong_ban"],
                          "drug": drug.name if drug else item["ma_thuoc"],
                          "substituted": item.get("substituted", False),
                          "packs": len(item.get("packs", []))})
        dispenses.append({"id": dispense["id"], "pharmacy": dispense["pharmacy"],
                          "at": dispense["at"], "invoice": dispense.get("ma_hoa_don"),
                          "items": items})
    return {
        "code": shown["ma_don_thuoc"], "status": shown["status"],
        "status_label": labels.STATUSES.get(shown["status"], shown["status"]),
        "dispensable": shown["status"] in DISPENSABLE,
        "title": TITLES.get(document.get("loai_don_thuoc"), TITLES["c"]),
        "type": labels.TYPES.get(document.get("loai_don_thuoc"), ""),
        "facility": (f"{facility.name} ({stored['facility']})" if facility
                     else stored["facility"]),
        "issued_at": shown["issued_at"], "dispensable_until": shown["dispensable_until"],
        "patient": {"name": clean(document.get("ho_ten_benh_nhan")), "birth": _dmy(born),
                    "age": age, "sex": SEXES.get(document.get("gioi_tinh"), ""),
                    "weight": document.get("can_nang"),
                    "cccd": clean(document.get("ma_dinh_danh_cong_dan")),
                    "guardian": clean(document.get("thong_tin_nguoi_giam_ho")),
                    "address": clean(document.get("dia_chi"))},
        "diagnoses": [" – ".join(part for part in (clean(item.get("ma_chan_doan")),
                                                   clean(item.get("ten_chan_doan"))) if part)
                      for item in document.get("chan_doan", [])],
        "periods": [f"từ {_dmy(period.get('tu_ngay'))} đến {_dmy(period.get('den_ngay'))}"
                    for period in document.get("dot_dung_thuoc", [])],
        "advice": clean(document.get("loi_dan")),
        "warnings": [{"code": item.get("code", ""), "message": item.get("message", "")}
                     for item in shown["warnings"]],
        "lines": lines, "dispenses": dispenses, "cancellation": shown["cancellation"],
    }


def row(stored: StoredPrescription) -> dict[str, Any]:
    """One line of a list of prescriptions."""
    found = services()
    document = stored["document"]
    status = found.reading.effective_status(stored)
    return {"code": stored["_id"], "patient": clean(document.get("ho_ten_benh_nhan")),
            "type": document.get("loai_don_thuoc", ""), "status": status,
            "status_label": labels.STATUSES.get(status, status),
            "issued_at": stored["issued_at"], "lines": len(stored["lines"]),
            "remaining": sum(1 for line in stored["lines"]
                             if line["prescribed"] > line["dispensed"])}
