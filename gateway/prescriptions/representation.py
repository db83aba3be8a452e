"""The prescription resource: a stored prescription as one party may see it (pure).

One time and number convention (README "Conventions"): times in the gateway's time zone with
their offset; quantities as JSON numbers, integers when whole (``20``, never ``20.0``).

Used by the HTTP answers and by the webhook bodies, so a pharmacy's webhook carries exactly
what ``GET /v2/prescriptions/{code}`` shows that pharmacy.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from gateway.parties.model import Party, Role, pharmacy_key
from gateway.prescriptions.model import StoredPrescription
from schemas.quantities import as_number, exact


def _iso(value: datetime | None, zone: tzinfo) -> str | None:
    return value.astimezone(zone).isoformat() if value is not None else None


def resource(stored: StoredPrescription, party: Party, *, status: str,
             zone: tzinfo) -> dict[str, Any]:
    """The prescription resource as ``party`` may see it (README "Prescriptions"), its times in
    ``zone`` and ``status`` its effective status."""
    dispenses = []
    for dispense in stored.get("dispenses", []):
        own = party.role != Role.PHARMACY or pharmacy_key(dispense["pharmacy"]) == pharmacy_key(
            party.code)
        shown: dict[str, Any] = {"id": dispense["id"], "pharmacy": dispense["pharmacy"],
                 "at": _iso(dispense["at"], zone),
                 "items": [{**item, "so_luong_ban": as_number(exact(item["so_luong_ban"]))}
                           if "so_luong_ban" in item else item for item in dispense["items"]]}
        if own:  # a pharmacy never sees another pharmacy's invoice numbers
            shown["ma_hoa_don"] = dispense.get("ma_hoa_don")
            shown["warnings"] = dispense.get("warnings", [])
        dispenses.append(shown)
    cancellation = stored.get("cancellation")
    return {
        "ma_don_thuoc": stored["_id"], "status": status,
        "prescription": stored["document"],
        "lines": [{"index": line["index"], "ma_thuoc": line["ma_thuoc"],
                   "prescribed": as_number(exact(line["prescribed"])),
                   "dispensed": as_number(exact(line["dispensed"])),
                   "remaining": as_number(exact(line["prescribed"]) - exact(line["dispensed"]))}
                  for line in stored["lines"]],
        "signature": stored["signature"], "warnings": stored.get("warnings", []),
        "dispenses": dispenses,
        "cancellation": ({"at": _iso(cancellation["at"], zone), "ly_do": cancellation["ly_do"]}
                         if cancellation else None),
        "issued_at": _iso(stored["issued_at"], zone),
        "dispensable_until": _iso(stored["dispensable_until"], zone),
    }
