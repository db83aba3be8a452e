"""What only the console needs (no HTTP here): a pharmacy's own dispense history, the
products a line may be substituted with, the inspector's dashboard figures, the overlap page's
ranking, and the integrity check. Everything else the console shows or does goes through the
services the API uses (:mod:`gateway.prescriptions.reading`, :mod:`gateway.audit.search`, ...).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from drug_catalog.catalog import Catalog
from drug_catalog.errors import CatalogError
from drug_catalog.model import Drug
from gateway.audit.integrity import Integrity, check_integrity
from gateway.audit.log import AuditLog
from gateway.core.errors import bad_parameter
from gateway.core.settings import Settings
from gateway.forwarding.deliveries import COUNTED_STATES, count_table
from gateway.parties.model import Party, client_id_for
from gateway.parties.store import PartyStore
from gateway.prescriptions.cursor import decode_cursor, encode_cursor
from gateway.prescriptions.model import Dispense
from gateway.prescriptions.outbox_store import OutboxStore
from gateway.prescriptions.overlap_store import OverlapStore
from gateway.prescriptions.reading import Reading
from gateway.prescriptions.reports import overlap_item, summary
from gateway.prescriptions.store import PrescriptionStore
from gateway.signatures.service import Signatures
from signing.jws import verify_detached

TYPES = ("c", "n", "h", "y")
#: Products offered as a line's substitute (the dispense itself decides what is allowed).
SUBSTITUTES_MAX = 20
_SEARCHED = 100
_KEPT_WINDOWS = 32


@dataclass(frozen=True)
class ConsolePolicy:
    page_size: int
    dashboard_days: int
    dashboard_max_days: int
    top: int
    utc_offset: str
    dashboard_cache_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ConsolePolicy:
        return cls(page_size=settings.console_page_size,
                   dashboard_days=settings.console_dashboard_days,
                   dashboard_max_days=settings.console_dashboard_max_days, top=settings.console_top,
                   utc_offset=settings.report_utc_offset,
                   dashboard_cache_seconds=settings.console_dashboard_cache_seconds)


@dataclass(frozen=True)
class Dashboard:
    """The national picture of ``[start, end)``: rows of ``(label, values...)``."""

    start: datetime
    end: datetime
    totals: dict[str, Any]
    per_day: list[tuple[str, int, int]]            # day, prescriptions, with a controlled drug
    per_type: list[tuple[str, int]]                # loai_don_thuoc, prescriptions
    controlled: list[tuple[str, float, float]]     # drug, prescribed, dispensed
    facilities: list[tuple[str, int, int]]         # facility, prescriptions, cancelled
    drugs: list[tuple[str, int, float]]            # drug, prescriptions, quantity prescribed
    deliveries: list[tuple[str, int, int]]         # state, registry, pharmacies


class Console:
    def __init__(self, *, reading: Reading, prescriptions: PrescriptionStore, catalog: Catalog,
                 parties: PartyStore,
                 outbox: OutboxStore, overlaps: OverlapStore, audit: AuditLog,
                 signatures: Signatures, zone: tzinfo, policy: ConsolePolicy,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.reading = reading
        self.prescriptions = prescriptions
        self.catalog = catalog
        self.parties = parties
        self.outbox = outbox
        self.overlaps = overlaps
        self.audit = audit
        self.signatures = signatures
        self.zone = zone
        self.policy = policy
        self.clock = clock
        self._figures: dict[tuple[datetime, datetime], tuple[float, Dashboard]] = {}
        self._figures_lock = threading.Lock()

    # --- drugs -------------------------------------------------------------------------
    def drug(self, national_code: str) -> Drug | None:
        return self.catalog.get(national_code)

    def substitutes(self, national_code: str) -> list[Drug]:
        """Products of the same composition and dosage form as the prescribed one, on the
        market today (the dispense checks every other condition when it is recorded)."""
        prescribed = self.catalog.get(national_code)
        if prescribed is None or not prescribed.active_ingredients:
            return []
        today = self.clock().astimezone(self.zone).date()
        query = " ".join(item.name for item in prescribed.active_ingredients)
        try:
            found = self.catalog.search(query, _SEARCHED)
        except CatalogError:
            return []
        return [drug for drug in found
                if drug.national_code != prescribed.national_code
                and drug.same_composition(prescribed) and drug.is_active(today)][:SUBSTITUTES_MAX]

    # --- a pharmacy's history ------------------------------------------------------------
    def dispense_history(self, party: Party, cursor: str | None
                         ) -> tuple[list[dict[str, Any]], str | None]:
        """The prescriptions ``party`` (a pharmacy) dispensed against, newest issued first,
        each with this pharmacy's dispenses only, and the cursor of the next page.

        Raises:
            gateway.core.errors.Invalid: a malformed cursor.
        """
        after = (decode_cursor(cursor, "a cursor from the previous page",
                               "Phải là con trỏ của trang trước") if cursor else None)
        limit = self.policy.page_size
        found = self.prescriptions.page(limit=limit + 1, dispensed_by=party.code, after=after)
        rows = []
        for stored in found[:limit]:
            mine = [dispense for dispense in stored["dispenses"]
                    if dispense["pharmacy"] == party.code]
            rows.append({"code": stored["_id"],
                         "patient": stored["document"].get("ho_ten_benh_nhan", ""),
                         "status": self.reading.effective_status(stored),
                         "issued_at": stored["issued_at"].astimezone(self.zone),
                         "dispenses": [self._dispense_row(dispense) for dispense in mine]})
        next_cursor = None
        if len(found) > limit:
            last = found[limit - 1]
            next_cursor = encode_cursor(last["issued_at"], last["_id"])
        return rows, next_cursor

    def _dispense_row(self, dispense: Dispense) -> dict[str, Any]:
        items = []
        for item in dispense["items"]:
            drug = self.catalog.get(item["ma_thuoc"])
            items.append({"line": item["line"], "drug": drug.name if drug else item["ma_thuoc"],
                          "quantity": item["so_luong_ban"], "substituted": item["substituted"],
                          "packs": len(item.get("packs", []))})
        return {"id": dispense["id"], "at": dispense["at"].astimezone(self.zone),
                "invoice": dispense.get("ma_hoa_don"), "items": items}

    # --- the inspector's dashboard -------------------------------------------------------
    def window(self, start: date | None, end: date | None) -> tuple[datetime, datetime]:
        """``[start, end]`` as local days (default: the last ``CONSOLE_DASHBOARD_DAYS``
        days, today included), as the instants ``[start 00:00, end + 1 day 00:00)``.

        Raises:
            gateway.core.errors.Invalid: ``end`` before ``start`` (parameter ``to``), or more
                than ``CONSOLE_DASHBOARD_MAX_DAYS`` days (parameter ``from``: every summary
                reads each prescription of the window, and the charts draw each day).
        """
        today = self.clock().astimezone(self.zone).date()
        last = end or today
        first = start or last - timedelta(days=self.policy.dashboard_days - 1)
        if first > last:
            raise bad_parameter("to", "a day on or after from", "Phải là ngày từ `from` trở đi")
        longest = self.policy.dashboard_max_days
        if (last - first).days + 1 > longest:
            raise bad_parameter("from", f"a window of at most {longest} days",
                                f"Khoảng thời gian tối đa {longest} ngày (đã chọn "
                                f"{(last - first).days + 1} ngày)")
        return (datetime.combine(first, datetime.min.time(), tzinfo=self.zone),
                datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=self.zone))

    def dashboard(self, start: datetime, end: datetime) -> Dashboard:
        """The figures of ``[start, end)``, reused for ``CONSOLE_DASHBOARD_CACHE_SECONDS``
        (each of the four summaries reads every prescription of the window)."""
        keep = self.policy.dashboard_cache_seconds
        with self._figures_lock:
            kept = self._figures.get((start, end))
        if kept is not None and time.monotonic() - kept[0] < keep:
            return kept[1]
        figures = self._dashboard(start, end)
        if keep > 0:
            with self._figures_lock:
                if len(self._figures) >= _KEPT_WINDOWS:
                    self._figures.clear()
                self._figures[(start, end)] = (time.monotonic(), figures)
        return figures

    def _dashboard(self, start: datetime, end: datetime) -> Dashboard:
        store = self.prescriptions
        offset = self.policy.utc_offset
        days = {row["key"]: row for row in summary(store, group_by="day", start=start, end=end,
                                                   utc_offset=offset)["groups"]}
        per_day = []
        day = start.astimezone(self.zone).date()
        while datetime.combine(day, datetime.min.time(), tzinfo=self.zone) < end:
            row = days.get(day.isoformat(), {})
            per_day.append((day.strftime("%d/%m"), row.get("prescriptions", 0),
                            row.get("controlled", {}).get("prescriptions", 0)))
            day += timedelta(days=1)
        by_type = summary(store, group_by="type", start=start, end=end, utc_offset=offset)
        types = {row["key"]: row["prescriptions"] for row in by_type["groups"]}
        per_type = [(kind, types.get(kind, 0)) for kind in TYPES]
        by_drug = summary(store, group_by="drug", start=start, end=end, utc_offset=offset)
        top = self.policy.top
        controlled = sorted((row for row in by_drug["groups"] if row["controlled"]["lines"]),
                            key=lambda row: (-row["controlled"]["prescribed"], row["key"] or ""))
        drugs = sorted(by_drug["groups"], key=lambda row: (-row["prescriptions"], row["key"] or ""))
        by_facility = summary(store, group_by="facility", start=start, end=end, utc_offset=offset)
        facilities = sorted(by_facility["groups"],
                            key=lambda row: (-row["prescriptions"], row["key"] or ""))[:top]
        names = self.parties.names(client_id_for("clinic", row["key"], row["key"])
                                   for row in facilities if row["key"])
        table = count_table(self.outbox.count_by_state(COUNTED_STATES))
        return Dashboard(
            start=start, end=end, totals=by_type["totals"], per_day=per_day, per_type=per_type,
            controlled=[(self._drug_label(row["key"]), row["controlled"]["prescribed"],
                         row["controlled"]["dispensed"]) for row in controlled[:top]],
            facilities=[(_facility_label(row["key"], names), row["prescriptions"],
                         row["cancelled"]) for row in facilities],
            drugs=[(self._drug_label(row["key"]), row["prescriptions"], row["prescribed"])
                   for row in drugs[:top]],
            deliveries=[(state, table[(state, "registry")], table[(state, "pharmacy")])
                        for state in COUNTED_STATES])

    def _drug_label(self, national_code: str | None) -> str:
        drug = self.catalog.get(national_code) if national_code else None
        return f"{drug.name} ({national_code})" if drug else str(national_code)

    # --- controlled-drug overlaps --------------------------------------------------------
    def overlap_page(self, start: datetime, end: datetime, after: str | None
                     ) -> tuple[list[dict[str, Any]], str | None]:
        limit = self.policy.page_size
        docs = self.overlaps.page(start=start, end=end, after=after, limit=limit + 1)
        items = [overlap_item(doc, self.zone) for doc in docs[:limit]]
        return items, (items[-1]["id"] if len(docs) > limit else None)

    def overlap_ranking(self, start: datetime, end: datetime
                        ) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """The facilities and the prescribers most often on either side of an overlap in
        ``[start, end)``, most first (``CONSOLE_TOP`` of each)."""
        facilities: Counter[str] = Counter()
        prescribers: Counter[str] = Counter()
        for doc in self.overlaps.iterate(start=start, end=end):
            item = overlap_item(doc, self.zone)
            for side in (item["prescription"], item["other"]):
                facility = side.get("facility")
                if facility:
                    facilities[_labelled(side.get("facility_name"), facility)] += 1
                prescriber = side.get("prescriber")
                if prescriber:
                    prescribers[_labelled(side.get("prescriber_name"), prescriber)] += 1
        top = self.policy.top
        return (sorted(facilities.items(), key=lambda kv: (-kv[1], kv[0]))[:top],
                sorted(prescribers.items(), key=lambda kv: (-kv[1], kv[0]))[:top])

    # --- integrity -----------------------------------------------------------------------
    def integrity(self) -> Integrity:
        return check_integrity(self.audit.database, self.signatures.jwks(),
                               verify_signature=verify_detached)


def _labelled(name: str | None, code: str) -> str:
    return f"{name} ({code})" if name else code


def _facility_label(code: str | None, names: Mapping[str, str]) -> str:
    if not code:
        return "?"
    name = names.get(client_id_for("clinic", code, code))
    return f"{name} ({code})" if name else code
