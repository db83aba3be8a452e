"""The URIs of the FHIR face: the Ministry of Health's Vietnam Core IG (canonical
``http://fhir.ehealth.gov.vn/core``) where it has one, the gateway's own (under the setting
``ERX_FHIR_SYSTEM_BASE``) where it has none. docs/fhir.md lists them and says why.
"""

from __future__ import annotations

from dataclasses import dataclass

IG = "http://fhir.ehealth.gov.vn/core"
FHIR_VERSION = "4.0.1"


def profile(name: str) -> str:
    return f"{IG}/StructureDefinition/{name}"


MEDICATION_REQUEST = profile("vn-core-medication-request")
MEDICATION_DISPENSE = profile("vn-core-medication-dispense")
MEDICATION = profile("vn-core-medication")
PATIENT = profile("vn-core-patient")
PRACTITIONER = profile("vn-core-practitioner")
PROVIDER = profile("vn-core-provider")

# The IG's identifier systems (its NamingSystems and the slices of its profiles).
CCCD = f"{IG}/sid/national_id"
BHYT = f"{IG}/sid/insurance_number"
PROVIDER_CODE = f"{IG}/sid/provider-code"
#: The community "VN Core FHIR IG" (``http://fhir.hl7.org.vn/core``) spells the CCCD and BHYT
#: systems otherwise: accepted in what is sent, never written (docs/fhir.md).
CCCD_ALIAS = "http://fhir.hl7.org.vn/core/sid/cccd"
BHYT_ALIAS = "http://fhir.hl7.org.vn/core/sid/bhyt"

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
RX_CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
SUBSTANCE_ADMIN_SUBSTITUTION = "http://terminology.hl7.org/CodeSystem/v3-substanceAdminSubstitution"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
UCUM = "http://unitsofmeasure.org"
GTIN = "https://www.gs1.org/gtin"

#: v2-0203 identifier types the IG fixes on its slices.
TYPE_NI = {"coding": [{"system": V2_0203, "code": "NI",
                       "display": "National unique individual identifier"}]}
TYPE_SB = {"coding": [{"system": V2_0203, "code": "SB",
                       "display": "Social Beneficiary Identifier"}]}
TYPE_PRN = {"coding": [{"system": V2_0203, "code": "PRN", "display": "Provider number"}],
            "text": "Provider number"}
PROVIDER_TYPE = {"coding": [{"system": ORGANIZATION_TYPE, "code": "prov",
                             "display": "Healthcare Provider"}], "text": "Healthcare Provider"}

RX_TYPES = {"c": "Đơn thuốc thường", "n": "Đơn thuốc gây nghiện",
            "h": "Đơn thuốc hướng thần, tiền chất", "y": "Đơn thuốc y học cổ truyền"}
TREATMENTS = {1: "Khám bệnh", 2: "Điều trị ngoại trú", 3: "Điều trị nội trú"}


@dataclass(frozen=True)
class Systems:
    """The gateway's own URIs, under one configurable base (``ERX_FHIR_SYSTEM_BASE``)."""

    base: str

    def _sid(self, name: str) -> str:
        return f"{self.base}/sid/{name}"

    def _ext(self, name: str) -> str:
        return f"{self.base}/StructureDefinition/{name}"

    @property
    def prescription(self) -> str:
        """``ma_don_thuoc``: MedicationRequest.groupIdentifier."""
        return self._sid("ma-don-thuoc")

    @property
    def line(self) -> str:
        """One line of a prescription, ``<ma_don_thuoc>.<n>``: MedicationRequest.identifier."""
        return self._sid("dong-don-thuoc")

    @property
    def health_id(self) -> str:
        return self._sid("ma-dinh-danh-y-te")

    @property
    def drug_code(self) -> str:
        return self._sid("ma-thuoc")

    @property
    def registration(self) -> str:
        return self._sid("so-dang-ky")

    @property
    def pharmacy(self) -> str:
        return self._sid("ma-co-so-cung-ung-thuoc")

    @property
    def doctor(self) -> str:
        return self._sid("ma-lien-thong-bac-si")

    @property
    def invoice(self) -> str:
        return self._sid("ma-hoa-don")

    @property
    def dispense(self) -> str:
        return self._sid("luot-ban")

    @property
    def rx_type(self) -> str:
        return f"{self.base}/CodeSystem/loai-don-thuoc"

    @property
    def treatment(self) -> str:
        return f"{self.base}/CodeSystem/hinh-thuc-dieu-tri"

    @property
    def weight(self) -> str:
        return self._ext("can-nang")

    @property
    def cautions(self) -> str:
        return self._ext("luu-y")

    @property
    def follow_up(self) -> str:
        return self._ext("ngay-tai-kham")

    @property
    def period(self) -> str:
        return self._ext("dot-dung-thuoc")

    @property
    def brand(self) -> str:
        return self._ext("biet-duoc")

    @property
    def conclusion(self) -> str:
        return self._ext("ket-luan")

    @property
    def pack(self) -> str:
        return self._ext("hop-thuoc")

    def drug_systems(self) -> tuple[str, str, str]:
        """The systems a drug identifier may come in: national code, registration, GTIN."""
        return (self.drug_code, self.registration, GTIN)
