"""The FHIR face's one coupling to the prescriptions package: the stored prescription's layout
read into :mod:`gateway.fhir.model` values, and the public operations of the prescription
services the native endpoints use (read access, listing: Reading; validation: Submission).
When the prescriptions package changes how it stores a prescription, this module is the one
to follow it. No HTTP here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any, Protocol

from drug_catalog.catalog import Catalog
from gateway.fhir import resources as fr
from gateway.fhir.model import Dispense, DispensedItem, Line, Pack, Rx
from gateway.fhir.systems import Systems
from gateway.parties.model import Party, Role
from gateway.parties.store import PartyStore


def _iso(value: datetime | None, zone: tzinfo) -> str:
    return value.astimezone(zone).isoformat() if value is not None else ""


class Reader(Protocol):
    """What the native read endpoints use of the prescriptions package
    (:class:`gateway.prescriptions.reading.Reading`): the FHIR face uses exactly these."""

    def get(self, code: str) -> Mapping[str, Any]: ...

    def authorize_read(self, stored: Mapping[str, Any], party: Party) -> None: ...

    def note_view(self, stored: Mapping[str, Any], party: Party,
                  details: Mapping[str, Any] | None = None) -> None: ...

    def effective_status(self, stored: Mapping[str, Any]) -> str: ...

    def list(self, party: Party, *, facility: str | None, status: str | None,
             issued_from: datetime | None, issued_to: datetime | None, patient: str | None,
             cursor: str | None, limit: int) -> tuple[Sequence[Any], str | None]: ...


class Prescriptions:
    """What the FHIR service reads of prescriptions, through the calls the native face makes
    (so access rules and audit are the same): ``reader`` (see :class:`Reader`), ``validate``
    the submit path's validation ``(raw, facility, now) -> Validated``, ``pack_holder`` the
    reservation of a scanned pack (its lot and expiry), ``catalog`` the drug catalog."""

    def __init__(self, reader: Reader, parties: PartyStore, *, catalog: Catalog,
                 validate: Callable[[Mapping[str, Any], str | None, datetime], Any],
                 pack_holder: Callable[[str], Mapping[str, Any] | None], zone: tzinfo,
                 systems: Systems) -> None:
        self.reader = reader
        self.parties = parties
        self.catalog = catalog
        self.validate = validate
        self.pack_holder = pack_holder
        self.zone = zone
        self.systems = systems

    # --- access, as the native endpoints ----------------------------------------------
    def readable(self, code: str, party: Party) -> Mapping[str, Any]:
        """The stored prescription ``party`` may read (a pharmacy: by exact code).

        Raises:
            NotFound, Forbidden: as ``GET /v2/prescriptions/{code}``.
        """
        stored = self.reader.get(code)
        self.reader.authorize_read(stored, party)
        return stored

    def listed(self, party: Party, *, status: str | None, issued_from: datetime | None,
               issued_to: datetime | None, patient: str | None,
               limit: int) -> list[Mapping[str, Any]]:
        """Every prescription ``GET /v2/prescriptions`` would list to ``party`` (one status),
        newest first, at most ``limit`` + 1 (so the caller sees there were more).

        Raises:
            Forbidden: a pharmacy or admin (as the native list).
        """
        found: list[Mapping[str, Any]] = []
        cursor = None
        while len(found) <= limit:
            page, cursor = self.reader.list(
                party, facility=None, status=status, issued_from=issued_from,
                issued_to=issued_to, patient=patient, cursor=cursor,
                limit=min(200, limit + 1 - len(found)))
            found += page
            if cursor is None:
                break
        return found

    def note_view(self, stored: Mapping[str, Any], party: Party,
                  details: Mapping[str, Any] | None = None) -> None:
        """``prescription.viewed`` (and a pharmacy's first look), as the native read."""
        self.reader.note_view(stored, party, details)

    def code_of(self, stored: Mapping[str, Any]) -> str:
        return stored["_id"]

    def issued_at(self, stored: Mapping[str, Any]) -> datetime:
        return stored["issued_at"]

    # --- the stored prescription as plain values -----------------------------------------
    def rx(self, stored: Mapping[str, Any], party: Party, *, dispenses: bool = True) -> Rx:
        """``stored`` as ``party`` may see it (another pharmacy's invoice numbers hidden, as
        in the native resource); ``dispenses`` False leaves them out (their packs cost a read
        each)."""
        document = stored["document"]
        lines = tuple(
            Line(index=line["index"], national_code=line["ma_thuoc"],
                 sent_system=fr.sent_system(sent["ma_thuoc"],
                                             self.catalog.get(line["ma_thuoc"]),
                                             self.systems),
                 prescribed=line["prescribed"], dispensed=line["dispensed"],
                 unit=line.get("unit"))
            for line, sent in zip(stored["lines"], document["thong_tin_don_thuoc"], strict=True))
        doctor = (self.parties.get(stored["issuer"])
                  if stored.get("issuer_role") == Role.DOCTOR else None)
        clinic = self.parties.find_national(stored["facility"])
        return Rx(code=stored["_id"], document=document,
                  status=self.reader.effective_status(stored), facility=stored["facility"],
                  issued_at=_iso(stored["issued_at"], self.zone),
                  dispensable_until=_iso(stored["dispensable_until"], self.zone),
                  lines=lines, prescriber_name=doctor.name if doctor else "",
                  prescriber_code=doctor.code if doctor else None,
                  facility_name=clinic.name if clinic else "",
                  dispenses=tuple(self._dispense(d, party) for d in stored.get("dispenses", []))
                  if dispenses else ())

    def _dispense(self, dispense: Mapping[str, Any], party: Party) -> Dispense:
        own = party.role != Role.PHARMACY or dispense["pharmacy"] == party.code
        items = tuple(
            DispensedItem(line=item["line"], national_code=item["ma_thuoc"],
                          prescribed_code=item.get("ma_thuoc_da_ke_don", item["ma_thuoc"]),
                          quantity=item["so_luong_ban"], substituted=bool(item.get("substituted")),
                          packs=tuple(self._pack(pack) for pack in item.get("packs", [])))
            for item in dispense["items"])
        return Dispense(id=dispense["id"], pharmacy=dispense["pharmacy"],
                        at=_iso(dispense["at"], self.zone), items=items,
                        invoice=dispense.get("ma_hoa_don") if own else None)

    def _pack(self, pack_id: str) -> Pack:
        """A scanned pack (``GTIN:serial``) with its lot and expiry from its reservation."""
        gtin, _sep, serial = pack_id.partition(":")
        holder = self.pack_holder(pack_id) or {}
        return Pack(gtin=gtin, serial=serial, lot=holder.get("batch"),
                    expiry=holder.get("expiry"))

    # --- submit ---------------------------------------------------------------------------
    def refusal_codes(self, raw: Mapping[str, Any], party: Party, now: datetime
                      ) -> list[dict[str, str]]:
        """The national rules' errors of ``raw`` (nothing stored): the submit path's own
        validation, run when the FHIR reading found problems, so every problem comes back at
        once."""
        return list(self.validate(raw, party.facility, now).errors)
