"""A prescription as Vietnam Core IG resources (pure: no storage, no HTTP).

One MedicationRequest per drug line (id ``<ma_don_thuoc>.<n>``, n from 1), the Patient and
the Practitioner as that prescription states them (id ``<ma_don_thuoc>``: the gateway keeps no
register of people, and the id says nothing of the CCCD), Organizations for facilities and
pharmacies, Medications from the catalog, one MedicationDispense per dispensed line of each
dispense. docs/fhir.md has the mapping table; :mod:`gateway.fhir.intake` reads it backwards,
and the two are exact inverses on a canonical document (tests/gateway/fhir/test_mapping.py).
"""

from __future__ import annotations

import re
from typing import Any

from drug_catalog.identifiers import normalize_code
from drug_catalog.model import Drug
from gateway.fhir import systems as fs
from gateway.fhir.model import Dispense, DispensedItem, Line, Rx
from gateway.fhir.systems import Systems

#: Native status -> MedicationRequest.status (docs/fhir.md).
STATUS = {"issued": "active", "partially_dispensed": "active", "dispensed": "completed",
          "cancelled": "cancelled", "expired": "stopped"}
#: MedicationRequest.status -> the native statuses it stands for (search).
NATIVE_STATUSES = {"active": ("issued", "partially_dispensed"), "completed": ("dispensed",),
                   "cancelled": ("cancelled",), "stopped": ("expired",)}
GENDER = {2: "male", 3: "female", 1: "unknown"}
ANY_PHARMACY = "Bất kỳ cơ sở cung ứng thuốc nào (đơn không chỉ định nhà thuốc)"
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def line_id(code: str, index: int) -> str:
    """The MedicationRequest id of line ``index`` (0-based) of prescription ``code``."""
    return f"{code}.{index + 1}"


def facility_id(code: str) -> str:
    return f"facility-{code}"


def pharmacy_id(code: str) -> str:
    return f"pharmacy-{code}"


def medication_id(national_code: str) -> str:
    """The Medication id of a product: its national code when that is a FHIR id, else ``h-``
    and the hex of its UTF-8 (a code with ``Đ``), cut to 64 characters."""
    if _ID.match(national_code):
        return national_code
    return ("h-" + national_code.encode().hex())[:64]


def sent_system(sent: str, drug: Drug | None, systems: Systems) -> str:
    """The identifier system of what the clinic sent as ``ma_thuoc`` for product ``drug``:
    its registration number, one of its GTINs, else its national code."""
    key = normalize_code(sent)
    if drug is not None and key != drug.national_code:
        if key == drug.registration_number:
            return systems.registration
        if key.isdigit() and key.zfill(14) in drug.gtins:
            return fs.GTIN
    return systems.drug_code


def _quantity(value: Any, unit: str | None) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value}
    if unit:
        quantity["unit"] = unit
    return quantity


def medication_requests(rx: Rx, systems: Systems) -> list[dict[str, Any]]:
    """One MedicationRequest per line of ``rx``."""
    return [medication_request(rx, line, systems) for line in rx.lines]


def _prescription_extensions(doc: dict[str, Any], systems: Systems) -> list[dict[str, Any]]:
    extensions: list[dict[str, Any]] = []
    if "can_nang" in doc:
        extensions.append({"url": systems.weight, "valueQuantity": {
            "value": doc["can_nang"], "unit": "kg", "system": fs.UCUM, "code": "kg"}})
    if doc.get("luu_y"):
        extensions.append({"url": systems.cautions, "valueString": doc["luu_y"]})
    if "ngay_tai_kham" in doc:
        extensions.append({"url": systems.follow_up, "valueInteger": doc["ngay_tai_kham"]})
    for period in doc["dot_dung_thuoc"]:
        extensions.append({"url": systems.period, "extension": [
            {"url": "dot", "valueInteger": period["dot"]},
            {"url": "thoi-gian", "valuePeriod": {"start": period["tu_ngay"],
                                                  "end": period["den_ngay"]}}]})
    return extensions


def _categories(doc: dict[str, Any], systems: Systems) -> list[dict[str, Any]]:
    treatment = doc.get("hinh_thuc_dieu_tri")
    setting = "inpatient" if treatment == 3 else "outpatient"
    categories = [
        {"coding": [{"system": fs.RX_CATEGORY, "code": setting,
                     "display": setting.capitalize()}]},
        {"coding": [{"system": systems.rx_type, "code": doc["loai_don_thuoc"],
                     "display": fs.RX_TYPES.get(doc["loai_don_thuoc"], doc["loai_don_thuoc"])}]}]
    if treatment is not None:
        categories.append({"coding": [{"system": systems.treatment, "code": str(treatment),
                                       "display": fs.TREATMENTS.get(treatment, str(treatment))}]})
    return categories


def _reasons(doc: dict[str, Any], systems: Systems) -> list[dict[str, Any]]:
    reasons = []
    for diagnosis in doc["chan_doan"]:
        coding: dict[str, Any] = {"system": fs.ICD10, "code": diagnosis["ma_chan_doan"]}
        if diagnosis.get("ten_chan_doan"):
            coding["display"] = diagnosis["ten_chan_doan"]
        reason: dict[str, Any] = {"coding": [coding]}
        if diagnosis.get("ket_luan"):
            reason["extension"] = [{"url": systems.conclusion,
                                    "valueString": diagnosis["ket_luan"]}]
        reasons.append(reason)
    return reasons


def _performer(doc: dict[str, Any], systems: Systems) -> dict[str, Any]:
    nominated = doc.get("ma_co_so_cung_ung_thuoc_chi_dinh")
    if not nominated:
        return {"display": ANY_PHARMACY}
    return {"reference": f"Organization/{pharmacy_id(nominated)}",
            "identifier": {"system": systems.pharmacy, "value": nominated}}


def medication_request(rx: Rx, line: Line, systems: Systems) -> dict[str, Any]:
    doc = rx.document
    sent = doc["thong_tin_don_thuoc"][line.index]
    resource_id = line_id(rx.code, line.index)
    extensions = _prescription_extensions(doc, systems)
    if sent.get("biet_duoc"):
        extensions.append({"url": systems.brand, "valueString": sent["biet_duoc"]})
    medication: dict[str, Any] = {
        "reference": f"Medication/{medication_id(line.national_code)}",
        "identifier": {"system": line.sent_system, "value": sent["ma_thuoc"]}}
    if sent.get("ten_thuoc"):
        medication["display"] = sent["ten_thuoc"]
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest", "id": resource_id,
        "meta": {"profile": [fs.MEDICATION_REQUEST]},
        "extension": extensions,
        "identifier": [{"system": systems.line, "value": resource_id}],
        "status": STATUS[rx.status], "intent": "order",
        "category": _categories(doc, systems),
        "medicationReference": medication,
        "subject": {"reference": f"Patient/{rx.code}"},
        "authoredOn": doc["ngay_gio_ke_don"],
        "requester": {"reference": f"Practitioner/{rx.code}"},
        "performer": _performer(doc, systems),
        "reasonCode": _reasons(doc, systems),
        "groupIdentifier": {"system": systems.prescription, "value": rx.code},
        "dosageInstruction": [{"text": sent["cach_dung"]}],
        "dispenseRequest": {
            "validityPeriod": {"start": rx.issued_at, "end": rx.dispensable_until},
            "quantity": _quantity(sent["so_luong"], sent["don_vi_tinh"])},
    }
    if doc.get("loi_dan"):
        resource["note"] = [{"text": doc["loi_dan"]}]
    return resource


def patient(rx: Rx, systems: Systems) -> dict[str, Any]:
    """The patient as prescription ``rx`` states them (vn-core-patient)."""
    doc = rx.document
    identifiers = []
    if doc.get("ma_dinh_danh_cong_dan"):
        identifiers.append({"use": "official", "type": fs.TYPE_NI, "system": fs.CCCD,
                            "value": doc["ma_dinh_danh_cong_dan"]})
    if doc.get("ma_so_the_bao_hiem_y_te"):
        identifiers.append({"use": "official", "type": fs.TYPE_SB, "system": fs.BHYT,
                            "value": doc["ma_so_the_bao_hiem_y_te"]})
    if doc.get("ma_dinh_danh_y_te"):
        identifiers.append({"system": systems.health_id, "value": doc["ma_dinh_danh_y_te"]})
    resource: dict[str, Any] = {
        "resourceType": "Patient", "id": rx.code, "meta": {"profile": [fs.PATIENT]},
        "name": [{"text": doc["ho_ten_benh_nhan"]}],
        "gender": GENDER[doc["gioi_tinh"]], "birthDate": doc["ngay_sinh_benh_nhan"]}
    if identifiers:
        resource["identifier"] = identifiers
    if doc.get("dia_chi"):
        resource["address"] = [{"text": doc["dia_chi"]}]
    if rx.facility:  # the issuing facility keeps the record this patient comes from
        managing: dict[str, Any] = {
            "reference": f"Organization/{facility_id(rx.facility)}",
            "identifier": {"system": fs.PROVIDER_CODE, "value": rx.facility}}
        if rx.facility_name:
            managing["display"] = rx.facility_name
        resource["managingOrganization"] = managing
    if doc.get("thong_tin_nguoi_giam_ho"):
        resource["contact"] = [{"relationship": [{"coding": [{
            "system": fs.ROLE_CODE, "code": "GUARD", "display": "guardian"}]}],
            "name": {"text": doc["thong_tin_nguoi_giam_ho"]}}]
    return resource


def practitioner(rx: Rx, systems: Systems) -> dict[str, Any]:
    """The prescriber of ``rx`` (vn-core-practitioner): the doctor party's name, or, when the
    facility itself submitted, a name saying so (the gateway does not know which doctor)."""
    name = rx.prescriber_name or f"Bác sĩ của {rx.facility_name or rx.facility} (không rõ tên)"
    resource: dict[str, Any] = {
        "resourceType": "Practitioner", "id": rx.code, "meta": {"profile": [fs.PRACTITIONER]},
        "name": [{"use": "official", "text": name}]}
    if rx.prescriber_code:
        resource["identifier"] = [{"system": systems.doctor, "value": rx.prescriber_code}]
    phone = rx.document.get("so_dien_thoai_nguoi_kham_benh")
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone}]
    return resource


def organization(code: str, name: str, *, pharmacy: bool, systems: Systems,
                 phone: str | None = None, address: str | None = None,
                 active: bool = True) -> dict[str, Any]:
    """A facility (the IG's ``MaCSKCB`` slice) or a pharmacy (the gateway's system) as a
    vn-core-provider Organization."""
    identifier: dict[str, Any]
    if pharmacy:
        resource_id, identifier = pharmacy_id(code), {"system": systems.pharmacy, "value": code}
    else:
        resource_id = facility_id(code)
        identifier = {"use": "secondary", "type": fs.TYPE_PRN, "system": fs.PROVIDER_CODE,
                      "value": code}
    resource: dict[str, Any] = {
        "resourceType": "Organization", "id": resource_id, "meta": {"profile": [fs.PROVIDER]},
        "identifier": [identifier], "active": active, "type": [fs.PROVIDER_TYPE], "name": name}
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone}]
    if address:
        resource["address"] = [{"text": address}]
    return resource


def medication(drug: Drug, systems: Systems) -> dict[str, Any]:
    """A catalog product (vn-core-medication): its national code, registration number and
    GTINs as codings and identifiers."""
    codings = [{"system": systems.drug_code, "code": drug.national_code, "display": drug.name},
               {"system": systems.registration, "code": drug.registration_number}]
    codings += [{"system": fs.GTIN, "code": gtin} for gtin in drug.gtins]
    resource: dict[str, Any] = {
        "resourceType": "Medication", "id": medication_id(drug.national_code),
        "meta": {"profile": [fs.MEDICATION]},
        "identifier": [{"system": coding["system"], "value": coding["code"]} for coding in codings],
        "code": {"coding": codings, "text": drug.name},
        "status": "active" if drug.status == "active" else "inactive"}
    if drug.dosage_form:
        resource["form"] = {"text": drug.dosage_form}
    ingredients = [{"itemCodeableConcept": {"text": " ".join(filter(None, (item.name,
                                                                          item.strength)))},
                    "isActive": True} for item in drug.active_ingredients]
    if ingredients:
        resource["ingredient"] = ingredients
    return resource


def dispense_id(code: str, dispense: Dispense, position: int) -> str:
    """The MedicationDispense id of item ``position`` (0-based) of a dispense."""
    return f"{code}.{dispense.id}.{position + 1}"


def medication_dispenses(rx: Rx, systems: Systems) -> list[dict[str, Any]]:
    return [medication_dispense(rx, dispense, position, item, systems)
            for dispense in rx.dispenses for position, item in enumerate(dispense.items)]


def medication_dispense(rx: Rx, dispense: Dispense, position: int, item: DispensedItem,
                        systems: Systems) -> dict[str, Any]:
    """One dispensed line (vn-core-medication-dispense); the scanned packs in the gateway's
    ``hop-thuoc`` extension."""
    identifiers = [{"system": systems.dispense, "value": dispense.id}]
    if dispense.invoice:
        identifiers.append({"system": systems.invoice, "value": dispense.invoice})
    unit = rx.lines[item.line].unit if item.line < len(rx.lines) else None
    resource: dict[str, Any] = {
        "resourceType": "MedicationDispense", "id": dispense_id(rx.code, dispense, position),
        "meta": {"profile": [fs.MEDICATION_DISPENSE]},
        "identifier": identifiers, "status": "completed",
        "medicationReference": {"reference": f"Medication/{medication_id(item.national_code)}",
                                "identifier": {"system": systems.drug_code,
                                               "value": item.national_code}},
        "subject": {"reference": f"Patient/{rx.code}"},
        "performer": [{"actor": {"reference": f"Organization/{pharmacy_id(dispense.pharmacy)}",
                                 "identifier": {"system": systems.pharmacy,
                                                "value": dispense.pharmacy}}}],
        "authorizingPrescription": [{"reference": f"MedicationRequest/{line_id(rx.code, item.line)}"}],
        "quantity": _quantity(item.quantity, unit),
        "whenHandedOver": dispense.at}
    if item.substituted:
        resource["substitution"] = {"wasSubstituted": True, "type": {"coding": [{
            "system": fs.SUBSTANCE_ADMIN_SUBSTITUTION, "code": "EC",
            "display": "equivalent composition"}]}}
    if item.packs:
        resource["extension"] = [_pack(pack, systems) for pack in item.packs]
    return resource


def _pack(pack: Any, systems: Systems) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"url": "gtin", "valueString": pack.gtin},
                                   {"url": "serial", "valueString": pack.serial}]
    if pack.lot:
        parts.append({"url": "lot", "valueString": pack.lot})
    if pack.expiry:
        parts.append({"url": "expiry", "valueDate": pack.expiry})
    return {"url": systems.pack, "extension": parts}
