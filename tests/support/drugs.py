"""Drug records and drugs as the catalog tests build them."""

from __future__ import annotations

from typing import Any

from drug_catalog.model import Drug


def drug_record(**changes: Any) -> dict[str, Any]:
    """A valid drug resource; keyword arguments replace fields."""
    record: dict[str, Any] = {
        "national_code": "MT000001", "registration_number": "VD-32243-19",
        "gtins": ["08930000000019"], "name": "Paracetamol 500mg",
        "active_ingredients": [{"name": "Paracetamol", "strength": "500mg"}],
        "dosage_form": "Viên nén", "route": "Uống", "unit": "Viên",
        "packaging": "Hộp 10 vỉ x 10 viên", "kind": "chemical", "prescription_only": False,
        "control_class": "none", "status": "active", "registration_valid_until": "2027-12-31",
    }
    record.update(changes)
    return record


def make_drug(**changes: Any) -> Drug:
    return Drug.from_dict(drug_record(**changes))
