"""The cross-facility check at submission: the same person's overlapping controlled (and
duplicate) prescriptions, from every facility (docs/rules.md, "Across prescriptions").

Each facility sees only its own prescriptions; the gateway sees them all. What it decides:

- **The same person** is the same keyed hash of the CCCD (``patient`` of the stored
  prescription, HMAC under ``AUDIT_PATIENT_KEY``): the plain number is never queried nor
  stored. A prescription without a CCCD (a health id or a guardian only) cannot be matched
  and is not checked.
- **Days.** A period covers ``tu_ngay`` to ``den_ngay``, both included, in the calendar dates
  the document states (dates, no time of day, no time zone). Two prescriptions overlap when
  one day lies in a period of each; periods that only touch (one ends the day before the next
  starts) do not.
- **The others that count**: every stored prescription of that person but this one, from any
  facility (its own too), in any state but cancelled. A refused one was never stored.
- **``n`` and ``h`` prescriptions**: each line whose drug is narcotic, psychotropic or precursor,
  against the lines of the other that share an active ingredient
  (:func:`drug_catalog.model.ingredient_key`) or have the same control class: one
  ``control.overlap`` per line and other prescription, at ``/thong_tin_don_thuoc/{line}``;
  an error or a warning by the line's class (``RX_OVERLAP_NARCOTIC``;
  ``RX_OVERLAP_PSYCHOTROPIC`` for psychotropic and precursor drugs).
- **``c`` prescriptions** (when ``RX_DUPLICATE_THERAPY``): each line against other facilities'
  prescriptions with a line of a shared active ingredient: the warning
  ``drug.duplicate_therapy``.
- **What the prescriber reads**: the other facility's name, the other's periods, the days in
  common, and what is shared (the ingredient of the prescriber's own drug, or its class):
  nothing about the person beyond what the prescriber sent, not even the other drug.
- **One after the other** (``n`` and ``h``): a submission that nothing refuses claims the
  person's treatment days (:meth:`OverlapStore.claim`, one conditional update of the person's
  claims document) before it is stored. The claim fails when another prescription's live claim
  covers one of those days and the check did not read that prescription: a submission that
  read before the other was stored. It then reads again (the other is stored within
  milliseconds) and is refused or warned by it, so of two overlapping submissions the later
  one always sees the earlier. It waits at most ``RX_OVERLAP_WAIT_SECONDS`` (then 503: retry);
  a claim lives ``RX_OVERLAP_CLAIM_SECONDS``, so a submitter that died holding one blocks the
  person's overlapping submissions no longer than that, and one that would store after its
  claim lapsed gives up (503) instead.
- **``c`` after the insert**: ``drug.duplicate_therapy`` is only ever a warning, so a ``c``
  prescription is stored first and checked after, its warnings then added to it
  (:meth:`PrescriptionStore.add_warnings`). Of two at the same moment, the one stored later
  reads the other, so it carries the warning (the earlier may too, when it read after the
  other was stored). No claim, so no command more.
- **Cost**: one indexed query per checked submission
  (:meth:`PrescriptionStore.overlap_candidates`) and, for ``n`` and ``h``, the claim; only when
  something is found, one more for the parties' names, and the records
  (:class:`OverlapCheck.record`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from drug_catalog.catalog import Catalog
from drug_catalog.model import Drug, ingredient_key
from gateway.audit.log import AuditLog
from gateway.core.config import ConfigError
from gateway.core.errors import ClaimLapsed, PersonBusy
from gateway.core.settings import Settings
from gateway.parties.model import Party, client_id_for
from gateway.prescriptions.model import Status
from gateway.prescriptions.overlap_store import OverlapStore, record_id
from gateway.prescriptions.store import PrescriptionStore

CONTROL_OVERLAP = "control.overlap"
DUPLICATE_THERAPY = "drug.duplicate_therapy"
CONTROLLED = ("narcotic", "psychotropic", "precursor")
SEVERITIES = ("error", "warning")
CLASS_NAMES = {"narcotic": "gây nghiện", "psychotropic": "hướng thần", "precursor": "tiền chất"}

Span = tuple[date, date]
Issue = dict[str, str]


# ------------------------------------------------------------------------- treatment days

def spans(periods: Iterable[Mapping[str, Any]]) -> list[Span]:
    """The treatment days of canonical ``dot_dung_thuoc`` periods as sorted, disjoint,
    inclusive ``(first, last)`` spans; overlapping or adjacent periods are merged."""
    merged: list[Span] = []
    for start, end in sorted((date.fromisoformat(p["tu_ngay"]), date.fromisoformat(p["den_ngay"]))
                             for p in periods):
        if merged and start <= merged[-1][1] + timedelta(days=1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def intersection(first: Sequence[Span], second: Sequence[Span]) -> list[Span]:
    """The days in both (each argument sorted and disjoint, as :func:`spans` gives)."""
    common: list[Span] = []
    i = j = 0
    while i < len(first) and j < len(second):
        start, end = max(first[i][0], second[j][0]), min(first[i][1], second[j][1])
        if start <= end:
            common.append((start, end))
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return common


def day_count(days: Iterable[Span]) -> int:
    return sum((end - start).days + 1 for start, end in days)


def span_dicts(days: Iterable[Span]) -> list[dict[str, str]]:
    return [{"tu_ngay": start.isoformat(), "den_ngay": end.isoformat()} for start, end in days]


def _dmy(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def describe_spans(days: Iterable[Span]) -> str:
    """``từ 01/03/2026 đến 07/03/2026, từ …``."""
    return ", ".join(f"từ {_dmy(start)} đến {_dmy(end)}" for start, end in days)


# ------------------------------------------------------------------------------- policy

@dataclass(frozen=True)
class OverlapPolicy:
    """``RX_OVERLAP_NARCOTIC``, ``RX_OVERLAP_PSYCHOTROPIC`` (``error`` or ``warning``) and
    ``RX_DUPLICATE_THERAPY``."""

    narcotic: str = "error"
    psychotropic: str = "warning"
    duplicate_therapy: bool = True
    claim_seconds: float = 30.0   # RX_OVERLAP_CLAIM_SECONDS: how long a claim lives
    wait_seconds: float = 5.0     # RX_OVERLAP_WAIT_SECONDS: the longest wait for another

    def __post_init__(self) -> None:
        for name in ("narcotic", "psychotropic"):
            if getattr(self, name) not in SEVERITIES:
                raise ConfigError(f"ERX_RX_OVERLAP_{name.upper()} must be error or warning, "
                                  f"got {getattr(self, name)!r}")
        if not isinstance(self.duplicate_therapy, bool):
            raise ConfigError("ERX_RX_DUPLICATE_THERAPY must be true or false")

    @classmethod
    def from_settings(cls, settings: Settings) -> OverlapPolicy:
        """Raises: ConfigError: a value is not allowed."""
        return cls(narcotic=settings.rx_overlap_narcotic,
                   psychotropic=settings.rx_overlap_psychotropic,
                   duplicate_therapy=settings.rx_duplicate_therapy,
                   claim_seconds=settings.rx_overlap_claim_seconds,
                   wait_seconds=settings.rx_overlap_wait_seconds)

    def severity(self, control_class: str) -> str:
        return self.narcotic if control_class == "narcotic" else self.psychotropic

    def checks(self, loai_don_thuoc: str) -> bool:
        """Whether a prescription of this type is checked at all."""
        return loai_don_thuoc in ("n", "h") or (loai_don_thuoc == "c" and self.duplicate_therapy)


# ------------------------------------------------------------------------------ finding

@dataclass(frozen=True)
class Overlap:
    """One line of the new prescription against one other prescription of the person."""

    code: str                      # control.overlap or drug.duplicate_therapy
    severity: str                  # error or warning
    line: int                      # index of the new prescription's line
    drug: str                      # its national drug code
    control_class: str             # its control class
    match: str                     # "ingredient" (shared active ingredient) or "control_class"
    ingredients: tuple[str, ...]   # the shared ingredient keys (sorted; may be empty)
    days: tuple[Span, ...]         # the days both prescriptions cover
    other: Mapping[str, Any]       # the other prescription as the store gave it
    other_lines: tuple[int, ...]   # its matching lines
    other_spans: tuple[Span, ...]  # its periods (merged) that meet the new prescription's

    @property
    def pointer(self) -> str:
        return f"/thong_tin_don_thuoc/{self.line}"

    @property
    def outcome(self) -> str:
        return "refused" if self.severity == "error" else "warned"


def find_overlaps(document: Mapping[str, Any], lines: Sequence[Mapping[str, Any]],
                  candidates: Iterable[Mapping[str, Any]], *, facility: str,
                  policy: OverlapPolicy,
                  ingredients_of: Callable[[Mapping[str, Any]], frozenset[str]]) -> list[Overlap]:
    """Every overlap of a canonical ``document`` (with its stored ``lines``) with the person's
    other prescriptions ``candidates`` (as :meth:`PrescriptionStore.overlap_candidates` gives
    them), submitted by ``facility``; the module docstring says what counts. Pure."""
    loai = document["loai_don_thuoc"]
    if loai in ("n", "h"):
        code, checked = CONTROL_OVERLAP, [line for line in lines
                                          if line.get("control_class") in CONTROLLED]
    elif loai == "c" and policy.duplicate_therapy:
        code, checked = DUPLICATE_THERAPY, list(lines)
    else:
        return []
    own = spans(document["dot_dung_thuoc"])
    found: list[Overlap] = []
    for other in candidates:
        if other["_id"] == document["ma_don_thuoc"] or other.get("status") == Status.CANCELLED:
            continue
        if code == DUPLICATE_THERAPY and other.get("facility") == facility:
            continue
        theirs = spans(other["document"]["dot_dung_thuoc"])
        days = intersection(own, theirs)
        if not days:
            continue
        shown = tuple(span for span in theirs if intersection([span], own))
        for line in checked:
            overlap = _line_overlap(code, line, other, ingredients_of, policy)
            if overlap is not None:
                found.append(Overlap(**overlap, days=tuple(days), other=other, other_spans=shown))
    return found


def _line_overlap(code: str, line: Mapping[str, Any], other: Mapping[str, Any],
                  ingredients_of: Callable[[Mapping[str, Any]], frozenset[str]],
                  policy: OverlapPolicy) -> dict[str, Any] | None:
    keys = ingredients_of(line)
    matched: list[int] = []
    shared: set[str] = set()
    for other_line in other.get("lines", []):
        common = keys & ingredients_of(other_line)
        same_class = (code == CONTROL_OVERLAP
                      and other_line.get("control_class") == line["control_class"])
        if common or same_class:
            matched.append(other_line["index"])
            shared |= common
    if not matched:
        return None
    control_class = line.get("control_class") or "none"
    return {"code": code, "line": line["index"], "drug": line["ma_thuoc"],
            "control_class": control_class,
            "severity": policy.severity(control_class) if code == CONTROL_OVERLAP else "warning",
            "match": "ingredient" if shared else "control_class",
            "ingredients": tuple(sorted(shared)), "other_lines": tuple(matched)}


# ------------------------------------------------------------------------------- service

@dataclass
class Findings:
    """What the check found for one submission, and the issues it answers with."""

    overlaps: list[Overlap] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # client id -> party name
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)  # codes of every candidate the check read
    claim: Claim | None = None                     # the claim taken (OverlapCheck.decide)
    after_insert: bool = False                     # a c one: checked once it is stored


@dataclass(frozen=True)
class Claim:
    """A claim on a person's treatment days, held until the prescription is stored."""

    patient: str
    code: str
    until: datetime


class OverlapCheck:
    """Finds a submission's overlaps, words them, and records them (the ``controlled_overlaps``
    collection for the regulators' report, and one audit event each)."""

    def __init__(self, store: PrescriptionStore, records: OverlapStore, *, catalog: Catalog,
                 audit: AuditLog, names: Callable[[Iterable[str]], Mapping[str, str]],
                 policy: OverlapPolicy) -> None:
        self.store = store
        self.records = records
        self.catalog = catalog
        self.audit = audit
        self.names = names
        self.policy = policy

    def check(self, document: Mapping[str, Any], lines: Sequence[Mapping[str, Any]],
              patient: str | None, party: Party) -> Findings:
        """The overlaps of a valid ``document`` submitted by ``party`` for the person whose
        keyed hash is ``patient`` (None: no CCCD, nothing to check)."""
        if patient is None or not party.facility or not self.policy.checks(
                document["loai_don_thuoc"]):
            return Findings()
        first_day = min(period["tu_ngay"] for period in document["dot_dung_thuoc"])
        candidates = self.store.overlap_candidates(patient, first_day)
        seen = [candidate["_id"] for candidate in candidates]
        overlaps = find_overlaps(document, lines, candidates,
                                 facility=party.facility, policy=self.policy,
                                 ingredients_of=self.ingredients_of)
        if not overlaps:
            return Findings(seen=seen)
        wanted = {client_id_for("clinic", party.facility, None)}
        for overlap in overlaps:
            wanted |= {client_id_for("clinic", overlap.other["facility"], None),
                       overlap.other.get("issuer", "")}
        names = dict(self.names(sorted(name for name in wanted if name)))
        findings = Findings(overlaps=overlaps, names=names, seen=seen)
        for overlap in overlaps:
            issue = {"pointer": overlap.pointer, "code": overlap.code,
                     "message": self._message(overlap, names)}
            (findings.errors if overlap.severity == "error" else findings.warnings).append(issue)
        return findings

    def decide(self, document: Mapping[str, Any], lines: Sequence[Mapping[str, Any]],
               patient: str | None, party: Party) -> Findings:
        """:meth:`check`, and for an ``n`` or ``h`` prescription that nothing refuses, its
        claim on the person's days (``claim`` of the findings; the module docstring says
        why); checked again while another overlapping submission is being stored. A ``c`` one
        is not checked here: only warnings can come of it, so it is checked once stored
        (``after_insert``).

        Raises:
            PersonBusy: still another one's claim after ``RX_OVERLAP_WAIT_SECONDS``.
        """
        if (document["loai_don_thuoc"] == "c" and patient is not None and party.facility
                and self.policy.duplicate_therapy):
            return Findings(after_insert=True)
        deadline = time.monotonic() + self.policy.wait_seconds
        pause = 0.005
        while True:
            findings = self.check(document, lines, patient, party)
            if (findings.errors or patient is None or not party.facility
                    or document["loai_don_thuoc"] not in ("n", "h")):
                return findings
            now = datetime.now(UTC)
            claim = Claim(patient, document["ma_don_thuoc"],
                          now + timedelta(seconds=self.policy.claim_seconds))
            periods = document["dot_dung_thuoc"]
            if self.records.claim(patient, claim.code, seen=findings.seen, until=claim.until,
                                  now=now, first=min(p["tu_ngay"] for p in periods),
                                  last=max(p["den_ngay"] for p in periods)):
                findings.claim = claim
                return findings
            if time.monotonic() >= deadline:
                raise PersonBusy(retry_after=1)
            self.records.drop_expired(patient, now)  # when the document was full
            time.sleep(pause)
            pause = min(2 * pause, 0.2)

    def confirm(self, findings: Findings) -> None:
        """Just before the insert: the claim taken is still live.

        Raises:
            ClaimLapsed: it lapsed (a stalled submission); it is released.
        """
        claim = findings.claim
        if claim is not None and datetime.now(UTC) >= claim.until:
            self.release(findings)
            raise ClaimLapsed(retry_after=1)

    def release(self, findings: Findings) -> None:
        """Give the claim up: its prescription will not be stored by this submission."""
        if findings.claim is not None:
            self.records.release(findings.claim.patient, findings.claim.code,
                                 findings.claim.until)
            findings.claim = None

    def ingredients_of(self, line: Mapping[str, Any]) -> frozenset[str]:
        """A stored line's ingredient keys (read from the catalog for lines stored before
        they were kept)."""
        if "ingredients" in line:
            return frozenset(line["ingredients"])
        drug = self._drug(line.get("ma_thuoc"))
        return drug.ingredient_keys() if drug is not None else frozenset()

    def _drug(self, national_code: Any) -> Drug | None:
        return self.catalog.get(national_code) if isinstance(national_code, str) else None

    def _message(self, overlap: Overlap, names: Mapping[str, str]) -> str:
        facility = overlap.other["facility"]
        where = names.get(client_id_for("clinic", facility, None)) or f"cơ sở {facility}"
        if overlap.match == "ingredient":
            what = f"đơn thuốc cùng hoạt chất {self._ingredient_names(overlap)}"
        else:
            what = f"đơn thuốc có thuốc {CLASS_NAMES.get(overlap.control_class, '')}".rstrip()
        label = ("Trùng lặp điều trị" if overlap.code == DUPLICATE_THERAPY
                 else "Trùng thời gian dùng thuốc")
        return (f"{label}: người bệnh có {what} tại {where} "
                f"({describe_spans(overlap.other_spans)}), trùng {day_count(overlap.days)} ngày")

    def _ingredient_names(self, overlap: Overlap) -> str:
        """The shared ingredients as the prescriber's own drug names them."""
        drug = self._drug(overlap.drug)
        spelled = {ingredient_key(item.name): item.name.split("(", 1)[0].strip()
                   for item in (drug.active_ingredients if drug else ())}
        return ", ".join(spelled.get(key) or key for key in overlap.ingredients)

    def record(self, findings: Findings, *, document: Mapping[str, Any], party: Party,
               patient: str, accepted: bool, at: datetime) -> None:
        """Store each controlled overlap for the report and audit every overlap
        (``prescription.overlap_refused`` or ``prescription.overlap_warned``).

        Raises:
            pymongo.errors.PyMongoError: they could not be stored (the request fails).
        """
        if not findings.overlaps:
            return
        self.records.insert([
            self._record(overlap, findings.names, document=document, party=party,
                         patient=patient, accepted=accepted, at=at)
            for overlap in findings.overlaps if overlap.code == CONTROL_OVERLAP])
        for overlap in findings.overlaps:
            refused = overlap.severity == "error"
            self.audit.record(
                "prescription.overlap_refused" if refused else "prescription.overlap_warned",
                outcome="failure" if refused else "success", object_type="prescription",
                object_id=document["ma_don_thuoc"],
                patient_id=document.get("ma_dinh_danh_cong_dan"),
                details={"code": overlap.code, "line": overlap.line, "match": overlap.match,
                         "other": overlap.other["_id"],
                         "other_facility": overlap.other["facility"],
                         "days": day_count(overlap.days)})

    def _record(self, overlap: Overlap, names: Mapping[str, str], *,
                document: Mapping[str, Any], party: Party, patient: str, accepted: bool,
                at: datetime) -> dict[str, Any]:
        other = overlap.other
        drug = self._drug(overlap.drug)
        other_codes = {line["index"]: line.get("ma_thuoc") for line in other.get("lines", [])}
        own_facility = client_id_for("clinic", party.facility or "", None)
        return {
            "_id": record_id(at), "at": at, "outcome": overlap.outcome,
            "severity": overlap.severity, "accepted": accepted, "code": overlap.code,
            "control_class": overlap.control_class, "match": overlap.match,
            "ingredients": list(overlap.ingredients), "patient": patient,
            "prescription": {
                "ma_don_thuoc": document["ma_don_thuoc"],
                "loai_don_thuoc": document["loai_don_thuoc"], "facility": party.facility,
                "facility_name": names.get(own_facility), "prescriber": party.client_id,
                "prescriber_name": party.name, "line": overlap.line, "ma_thuoc": overlap.drug,
                "drug_name": drug.name if drug else None,
                "periods": span_dicts(spans(document["dot_dung_thuoc"]))},
            "other": {
                "ma_don_thuoc": other["_id"],
                "loai_don_thuoc": other["document"].get("loai_don_thuoc"),
                "status": other.get("status"), "facility": other["facility"],
                "facility_name": names.get(client_id_for("clinic", other["facility"], None)),
                "prescriber": other.get("issuer"),
                "prescriber_name": names.get(other.get("issuer", "")),
                "lines": list(overlap.other_lines),
                "drugs": [{"ma_thuoc": other_codes.get(index),
                           "name": getattr(self._drug(other_codes.get(index)), "name", None)}
                          for index in overlap.other_lines],
                "periods": span_dicts(spans(other["document"]["dot_dung_thuoc"]))},
            "overlap": {"days": day_count(overlap.days), "spans": span_dicts(overlap.days)},
        }
