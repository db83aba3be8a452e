"""Regenerate ``demo-catalog.ndjson`` (deterministic): ``.venv/bin/python
drug_catalog/data/build_demo_catalog.py``.

The demo catalog is the 40 real records of the Drug Administration's registry sample
(``tests/data/dav-registry-sample.csv``, as ``dav-csv`` import reads them) plus invented
products covering every kind, control class and status. Invented products' registration
numbers, national codes and GTINs are sample data, and so are the GTINs, dosage forms, units
and packaging added to the registry rows: every such line says so in its ``_sample`` field.
Sample GTINs use the company prefix 8930000 (893 is GS1 Vietnam's prefix); they are not
assigned to real products.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from drug_catalog.identifiers import gtin_check_digit  # noqa: E402
from drug_catalog.model import Drug  # noqa: E402
from drug_catalog.sources import SourceRecord, merge, read_dav_csv  # noqa: E402

DAV_SAMPLE = ROOT / "tests" / "data" / "dav-registry-sample.csv"
OUTPUT = HERE / "demo-catalog.ndjson"

SAMPLE_NOTE = ("invented sample product: registration number, national code and GTINs are "
               "sample data, not a real product's")
DAV_NOTE = ("real registry record (dav-registry-sample.csv); GTINs, dosage form, route, unit "
            "and packaging are sample data added for the demo")

# Shapes: dosage form, route, unit, packaging variants.
TABLET = ("Viên nén", "Uống", "Viên", ("Hộp 10 vỉ x 10 viên", "Hộp 3 vỉ x 10 viên"))
FILM = ("Viên nén bao phim", "Uống", "Viên", ("Hộp 3 vỉ x 10 viên", "Hộp 10 vỉ x 10 viên"))
CAPSULE = ("Viên nang cứng", "Uống", "Viên", ("Hộp 10 vỉ x 10 viên", "Chai 100 viên"))
ENTERIC = ("Viên nang cứng chứa vi hạt bao tan trong ruột", "Uống", "Viên",
           ("Hộp 2 vỉ x 7 viên", "Hộp 4 vỉ x 7 viên"))
EFFERVESCENT = ("Viên nén sủi bọt", "Uống", "Viên", ("Hộp 4 vỉ x 4 viên", "Tuýp 10 viên"))
SACHET = ("Thuốc bột pha hỗn dịch uống", "Uống", "Gói", ("Hộp 12 gói x 1,5g", "Hộp 24 gói"))
ORS = ("Thuốc bột pha dung dịch uống", "Uống", "Gói", ("Hộp 20 gói x 4,22g",))
SYRUP = ("Siro", "Uống", "Chai", ("Hộp 1 chai 100ml", "Hộp 1 chai 60ml"))
ORAL_SOLUTION = ("Dung dịch uống", "Uống", "Chai", ("Hộp 1 chai 100ml",))
ORAL_VIAL = ("Hỗn dịch uống", "Uống", "Ống", ("Hộp 4 vỉ x 5 ống 5ml",))
AMPOULE = ("Dung dịch tiêm", "Tiêm", "Ống", ("Hộp 10 ống x 1ml", "Hộp 5 ống x 2ml"))
VIAL = ("Thuốc bột pha tiêm", "Tiêm", "Lọ", ("Hộp 10 lọ", "Hộp 1 lọ"))
INFUSION = ("Dung dịch tiêm truyền", "Tiêm truyền tĩnh mạch", "Chai", ("Chai 500ml", "Chai 250ml"))
PEN = ("Dung dịch tiêm trong bút tiêm bơm sẵn", "Tiêm dưới da", "Bút tiêm", ("Hộp 5 bút x 3ml",))
INSULIN_VIAL = ("Hỗn dịch tiêm", "Tiêm dưới da", "Lọ", ("Hộp 1 lọ 10ml",))
VACCINE = ("Hỗn dịch tiêm", "Tiêm bắp", "Lọ", ("Hộp 1 lọ 1 liều 0,5ml", "Hộp 10 lọ x 1 liều"))
INHALER = ("Hỗn dịch xịt qua bình định liều", "Hít", "Bình xịt", ("Hộp 1 bình 200 liều",))
CREAM = ("Kem bôi da", "Dùng ngoài", "Tuýp", ("Hộp 1 tuýp 15g",))
EXTERNAL = ("Dung dịch dùng ngoài", "Dùng ngoài", "Chai", ("Chai 90ml", "Chai 500ml"))
EYE_DROPS = ("Dung dịch nhỏ mắt", "Nhỏ mắt", "Lọ", ("Hộp 1 lọ 10ml",))
SR_TABLET = ("Viên nén giải phóng kéo dài", "Uống", "Viên", ("Hộp 3 vỉ x 10 viên",))
MR_TABLET = ("Viên nén giải phóng có kiểm soát", "Uống", "Viên", ("Hộp 2 vỉ x 15 viên",))
EC_TABLET = ("Viên nén bao tan trong ruột", "Uống", "Viên", ("Hộp 3 vỉ x 10 viên", "Hộp 10 vỉ x 10 viên"))
RADIO_ORAL = ("Dung dịch uống", "Uống", "Lọ", ("Lọ chì chứa 1 lọ thủy tinh",))
RADIO_INJ = ("Dung dịch tiêm", "Tiêm tĩnh mạch", "Lọ", ("Lọ 10ml trong bình chì",))
KIT = ("Bột đông khô pha tiêm", "Tiêm tĩnh mạch", "Lọ", ("Hộp 5 lọ",))
HERBAL_CAPSULE = ("Viên nang cứng", "Uống", "Viên", ("Hộp 5 vỉ x 10 viên", "Lọ 60 viên"))
HERBAL_SYRUP = ("Siro", "Uống", "Chai", ("Hộp 1 chai 125ml",))
HERBAL_PILL = ("Viên hoàn cứng", "Uống", "Gói", ("Hộp 10 gói x 5g",))
HERBAL_TABLET = ("Viên nén bao đường", "Uống", "Viên", ("Hộp 5 vỉ x 20 viên",))
RAW = ("Bột nguyên liệu", "", "Kg", ("Thùng 25 kg", "Túi 5 kg"))
RAW_EXTRACT = ("Cao khô dược liệu", "", "Kg", ("Túi 1 kg",))

# (ingredients, shape, prescription_only, control, kind, registration family, names)
# registration family: VD (domestic), VN (imported), NEW (12 digits), QLDB, QLSP, QLVX, V-H, GC
P: list[tuple[list[tuple[str, str]], tuple[Any, ...], bool, str, str, str, list[str]]] = []


def group(ingredients: list[tuple[str, str]], shape: tuple[Any, ...], rx: bool, names: list[str], *,
          control: str = "none", kind: str = "chemical", family: str = "VD") -> None:
    P.append((ingredients, shape, rx, control, kind, family, names))


# --- chemical, not controlled ------------------------------------------------------------
group([("Paracetamol", "500mg")], TABLET, False,
      ["Panacetal 500", "Hacemol 500", "Paracetamol 500mg", "Cetafen 500", "Tatamol 500"])
group([("Paracetamol", "500mg")], EFFERVESCENT, False, ["Efferhasan 500", "Sủi Cetamol 500"])
group([("Paracetamol", "650mg")], FILM, False, ["Panacetal Extra 650"])
group([("Paracetamol", "250mg")], SACHET, False, ["Hacemol 250 gói", "Babycetal 250"])
group([("Paracetamol", "1g/100ml")], INFUSION[:3] + (("Chai 100ml", "Túi 100ml"),), True,
      ["Paracetamol Kabi 1g/100ml", "Infulgan 1g"],
      family="VN")
group([("Paracetamol", "325mg"), ("Ibuprofen", "200mg")], TABLET, False, ["Alaxan Plus", "Ibucetal"])
group([("Amoxicilin (dưới dạng Amoxicilin trihydrat)", "500mg")], CAPSULE, True,
      ["Amoxicilin 500mg", "Moxacin 500", "Amoxfar 500", "Clamoxyl 500"])
group([("Amoxicilin (dưới dạng Amoxicilin trihydrat)", "250mg")], SACHET, True,
      ["Amoxicilin 250mg gói", "Moxacin 250"])
group([("Amoxicilin", "500mg"), ("Acid clavulanic", "125mg")], FILM, True,
      ["Augclamox 625", "Claminat 625mg", "Amoclav 625"], family="VN")
group([("Cefuroxim (dưới dạng Cefuroxim axetil)", "500mg")], FILM, True,
      ["Cefuroxim 500mg", "Zinmax 500", "Furacef 500"])
group([("Cefixim", "200mg")], CAPSULE, True, ["Cefixim 200mg", "Mecefix 200"])
group([("Ceftriaxon (dưới dạng Ceftriaxon natri)", "1g")], VIAL, True,
      ["Ceftriaxon 1g", "Triaxobiotic 1g"], family="NEW")
group([("Azithromycin", "500mg")], FILM, True, ["Azithromycin 500mg", "Azicine 500"])
group([("Ciprofloxacin (dưới dạng Ciprofloxacin hydroclorid)", "500mg")], FILM, True,
      ["Ciprofloxacin 500mg", "Ciprobay 500"], family="VN")
group([("Metronidazol", "250mg")], TABLET, True, ["Metronidazol 250mg", "Flagentyl 250"])
group([("Metformin hydroclorid", "500mg")], FILM, True,
      ["Metformin 500mg", "Glumeform 500", "Panfor SR 500"])
group([("Metformin hydroclorid", "850mg")], FILM, True, ["Metformin 850mg", "Glumeform 850"])
group([("Metformin hydroclorid", "1000mg")], FILM, True, ["Glucofine 1000"], family="NEW")
group([("Gliclazid", "30mg")], MR_TABLET, True, ["Gliclazid 30mg MR", "Diamisu MR 30"])
group([("Amlodipin (dưới dạng Amlodipin besilat)", "5mg")], TABLET, True,
      ["Amlodipin 5mg", "Amlor 5", "Kavasdin 5", "Amdepin 5"])
group([("Amlodipin (dưới dạng Amlodipin besilat)", "10mg")], TABLET, True,
      ["Amlodipin 10mg", "Kavasdin 10"])
group([("Losartan kali", "50mg")], FILM, True, ["Losartan 50mg", "Lorista 50", "Cozatan 50"],
      family="NEW")
group([("Enalapril maleat", "5mg")], TABLET, True, ["Enalapril 5mg", "Renapril 5"])
group([("Captopril", "25mg")], TABLET, True, ["Captopril 25mg"])
group([("Bisoprolol fumarat", "2,5mg")], FILM, True, ["Bisoprolol 2,5mg", "Concor Cor 2,5"],
      family="VN")
group([("Furosemid", "40mg")], TABLET, True, ["Furosemid 40mg", "Vinzix 40"])
group([("Spironolacton", "25mg")], FILM, True, ["Verospiron 25"], family="VN")
group([("Atorvastatin (dưới dạng Atorvastatin calci)", "10mg")], FILM, True,
      ["Atorvastatin 10mg", "Lipitas 10"])
group([("Atorvastatin (dưới dạng Atorvastatin calci)", "20mg")], FILM, True,
      ["Atorvastatin 20mg", "Lipitas 20", "Atorlip 20"])
group([("Rosuvastatin (dưới dạng Rosuvastatin calci)", "10mg")], FILM, True,
      ["Rosuvastatin 10mg", "Rosuvas 10"], family="NEW")
group([("Clopidogrel (dưới dạng Clopidogrel bisulfat)", "75mg")], FILM, True,
      ["Clopidogrel 75mg", "Clopias 75"])
group([("Acid acetylsalicylic", "81mg")], EC_TABLET, False, ["Aspirin 81mg", "Aspilets EC 81"])
group([("Omeprazol", "20mg")], ENTERIC, True, ["Omeprazol 20mg", "Omevin 20", "Kagasdine 20"])
group([("Esomeprazol (dưới dạng Esomeprazol magnesi)", "40mg")], EC_TABLET, True,
      ["Esomeprazol 40mg", "Esomaxcare 40"], family="VN")
group([("Domperidon", "10mg")], TABLET, True, ["Domperidon 10mg", "Motinorm 10"])
group([("Alverin citrat", "40mg")], CAPSULE, False, ["Alverin 40mg"])
group([("Ibuprofen", "400mg")], FILM, False, ["Ibuprofen 400mg", "Mofen 400"])
group([("Meloxicam", "7,5mg")], TABLET, True, ["Meloxicam 7,5mg", "Mobimed 7,5"])
group([("Diclofenac natri", "50mg")], EC_TABLET, True, ["Diclofenac 50mg", "Voltanac 50"])
group([("Loratadin", "10mg")], TABLET, False, ["Loratadin 10mg", "Clarityne 10"], family="VN")
group([("Cetirizin dihydroclorid", "10mg")], FILM, False, ["Cetirizin 10mg", "Cezirnate 10"])
group([("Salbutamol (dưới dạng Salbutamol sulfat)", "100mcg/liều")], INHALER, True,
      ["Ventolin Inhaler", "Salbules 100"], family="VN")
group([("Salbutamol (dưới dạng Salbutamol sulfat)", "2mg/5ml")], SYRUP, True, ["Salbutamol siro"])
group([("Prednisolon", "5mg")], TABLET, True, ["Prednisolon 5mg", "Hydrocolacyl 5"])
group([("Dexamethason (dưới dạng Dexamethason natri phosphat)", "4mg/1ml")], AMPOULE, True,
      ["Dexamethason 4mg/1ml", "Dexalife 4mg"])
group([("Natri clorid", "0,9%")], INFUSION, True, ["Natri clorid 0,9%", "Sodium Chloride 0,9% Kabi"])
group([("Glucose", "5%")], INFUSION, True, ["Glucose 5%"])
group([("Natri clorid", "0,52g"), ("Kali clorid", "0,3g"), ("Natri citrat", "0,58g"),
       ("Glucose khan", "2,7g")], ORS, False, ["Oresol 245", "Hydrite ORS"])
group([("Thiamin nitrat", "100mg"), ("Pyridoxin hydroclorid", "200mg"),
       ("Cyanocobalamin", "200mcg")], FILM, False, ["3B Vitamin", "Neurobion-V"])
group([("Acid ascorbic", "500mg")], EFFERVESCENT, False, ["Vitamin C 500mg sủi", "Cevit 500"])
group([("Levothyroxin natri", "50mcg")], TABLET, True, ["Levothyrox 50"], family="VN")
group([("Fluconazol", "150mg")], CAPSULE, True, ["Fluconazol 150mg"])
group([("Aciclovir", "400mg")], TABLET, True, ["Aciclovir 400mg", "Medovir 400"])
group([("Povidon iod", "10%")], EXTERNAL, False, ["Povidon iod 10%", "Betadine Antiseptic"],
      family="VN")
group([("Betamethason dipropionat", "0,064%")], CREAM, True, ["Betasalic cream"])
group([("Natri clorid", "0,9%")], EYE_DROPS, False, ["Natri clorid 0,9% nhỏ mắt", "Efticol 0,9%"])
group([("Tobramycin", "0,3%")], EYE_DROPS, True, ["Tobrex 0,3%"], family="VN")
group([("Vitamin D3 (Cholecalciferol)", "400IU/ml")], ORAL_SOLUTION, False, ["D3 Drops 400"],
      family="GC")
group([("Magnesi lactat dihydrat", "470mg"), ("Pyridoxin hydroclorid", "5mg")], FILM, False,
      ["Magne-B6"], family="GC")
group([("Kẽm gluconat", "70mg")], SYRUP, False, ["Zinc siro 10mg/5ml"], family="GC")
# --- narcotic (gây nghiện): QLĐB registrations ---------------------------------------------
group([("Morphin hydroclorid", "10mg/1ml")], AMPOULE, True,
      ["Morphin 10mg/1ml", "Morphin hydroclorid 10mg Vidipha"], control="narcotic", family="QLDB")
group([("Morphin sulfat", "30mg")], SR_TABLET, True, ["Morphin sulfat 30mg SR"],
      control="narcotic", family="QLDB")
group([("Fentanyl (dưới dạng Fentanyl citrat)", "0,1mg/2ml")], AMPOULE, True,
      ["Fentanyl 0,1mg/2ml"], control="narcotic", family="QLDB")
group([("Pethidin hydroclorid", "100mg/2ml")], AMPOULE, True, ["Pethidin 100mg/2ml"],
      control="narcotic", family="QLDB")
group([("Methadon hydroclorid", "10mg/1ml")], ORAL_SOLUTION, True, ["Methadone 10mg/ml"],
      control="narcotic", family="QLDB")
group([("Codein phosphat", "30mg")], TABLET, True, ["Codein 30mg"], control="narcotic",
      family="QLDB")
# --- psychotropic (hướng thần) -------------------------------------------------------------
group([("Diazepam", "5mg")], TABLET, True, ["Diazepam 5mg", "Seduxen 5mg"],
      control="psychotropic", family="QLDB")
group([("Diazepam", "10mg/2ml")], AMPOULE, True, ["Diazepam 10mg/2ml"], control="psychotropic",
      family="QLDB")
group([("Phenobarbital", "100mg")], TABLET, True, ["Phenobarbital 100mg", "Garnotal 100"],
      control="psychotropic", family="QLDB")
group([("Alprazolam", "0,5mg")], TABLET, True, ["Alprazolam 0,5mg"], control="psychotropic",
      family="QLDB")
group([("Bromazepam", "6mg")], TABLET, True, ["Bromazepam 6mg"], control="psychotropic",
      family="QLDB")
group([("Midazolam", "5mg/1ml")], AMPOULE, True, ["Midazolam 5mg/ml"], control="psychotropic",
      family="QLDB")
group([("Clonazepam", "2mg")], TABLET, True, ["Clonazepam 2mg"], control="psychotropic",
      family="QLDB")
group([("Zolpidem tartrat", "10mg")], FILM, True, ["Zolpidem 10mg"], control="psychotropic",
      family="QLDB")
# --- precursor (tiền chất) -----------------------------------------------------------------
group([("Ephedrin hydroclorid", "30mg/1ml")], AMPOULE, True, ["Ephedrin 30mg/1ml"],
      control="precursor", family="VD")
group([("Ephedrin hydroclorid", "10mg")], TABLET, True, ["Ephedrin 10mg"], control="precursor")
group([("Loratadin", "5mg"), ("Pseudoephedrin sulfat", "120mg")], SR_TABLET, True,
      ["Clarinase Repetabs"], control="precursor", family="VN")
group([("Ergometrin maleat", "0,2mg/1ml")], AMPOULE, True, ["Ergometrin 0,2mg/1ml"],
      control="precursor")
# --- radioactive (phóng xạ) ----------------------------------------------------------------
group([("Natri iodid (I-131)", "3,7GBq")], RADIO_ORAL, True, ["Natri iodid I-131"],
      control="radioactive", family="VN")
group([("Fludeoxyglucose (18F)", "370MBq/ml")], RADIO_INJ, True, ["FDG-F18 dung dịch tiêm"],
      control="radioactive", family="VD")
group([("Medronic acid (kit đánh dấu Tc-99m)", "10mg")], KIT, True, ["Kit MDP Tc-99m"],
      control="radioactive", family="VD")
# --- biological ------------------------------------------------------------------------------
group([("Insulin glargine", "100IU/ml")], PEN, True, ["Lantus SoloStar", "Glaritus 100IU/ml"],
      kind="biological", family="QLSP")
group([("Insulin người (rDNA)", "100IU/ml")], INSULIN_VIAL, True, ["Insulin Mixtard 30", "Scilin N"],
      kind="biological", family="QLSP")
group([("Kháng nguyên bề mặt virus viêm gan B tinh khiết", "20mcg/1ml")], VACCINE, True,
      ["Vắc xin viêm gan B tái tổ hợp Gene-HBvax"], kind="biological", family="QLVX")
group([("Giải độc tố uốn ván tinh chế", "40IU/0,5ml")], VACCINE, True,
      ["Vắc xin uốn ván hấp phụ (TT)"], kind="biological", family="QLVX")
group([("Epoetin alfa", "2000IU/0,5ml")], PEN, True, ["Epokine Prefilled 2000IU"],
      kind="biological", family="QLSP")
group([("Bacillus clausii", "2 tỷ bào tử/5ml")], ORAL_VIAL, False,
      ["Men vi sinh Bacillus clausii", "Enterogermina"], kind="biological", family="QLSP")
group([("Albumin người", "20%")], INFUSION[:3] + (("Chai 50ml",),), True, ["Human Albumin 20%"], kind="biological",
      family="QLSP")
# --- traditional (thuốc đông dược / dược liệu) -----------------------------------------------
group([("Cao đinh lăng", "150mg"), ("Cao bạch quả", "5mg")], HERBAL_CAPSULE, False,
      ["Hoạt huyết dưỡng não", "Hoạt huyết thông mạch"], kind="traditional", family="V-H")
group([("Cát cánh", "0,5g"), ("Bách bộ", "1g"), ("Tỳ bà diệp", "1g")], HERBAL_SYRUP, False,
      ["Siro ho Bổ phế", "Thuốc ho Bảo Thanh"], kind="traditional", family="V-H")
group([("Ích mẫu", "800mg"), ("Hương phụ", "250mg"), ("Ngải cứu", "200mg")], HERBAL_CAPSULE, False,
      ["Cao ích mẫu", "Điều kinh Ích Mẫu"], kind="traditional", family="V-H")
group([("Lạc tiên", "500mg"), ("Vông nem", "300mg"), ("Lá sen", "200mg")], HERBAL_TABLET, False,
      ["Viên an thần Mimosa", "Dưỡng tâm an thần"], kind="traditional", family="VD")
group([("Actiso", "200mg"), ("Rau đắng đất", "75mg"), ("Bìm bìm", "7,5mg")], HERBAL_TABLET, False,
      ["Boganic", "Giải độc gan Actiso"], kind="traditional", family="VD")
group([("Thục địa", "1,6g"), ("Hoài sơn", "0,8g"), ("Sơn thù", "0,8g")], HERBAL_PILL, False,
      ["Lục vị hoàn", "Bát vị bổ thận"], kind="traditional", family="V-H")
group([("Diệp hạ châu", "1g")], HERBAL_CAPSULE, True, ["Diệp hạ châu Vạn Xuân"],
      kind="traditional", family="GC")
# --- raw materials (nguyên liệu làm thuốc) ---------------------------------------------------
group([("Paracetamol", "")], RAW, False, ["Paracetamol (nguyên liệu)"], kind="raw_material")
group([("Amoxicilin trihydrat", "")], RAW, False, ["Amoxicilin trihydrat compacted (nguyên liệu)"],
      kind="raw_material", family="VN")
group([("Cao khô đinh lăng", "")], RAW_EXTRACT, False, ["Cao khô Đinh lăng (1:10)"],
      kind="raw_material")

# Products given a status other than active, or an expired registration (by name).
STATUS = {"Tatamol 500": "suspended", "Cefixim 200mg": "withdrawn", "Mecefix 200": "recalled",
          "Amoxfar 500": "recalled", "Kavasdin 10": "suspended", "Lorista 50": "withdrawn",
          "Renapril 5": "withdrawn", "Morphin hydroclorid 10mg Vidipha": "suspended",
          "Garnotal 100": "withdrawn", "Atorlip 20": "recalled", "Hydrite ORS": "suspended",
          "Salbules 100": "withdrawn"}
EXPIRED = {"Panfor SR 500": date(2025, 6, 30), "Motinorm 10": date(2024, 12, 31),
           "Scilin N": date(2026, 3, 31), "Bát vị bổ thận": date(2025, 9, 30),
           "Clopias 75": date(2026, 10, 31)}
# A few packs carry a GTIN-8 or a GTIN-12 (normalised to 14 digits like every GTIN).
SHORT_GTIN = {"Hacemol 500": 8, "Amlor 5": 12, "Ventolin Inhaler": 12, "Cevit 500": 8}


def gtin13(item: int) -> str:
    body = f"8930000{item:05d}"
    return "0" + body + str(gtin_check_digit(body))


def gtin8(item: int) -> str:
    body = f"8930{item:03d}"
    return body + str(gtin_check_digit(body))


def gtin12(item: int) -> str:
    body = f"03{item:09d}"
    return body + str(gtin_check_digit(body))


def main() -> None:
    rng = random.Random(20251101)
    lines = [{"_comment": "erx-gateway demo catalog: one drug resource per line (README \"Drug catalog\"). "
                          "Lines with a _sample field say which of their data are sample data. "
                          "Regenerate with drug_catalog/data/build_demo_catalog.py."}]
    item = 1
    with DAV_SAMPLE.open(encoding="utf-8-sig") as stream:
        dav_records = [record for record in read_dav_csv(stream) if isinstance(record, SourceRecord)]
    shapes_for_dav = {"VN-21939-19": ("Dung dịch tiêm", "Tiêm tủy sống", "Ống", "Hộp 5 ống x 4ml"),
                      "VN-16442-13": INHALER[:3] + ("Hộp 1 bình 200 liều",),
                      "VD-20256-13": ("Dung dịch tiêm", "Tiêm", "Ống", "Hộp 10 ống x 1ml"),
                      "VD-25784-16": ("Dung dịch tiêm", "Tiêm tĩnh mạch", "Ống", "Hộp 50 ống x 5ml"),
                      "VD-19845-13": ("Dung dịch uống", "Uống", "Ống", "Hộp 20 ống x 10ml"),
                      "VD-18573-13": ("Hỗn dịch uống", "Uống", "Chai", "Hộp 1 chai 100ml"),
                      "VD-24695-16": ("Viên nang mềm", "Uống", "Viên", "Hộp 10 vỉ x 10 viên"),
                      "VD-19943-13": ("Dung dịch tiêm", "Tiêm", "Ống", "Hộp 5 ống x 1ml"),
                      "VN-16476-13": ("Thuốc bột pha tiêm", "Tiêm", "Lọ", "Hộp 1 lọ"),
                      "VD-24181-16": ("Thuốc bột pha hỗn dịch uống", "Uống", "Gói", "Hộp 10 gói"),
                      "VD-19052-13": ("Thuốc bột pha tiêm", "Tiêm", "Lọ", "Hộp 10 lọ"),
                      "VN-11032-10": ("Viên nang cứng", "Uống", "Viên", "Hộp 3 vỉ x 10 viên"),
                      "VN-10368-10": ("Viên nang cứng", "Uống", "Viên", "Chai 30 viên")}
    for record in dav_records:
        drug = merge(record, None)
        data = drug.to_dict()
        if drug.kind == "raw_material":
            shape = ("Cao khô dược liệu", "", "Kg", "Túi 1 kg")
        elif drug.kind == "traditional":
            shape = ("Viên nang cứng", "Uống", "Viên", "Hộp 5 vỉ x 10 viên")
        else:
            shape = shapes_for_dav.get(drug.registration_number,
                                       ("Viên nén bao phim", "Uống", "Viên", "Hộp 3 vỉ x 10 viên"))
        data.update(dosage_form=shape[0], route=shape[1], unit=shape[2], packaging=shape[3],
                    gtins=[gtin13(item)])
        item += 1
        lines.append({**data, "_sample": DAV_NOTE})

    used = {record.national_code for record in dav_records}
    serial = {"VD": 35000, "VN": 22000, "NEW": 60000, "QLDB": 600, "QLSP": 1000, "QLVX": 1100,
              "V-H": 300, "GC": 400}
    code_number = 100000
    for ingredients, shape, rx, control, kind, family, names in P:
        for index, name in enumerate(names):
            serial[family] += rng.randint(1, 37)
            number = serial[family]
            year = rng.choice((19, 20, 21, 22, 23))
            registration = {
                "VD": f"VD-{number}-{year}", "VN": f"VN-{number}-{year}",
                "NEW": f"8931{number:08d}", "QLDB": f"QLĐB-{number}-{year}",
                "QLSP": f"QLSP-{number:04d}-{year}", "QLVX": f"QLVX-{number:04d}-{year}",
                "V-H": f"V{number}-H12-{year}", "GC": f"GC-{number}-{year}"}[family]
            assert registration not in used, registration
            used.add(registration)
            code_number += rng.randint(1, 97)
            national_code = registration if rng.random() < 0.5 else f"MT{code_number:06d}"
            gtins = []
            length = SHORT_GTIN.get(name)
            gtins.append(gtin8(item) if length == 8 else gtin12(item) if length == 12
                         else gtin13(item))
            item += 1
            if len(shape[3]) > 1 and rng.random() < 0.4:
                gtins.append(gtin13(item))
                item += 1
            valid_until = EXPIRED.get(name) or date(rng.choice((2027, 2028, 2029, 2030)),
                                                    rng.randint(1, 12), rng.randint(1, 28))
            entry = {
                "national_code": national_code, "registration_number": registration,
                "gtins": gtins, "name": name,
                "active_ingredients": [{"name": n, "strength": s} for n, s in ingredients],
                "dosage_form": shape[0], "route": shape[1], "unit": shape[2],
                "packaging": shape[3][index % len(shape[3])],
                "kind": kind, "prescription_only": rx, "control_class": control,
                "status": STATUS.get(name, "active"),
                "registration_valid_until": valid_until.isoformat(),
                "_sample": SAMPLE_NOTE,
            }
            lines.append(Drug.from_dict(entry).to_dict() | {"_sample": SAMPLE_NOTE})
    missing = (set(STATUS) | set(EXPIRED) | set(SHORT_GTIN)) - {line.get("name") for line in lines}
    assert not missing, missing
    with OUTPUT.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"wrote {len(lines) - 1} products to {OUTPUT}")


if __name__ == "__main__":
    main()
