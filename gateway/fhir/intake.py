"""FHIR in: a transaction Bundle as the national prescription document, and a
MedicationDispense as the native dispense body (pure: no storage, no HTTP).

Each reader returns what it made and every problem at once, each with a FHIRPath
``expression`` into what was sent; ``paths`` maps the JSON pointers of the national document
to the FHIRPath they came from, so that the national rules' errors (schemas/rules.py) point
into the Bundle too. :mod:`gateway.fhir.resources` is the other direction; docs/fhir.md the
table.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from gateway.fhir import systems as fs
from gateway.fhir.resources import GENDER
from gateway.fhir.systems import Systems

SEX = {gender: code for code, gender in GENDER.items()}
#: Prescription-level national fields each MedicationRequest of a Bundle carries.
SHARED = ("ma_don_thuoc", "loai_don_thuoc", "hinh_thuc_dieu_tri", "ngay_gio_ke_don",
          "chan_doan", "can_nang", "luu_y", "ngay_tai_kham", "dot_dung_thuoc", "loi_dan",
          "ma_co_so_cung_ung_thuoc_chi_dinh")


@dataclass
class Problems:
    """Problems found in a FHIR body: ``{"expression", "code", "message", "_en"}``."""

    items: list[dict[str, str]] = field(default_factory=list)

    def add(self, expression: str, code: str, vi: str, en: str) -> None:
        self.items.append({"expression": expression, "code": code, "message": vi, "_en": en})


@dataclass
class Intake:
    """A Bundle read as a national document (None when it could not be read at all)."""

    document: dict[str, Any] | None
    problems: list[dict[str, str]]
    paths: dict[str, str]
    #: (resourceType, the line index for a MedicationRequest else None) of each entry
    entries: list[tuple[str, int | None]] = field(default_factory=list)

    def expression(self, pointer: str) -> str:
        """The FHIRPath a national JSON pointer came from (the nearest mapped parent)."""
        while True:
            if pointer in self.paths:
                return self.paths[pointer]
            if "/" not in pointer.strip("/"):
                return self.paths.get(pointer, "Bundle")
            pointer = pointer.rsplit("/", 1)[0]


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _parts(extension: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The sub-extensions of a complex extension by their (text) url."""
    return {part["url"]: part for part in map(_object, _list(extension.get("extension")))
            if isinstance(part.get("url"), str)}


def _extensions(resource: dict[str, Any], url: str) -> list[tuple[int, dict[str, Any]]]:
    return [(index, extension) for index, extension in enumerate(_list(resource.get("extension")))
            if isinstance(extension, dict) and extension.get("url") == url]


def read_transaction(bundle: Any, systems: Systems) -> Intake:
    """A transaction Bundle (Patient, optional Practitioner, one MedicationRequest per line)
    as the national document."""
    problems = Problems()
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        problems.add("resourceType", "fhir.resource_type", "Phải là một Bundle",
                     "must be a Bundle")
        return Intake(None, problems.items, {})
    if bundle.get("type") != "transaction":
        problems.add("Bundle.type", "fhir.bundle_type", "Bundle.type phải là transaction",
                     "Bundle.type must be transaction")
    patients: list[tuple[int, Any, dict[str, Any]]] = []
    practitioners: list[tuple[int, Any, dict[str, Any]]] = []
    requests: list[tuple[int, Any, dict[str, Any]]] = []
    entries: list[tuple[str, int | None]] = []
    for index, entry in enumerate(_list(bundle.get("entry"))):
        where = f"Bundle.entry[{index}]"
        resource = _object(_object(entry).get("resource"))
        kind = resource.get("resourceType")
        method = _object(_object(entry).get("request")).get("method")
        if method not in ("POST", None):
            problems.add(f"{where}.request.method", "fhir.entry",
                         "Chỉ nhận POST trong giao dịch", "only POST entries are accepted")
        if kind == "Patient":
            patients.append((index, entry, resource))
            entries.append((kind, None))
        elif kind == "Practitioner":
            practitioners.append((index, entry, resource))
            entries.append((kind, None))
        elif kind == "MedicationRequest":
            entries.append((kind, len(requests)))
            requests.append((index, entry, resource))
        else:
            problems.add(f"{where}.resource", "fhir.resource_type",
                         "Giao dịch đơn thuốc chỉ gồm Patient, Practitioner và MedicationRequest",
                         "a prescription transaction holds Patient, Practitioner and "
                         "MedicationRequest entries only")
    if len(patients) != 1:
        problems.add("Bundle.entry", "fhir.patient", "Cần đúng một Patient",
                     "exactly one Patient is needed")
    if len(practitioners) > 1:
        problems.add("Bundle.entry", "fhir.practitioner", "Nhiều nhất một Practitioner",
                     "at most one Practitioner")
    document: dict[str, Any] = {}
    paths: dict[str, str] = {"": "Bundle", "/thong_tin_don_thuoc": "Bundle.entry"}
    if patients:
        _read_patient(*patients[0], document, paths, systems, problems)
    if practitioners:
        _read_practitioner(*practitioners[0], document, paths)
    lines: list[dict[str, Any]] = []
    shared: list[tuple[int, dict[str, Any], dict[str, str]]] = []
    for position, (index, _entry, resource) in enumerate(requests):
        values, own = _read_request(index, resource, position, systems, problems, paths)
        lines.append(values.pop("line"))
        shared.append((index, values, own))
        _check_references(index, resource, patients, practitioners, problems)
    document["thong_tin_don_thuoc"] = lines
    _read_signature(bundle, document, paths, problems)
    if shared:
        _index, first, first_paths = shared[0]
        for name in SHARED:
            if name in first:
                document[name] = first[name]
        paths.update(first_paths)
        for index, values, own in shared[1:]:
            for name in SHARED:
                if values.get(name) != first.get(name):
                    problems.add(own.get(f"/{name}", f"Bundle.entry[{index}].resource"),
                                 "fhir.group_mismatch",
                                 f"Mọi MedicationRequest của một đơn phải giống nhau ở {name}",
                                 f"every MedicationRequest of one prescription must agree on "
                                 f"{name}")
    return Intake(document, problems.items, paths, entries)


def _read_signature(bundle: dict[str, Any], document: dict[str, Any], paths: dict[str, str],
                    problems: Problems) -> None:
    """The prescriber's signature (the national ``signature``: a compact JWS over the
    canonical document, README "Signatures") from ``Bundle.signature.data`` (base64)."""
    paths["/signature"] = "Bundle.signature"
    signature = _object(bundle.get("signature"))
    if "data" not in signature:
        return
    paths["/signature"] = "Bundle.signature.data"
    try:
        document["signature"] = base64.b64decode(signature["data"], validate=True).decode()
    except (TypeError, ValueError):  # binascii.Error and UnicodeDecodeError are ValueErrors
        problems.add("Bundle.signature.data", "fhir.value",
                     "Bundle.signature.data là base64 của chữ ký JWS của người kê đơn",
                     "Bundle.signature.data is the base64 of the prescriber's compact JWS")


def _read_patient(index: int, _entry: Any, resource: dict[str, Any], document: dict[str, Any],
                  paths: dict[str, str], systems: Systems, problems: Problems) -> None:
    where = f"Bundle.entry[{index}].resource"
    names = _list(resource.get("name"))
    name = _object(names[0]) if names else {}
    text = _text(name.get("text"))
    if text is None and (name.get("family") or name.get("given")):
        text = " ".join(str(part) for part in (name.get("family"), *_list(name.get("given")))
                        if part)
    if text is not None:
        document["ho_ten_benh_nhan"] = text
    paths["/ho_ten_benh_nhan"] = f"{where}.name[0].text"
    by_system = {fs.CCCD: "ma_dinh_danh_cong_dan", fs.BHYT: "ma_so_the_bao_hiem_y_te",
                 fs.CCCD_ALIAS: "ma_dinh_danh_cong_dan", fs.BHYT_ALIAS: "ma_so_the_bao_hiem_y_te",
                 systems.health_id: "ma_dinh_danh_y_te"}
    for position, identifier in enumerate(_list(resource.get("identifier"))):
        target = by_system.get(str(_object(identifier).get("system")))
        if target is None:
            continue  # the IG's slicing is open: other identifiers are the HIS's own
        path = f"{where}.identifier[{position}].value"
        if target in document:
            problems.add(path, "fhir.identifier", "Định danh này được gửi hai lần",
                         "this identifier is sent twice")
        document[target] = identifier.get("value")
        paths[f"/{target}"] = path
    if "birthDate" in resource:
        document["ngay_sinh_benh_nhan"] = resource["birthDate"]
    paths["/ngay_sinh_benh_nhan"] = f"{where}.birthDate"
    paths["/gioi_tinh"] = f"{where}.gender"
    if "gender" in resource:
        sex = SEX.get(resource["gender"]) if isinstance(resource["gender"], str) else None
        if sex is None:
            problems.add(f"{where}.gender", "patient.sex",
                         "gender phải là male, female hoặc unknown (đơn quốc gia không có other)",
                         "gender must be male, female or unknown (the national document has "
                         "no other)")
        else:
            document["gioi_tinh"] = sex
    addresses = _list(resource.get("address"))
    if addresses and _object(addresses[0]).get("text") is not None:
        document["dia_chi"] = addresses[0]["text"]
        paths["/dia_chi"] = f"{where}.address[0].text"
    contacts = _list(resource.get("contact"))
    if contacts:
        guardian = _object(_object(contacts[0]).get("name")).get("text")
        if guardian is not None:
            document["thong_tin_nguoi_giam_ho"] = guardian
        paths["/thong_tin_nguoi_giam_ho"] = f"{where}.contact[0].name.text"


def _read_practitioner(index: int, _entry: Any, resource: dict[str, Any],
                       document: dict[str, Any], paths: dict[str, str]) -> None:
    for position, telecom in enumerate(_list(resource.get("telecom"))):
        if _object(telecom).get("system") == "phone" and "value" in telecom:
            document["so_dien_thoai_nguoi_kham_benh"] = telecom["value"]
            paths["/so_dien_thoai_nguoi_kham_benh"] = (
                f"Bundle.entry[{index}].resource.telecom[{position}].value")
            return


def _check_references(index: int, resource: dict[str, Any], patients: list[Any],
                      practitioners: list[Any], problems: Problems) -> None:
    for element, targets, kind in (("subject", patients, "Patient"),
                                   ("requester", practitioners, "Practitioner")):
        reference = _object(resource.get(element)).get("reference")
        if not isinstance(reference, str) or not targets:
            continue
        _position, entry, target = targets[0]
        names = {_object(entry).get("fullUrl")}
        if target.get("id"):
            names.add(f"{kind}/{target['id']}")
        if reference not in names:
            problems.add(f"Bundle.entry[{index}].resource.{element}.reference", "fhir.reference",
                         f"Phải trỏ đến {kind} trong cùng Bundle (fullUrl)",
                         f"must refer to the {kind} of this Bundle (its fullUrl)")


def _coding(concepts: Any, system: str) -> tuple[int, dict[str, Any]] | None:
    for position, concept in enumerate(_list(concepts)):
        for coding in _list(_object(concept).get("coding")):
            if _object(coding).get("system") == system:
                return position, coding
    return None


def _read_request(index: int, resource: dict[str, Any], position: int, systems: Systems,
                  problems: Problems, paths: dict[str, str]
                  ) -> tuple[dict[str, Any], dict[str, str]]:
    """One MedicationRequest: its line, and the prescription-level values it carries (with
    their paths)."""
    where = f"Bundle.entry[{index}].resource"
    line_pointer = f"/thong_tin_don_thuoc/{position}"
    values: dict[str, Any] = {}
    own: dict[str, str] = {}
    if resource.get("status", "active") != "active":  # a draft is not a prescription yet
        problems.add(f"{where}.status", "fhir.value", "Đơn mới phải có status active",
                     "a new prescription's status is active")
    if resource.get("intent", "order") != "order":
        problems.add(f"{where}.intent", "fhir.value", "intent phải là order",
                     "intent must be order")
    group = _object(resource.get("groupIdentifier"))
    if group.get("value") is not None:
        values["ma_don_thuoc"] = group["value"]
        own["/ma_don_thuoc"] = f"{where}.groupIdentifier.value"
    found = _coding(resource.get("category"), systems.rx_type)
    own["/loai_don_thuoc"] = f"{where}.category"
    if found is not None:
        values["loai_don_thuoc"] = found[1].get("code")
        own["/loai_don_thuoc"] = f"{where}.category[{found[0]}].coding"
    found = _coding(resource.get("category"), systems.treatment)
    if found is not None:
        path = f"{where}.category[{found[0]}].coding"
        own["/hinh_thuc_dieu_tri"] = path
        code = found[1].get("code")
        if isinstance(code, str) and code.isdigit():
            values["hinh_thuc_dieu_tri"] = int(code)
        else:
            problems.add(path, "fhir.value", "Mã hình thức điều trị là 1, 2 hoặc 3",
                         "the treatment code is 1, 2 or 3")
    if "authoredOn" in resource:
        values["ngay_gio_ke_don"] = resource["authoredOn"]
    own["/ngay_gio_ke_don"] = f"{where}.authoredOn"
    diagnoses = []
    for number, reason in enumerate(_list(resource.get("reasonCode"))):
        reason = _object(reason)
        codings = [_object(c) for c in _list(reason.get("coding"))]
        coding = next((c for c in codings if c.get("system") in (fs.ICD10, None)), None)
        path = f"{where}.reasonCode[{number}]"
        own[f"/chan_doan/{number}"] = path
        if coding is None:
            problems.add(path, "rx.icd10", "Cần một mã ICD-10 (http://hl7.org/fhir/sid/icd-10)",
                         "an ICD-10 coding (http://hl7.org/fhir/sid/icd-10) is needed")
            continue
        diagnosis: dict[str, Any] = {"ma_chan_doan": coding.get("code")}
        own[f"/chan_doan/{number}/ma_chan_doan"] = f"{path}.coding[{codings.index(coding)}].code"
        if coding.get("display") is not None:
            diagnosis["ten_chan_doan"] = coding["display"]
        for _at, extension in _extensions(reason, systems.conclusion):
            diagnosis["ket_luan"] = extension.get("valueString")
        diagnoses.append(diagnosis)
    values["chan_doan"] = diagnoses
    own["/chan_doan"] = f"{where}.reasonCode"
    for at, extension in _extensions(resource, systems.weight):
        weight = _object(extension.get("valueQuantity"))
        values["can_nang"] = weight.get("value")
        own["/can_nang"] = f"{where}.extension[{at}].valueQuantity.value"
        if weight.get("code", "kg") != "kg" or weight.get("unit", "kg") != "kg":
            problems.add(f"{where}.extension[{at}].valueQuantity", "patient.weight_required",
                         "Cân nặng tính bằng kg (UCUM kg)", "the weight is in kg (UCUM kg)")
    for at, extension in _extensions(resource, systems.cautions):
        values["luu_y"] = extension.get("valueString")
        own["/luu_y"] = f"{where}.extension[{at}].valueString"
    for at, extension in _extensions(resource, systems.follow_up):
        values["ngay_tai_kham"] = extension.get("valueInteger")
        own["/ngay_tai_kham"] = f"{where}.extension[{at}].valueInteger"
    periods = []
    for number, (at, extension) in enumerate(_extensions(resource, systems.period)):
        parts = _parts(extension)
        span = _object(parts.get("thoi-gian", {}).get("valuePeriod"))
        period: dict[str, Any] = {"tu_ngay": span.get("start"), "den_ngay": span.get("end")}
        if "dot" in parts:
            period["dot"] = parts["dot"].get("valueInteger")
        periods.append(period)
        own[f"/dot_dung_thuoc/{number}"] = f"{where}.extension[{at}]"
    values["dot_dung_thuoc"] = periods
    own["/dot_dung_thuoc"] = f"{where}.extension"
    notes = [_object(note).get("text") for note in _list(resource.get("note"))]
    if notes:
        values["loi_dan"] = "\n".join(str(note) for note in notes if note is not None)
        own["/loi_dan"] = f"{where}.note"
    performer = _object(resource.get("performer"))
    nominated = _object(performer.get("identifier")).get("value")
    reference = performer.get("reference")
    if nominated is None and isinstance(reference, str) and reference.startswith(
            "Organization/pharmacy-"):
        nominated = reference.removeprefix("Organization/pharmacy-")
    if nominated is not None:
        values["ma_co_so_cung_ung_thuoc_chi_dinh"] = nominated
        own["/ma_co_so_cung_ung_thuoc_chi_dinh"] = f"{where}.performer"
    line, line_paths = _read_line(where, resource, systems, problems)
    values["line"] = line
    for name, path in line_paths.items():
        paths[f"{line_pointer}/{name}"] = path
    paths[line_pointer] = where
    return values, own


def _read_line(where: str, resource: dict[str, Any], systems: Systems,
               problems: Problems) -> tuple[dict[str, Any], dict[str, str]]:
    line: dict[str, Any] = {}
    paths: dict[str, str] = {}
    reference = _object(resource.get("medicationReference"))
    concept = _object(resource.get("medicationCodeableConcept"))
    if reference:
        paths["ma_thuoc"] = f"{where}.medicationReference"
        identifier = _object(reference.get("identifier"))
        target = reference.get("reference")
        if identifier.get("value") is not None:
            line["ma_thuoc"] = identifier["value"]
            paths["ma_thuoc"] = f"{where}.medicationReference.identifier.value"
        elif isinstance(target, str) and target.startswith("Medication/"):
            line["ma_thuoc"] = medication_code(target.removeprefix("Medication/"))
        if reference.get("display") is not None:
            line["ten_thuoc"] = reference["display"]
            paths["ten_thuoc"] = f"{where}.medicationReference.display"
    elif concept:
        codings = [_object(c) for c in _list(concept.get("coding"))]
        usable = [c for c in codings if c.get("system") in systems.drug_systems()]
        chosen = next((c for c in usable if c.get("userSelected")), usable[0] if usable else None)
        paths["ma_thuoc"] = f"{where}.medicationCodeableConcept"
        if chosen is not None:
            line["ma_thuoc"] = chosen.get("code")
            paths["ma_thuoc"] = f"{where}.medicationCodeableConcept.coding[{codings.index(chosen)}]"
        if concept.get("text") is not None:
            line["ten_thuoc"] = concept["text"]
            paths["ten_thuoc"] = f"{where}.medicationCodeableConcept.text"
    else:
        paths["ma_thuoc"] = f"{where}.medication[x]"
    if "ma_thuoc" not in line:
        problems.add(paths["ma_thuoc"], "drug.unknown",
                     "Cần mã thuốc: medicationReference.identifier, Medication/<mã thuốc> hoặc "
                     "một coding mã thuốc, số đăng ký hay GTIN",
                     "a drug is needed: medicationReference.identifier, Medication/<code> or a "
                     "coding of a national code, registration number or GTIN")
    for _at, extension in _extensions(resource, systems.brand):
        line["biet_duoc"] = extension.get("valueString")
        paths["biet_duoc"] = f"{where}.extension('{systems.brand}')"
    quantity = _object(_object(resource.get("dispenseRequest")).get("quantity"))
    if "unit" in quantity:
        line["don_vi_tinh"] = quantity["unit"]
    if "value" in quantity:
        line["so_luong"] = quantity["value"]
    paths["don_vi_tinh"] = f"{where}.dispenseRequest.quantity.unit"
    paths["so_luong"] = f"{where}.dispenseRequest.quantity.value"
    dosages = _list(resource.get("dosageInstruction"))
    if dosages and _object(dosages[0]).get("text") is not None:
        line["cach_dung"] = dosages[0]["text"]
    paths["cach_dung"] = f"{where}.dosageInstruction[0].text"
    return line, paths


def medication_code(resource_id: str) -> str:
    """The national code a Medication id stands for (see resources.medication_id)."""
    if resource_id.startswith("h-"):
        try:
            return bytes.fromhex(resource_id[2:]).decode()
        except ValueError:
            return resource_id
    return resource_id


@dataclass
class DispenseIntake:
    """MedicationDispense resources read as one native dispense of prescription ``code``."""

    code: str | None
    body: dict[str, Any]
    problems: list[dict[str, str]]
    paths: dict[str, str]

    def expression(self, pointer: str) -> str:
        return Intake(None, [], self.paths).expression(pointer)


def _pack_text(extension: dict[str, Any]) -> str | None:
    """A ``hop-thuoc`` extension as the GS1 element string the dispense path reads: its
    ``valueString`` (the scanned text), or the string its parts make."""
    if isinstance(extension.get("valueString"), str):
        return extension["valueString"]
    parts = _parts(extension)
    gtin = parts.get("gtin", {}).get("valueString")
    if not isinstance(gtin, str):
        return None
    text = f"(01){gtin}"
    expiry = parts.get("expiry", {}).get("valueDate")
    if isinstance(expiry, str) and len(expiry) == 10:
        text += f"(17){expiry[2:4]}{expiry[5:7]}{expiry[8:10]}"
    for name, ai in (("lot", "10"), ("serial", "21")):
        value = parts.get(name, {}).get("valueString")
        if isinstance(value, str):
            text += f"({ai}){value}"
    return text


def read_dispenses(resources: list[tuple[str, Any]], systems: Systems,
                   pharmacy: str) -> DispenseIntake:
    """``(FHIRPath of the resource, resource)`` pairs, each a MedicationDispense of one line of
    the same prescription by the calling ``pharmacy``, as the native dispense body."""
    problems = Problems()
    paths: dict[str, str] = {"": resources[0][0] if resources else "Bundle"}
    codes: set[str] = set()
    items: list[dict[str, Any]] = []
    invoices: set[str] = set()
    for where, resource in resources:
        resource = _object(resource)
        if resource.get("resourceType") != "MedicationDispense":
            problems.add(f"{where}.resourceType", "fhir.resource_type",
                         "Phải là MedicationDispense", "must be a MedicationDispense")
            continue
        if resource.get("status", "completed") != "completed":
            problems.add(f"{where}.status", "fhir.value", "status phải là completed",
                         "status must be completed")
        pointer = f"/items/{len(items)}"
        paths[pointer] = where
        authorizing = [_object(item).get("reference")
                       for item in _list(resource.get("authorizingPrescription"))]
        target = authorizing[0] if len(authorizing) == 1 else None
        code: str | None = None
        line: int | None = None
        if isinstance(target, str) and target.startswith("MedicationRequest/"):
            code, _dot, number = target.removeprefix("MedicationRequest/").rpartition(".")
            line = int(number) - 1 if number.isdigit() and int(number) > 0 else None
        if not code or line is None:
            problems.add(f"{where}.authorizingPrescription", "dispense.line",
                         "Cần đúng một authorizingPrescription MedicationRequest/<mã đơn>.<n>",
                         "exactly one authorizingPrescription MedicationRequest/<code>.<n> is "
                         "needed")
            continue
        codes.add(code)
        item: dict[str, Any] = {"line": line}
        paths[f"{pointer}/line"] = f"{where}.authorizingPrescription[0]"
        quantity = _object(resource.get("quantity"))
        item["so_luong_ban"] = quantity.get("value")
        paths[f"{pointer}/so_luong_ban"] = f"{where}.quantity.value"
        if _object(resource.get("substitution")).get("wasSubstituted") is True:
            sold = _object(_object(resource.get("medicationReference")).get("identifier"))
            coding = next((c for c in map(_object, _list(_object(resource.get(
                "medicationCodeableConcept")).get("coding")))
                if c.get("system") in systems.drug_systems()), {})
            item["ma_thuoc"] = sold.get("value") or coding.get("code")
            paths[f"{pointer}/ma_thuoc"] = f"{where}.medication[x]"
        packs = []
        for scanned, (at, extension) in enumerate(_extensions(resource, systems.pack)):
            packs.append(_pack_text(extension))
            paths[f"{pointer}/packs/{scanned}"] = f"{where}.extension[{at}]"
        if packs:
            item["packs"] = packs
        for performer in _list(resource.get("performer")):
            named = _object(_object(_object(performer).get("actor")).get("identifier"))
            if named.get("system") == systems.pharmacy and named.get("value") != pharmacy:
                problems.add(f"{where}.performer", "dispense.pharmacy_identity",
                             "performer là nhà thuốc khác với nhà thuốc đang đăng nhập",
                             "the performer is another pharmacy than the caller")
        for identifier in map(_object, _list(resource.get("identifier"))):
            if identifier.get("system") == systems.invoice and isinstance(identifier.get("value"),
                                                                          str):
                invoices.add(identifier["value"])
                paths["/ma_hoa_don"] = f"{where}.identifier"
        items.append(item)
    if len(codes) > 1:
        problems.add("Bundle.entry", "dispense.line",
                     "Mọi MedicationDispense của một lần bán phải thuộc cùng một đơn",
                     "every MedicationDispense of one dispense belongs to the same prescription")
    if len(invoices) > 1:
        problems.add(paths["/ma_hoa_don"], "dispense.invoice",
                     "Một lần bán có một số hóa đơn", "one dispense has one invoice number")
    body: dict[str, Any] = {"items": items}
    if invoices:
        body["ma_hoa_don"] = sorted(invoices)[0]
    return DispenseIntake(next(iter(codes)) if len(codes) == 1 else None, body,
                          problems.items, paths)
