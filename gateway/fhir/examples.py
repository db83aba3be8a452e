"""A HIS's transaction Bundle for a prescription, made from a national document: what
docs/fhir.md shows, what ``make demo`` sends and what the tests post (pure).

The document's dates are ISO (``yyyy-mm-dd``, the canonical document's) or national
(``dd/mm/yyyy``); ``ngay_gio_ke_don`` without an offset is Vietnam time.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from gateway.fhir import resources as fr
from gateway.fhir.model import Line, Rx
from gateway.fhir.systems import Systems

VIETNAM = timezone(timedelta(hours=7))


def _iso_date(text: str) -> str:
    if "/" in text:
        day, month, year = (int(part) for part in text.split("/"))
        return f"{year:04d}-{month:02d}-{day:02d}"
    return text


def _iso_time(text: str) -> str:
    moment = datetime.fromisoformat(text.replace(" ", "T").replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VIETNAM)
    return moment.isoformat()


def canonical_like(document: dict[str, Any]) -> dict[str, Any]:
    """A national wire document with FHIR's date and time formats (and its one-object
    ``dot_dung_thuoc`` as a list)."""
    doc = {key: value for key, value in document.items() if key != "signature"}
    if "ngay_sinh_benh_nhan" in doc:
        doc["ngay_sinh_benh_nhan"] = _iso_date(doc["ngay_sinh_benh_nhan"])
    if "ngay_gio_ke_don" in doc:
        doc["ngay_gio_ke_don"] = _iso_time(doc["ngay_gio_ke_don"])
    periods = doc.get("dot_dung_thuoc", [])
    periods = [periods] if isinstance(periods, dict) else periods
    doc["dot_dung_thuoc"] = [{"dot": period.get("dot", index + 1),
                              "tu_ngay": _iso_date(period["tu_ngay"]),
                              "den_ngay": _iso_date(period["den_ngay"])}
                             for index, period in enumerate(periods)]
    follow_up = doc.get("ngay_tai_kham")
    if isinstance(follow_up, str) and "ngay_gio_ke_don" in doc:  # a date: days after prescribing
        prescribed = datetime.fromisoformat(doc["ngay_gio_ke_don"]).astimezone(VIETNAM).date()
        doc["ngay_tai_kham"] = (date.fromisoformat(_iso_date(follow_up)) - prescribed).days
    if "ma_so_bao_hiem_y_te" in doc:
        doc["ma_so_the_bao_hiem_y_te"] = doc.pop("ma_so_bao_hiem_y_te")
    return doc


def transaction(document: dict[str, Any], systems: Systems,
                sent_systems: list[str] | None = None) -> dict[str, Any]:
    """The transaction Bundle of ``document``: a Patient, a Practitioner (the prescriber's
    phone) and one MedicationRequest per line, with ``urn:uuid`` references between them.
    ``sent_systems``: the identifier system of each line's ``ma_thuoc`` (default: the
    national drug code's)."""
    doc = canonical_like(document)
    code = doc.get("ma_don_thuoc") or "new"
    lines = tuple(Line(index=index, national_code=line["ma_thuoc"],
                       sent_system=(sent_systems or [])[index] if sent_systems
                       else systems.drug_code,
                       prescribed=line["so_luong"], dispensed=0, unit=line.get("don_vi_tinh"))
                  for index, line in enumerate(doc["thong_tin_don_thuoc"]))
    rx = Rx(code=code, document=doc, status="issued", facility="", issued_at="",
            dispensable_until="", lines=lines, prescriber_name="", prescriber_code=None,
            facility_name="")
    patient = fr.patient(rx, systems)
    practitioner = fr.practitioner(rx, systems)
    for resource in (patient, practitioner):
        resource.pop("id")
    practitioner["name"] = [{"use": "official", "text": "Bác sĩ kê đơn"}]
    patient_url, practitioner_url = "urn:uuid:patient", "urn:uuid:practitioner"
    entries = [{"fullUrl": patient_url, "resource": patient,
                "request": {"method": "POST", "url": "Patient"}},
               {"fullUrl": practitioner_url, "resource": practitioner,
                "request": {"method": "POST", "url": "Practitioner"}}]
    for line in lines:
        request = fr.medication_request(rx, line, systems)
        for server_only in ("id", "identifier"):
            request.pop(server_only)
        request["dispenseRequest"].pop("validityPeriod")
        request["medicationReference"].pop("reference")
        if "ma_don_thuoc" not in doc:
            request.pop("groupIdentifier")
        request["subject"] = {"reference": patient_url}
        request["requester"] = {"reference": practitioner_url}
        entries.append({"fullUrl": f"urn:uuid:line-{line.index + 1}", "resource": request,
                        "request": {"method": "POST", "url": "MedicationRequest"}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
