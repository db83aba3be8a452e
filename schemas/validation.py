"""Validate a submitted prescription and produce its canonical document.

Entry point: :func:`validate_prescription`. It never raises on bad input: every problem of the
document (shape, type, and every rule of docs/rules.md) comes back in one
:class:`ValidationResult`, each as an :class:`Issue` whose pointer (RFC 6901) points into the
document *as submitted* (``/ma_so_bao_hiem_y_te`` if that spelling was sent,
``/dot_dung_thuoc/tu_ngay`` for the single-object form).

The canonical document
----------------------
What the gateway signs (RFC 8785) and stores: a plain JSON dict (str, int, float, list, dict
only) that is the same for every accepted spelling of the same prescription.

- National field names, with ``ma_so_the_bao_hiem_y_te`` (never ``ma_so_bao_hiem_y_te``); keys
  in the order of :data:`schemas.national.CANONICAL_ORDER` (the fields of docs/national-api.md, ``ma_don_thuoc``
  first, the gateway extension ``ma_co_so_cung_ung_thuoc_chi_dinh`` last).
- Strings: surrounding blanks removed, Unicode NFC. Optional fields that are absent or blank
  are left out (never ``null``, never ``""``). The BHYT number is upper case.
- ``ma_don_thuoc`` always present (generated when the client omitted it or sent it blank).
- Dates ``YYYY-MM-DD``; ``ngay_gio_ke_don`` ISO 8601 in local time with its offset
  (``2026-11-23T21:05:00+07:00``, seconds precision, naive times read as UTC+7 by policy).
- ``ngay_tai_kham``: whole days after the prescribing date (a submitted date is converted).
- ``chan_doan[].ma_chan_doan``: the dotted WHO form (``J06.9``).
- ``dot_dung_thuoc``: always a list; each period has ``dot`` (its position, 1-based, when the
  client left it out), ``tu_ngay``, ``den_ngay``.
- ``thong_tin_don_thuoc[]``: ``ma_thuoc`` as submitted, plus ``national_code``, the catalog's
  national drug code of the product it resolved to (a gateway addition).
- Numbers (``so_luong``, ``can_nang``, ``gioi_tinh``...) are ints when whole (``10.0`` -> ``10``),
  and every int is small enough for RFC 8785 (each field has an upper bound).
- ``signature`` is NOT part of the canonical document: it is the prescriber's signature over
  the submission, returned separately (exactly as sent) in :attr:`ValidationResult.signature`
  (``""`` when sent empty or absent) so the signed and stored content never depends on it.

:mod:`schemas.national` is the one mapping between this canonical document and the national
wire document, both ways.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from schemas.document import FIELD_ORDER, load_shape, shape_issues
from schemas.identifiers import generate_prescription_code
from schemas.national import to_canonical
from schemas.policy import Policy
from schemas.rules import RULES, Context, Path, Problem, Resolver

NOT_AN_OBJECT = "Đơn thuốc phải là một đối tượng JSON"

_ORDER_INDEX = {name: index for index, name in enumerate(FIELD_ORDER)}


@dataclass(frozen=True)
class Issue:
    """One problem: where (JSON pointer into the submitted document, ``""`` for the whole
    document), which rule (a docs/rules.md code), and a message in Vietnamese."""

    pointer: str
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """``{"pointer", "code", "message"}`` (the problem+json ``errors`` item)."""
        return {"pointer": self.pointer, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class ValidationResult:
    """The outcome of :func:`validate_prescription`.

    Attributes:
        document: the canonical document when there is no error, else ``None``.
        errors: every error, in document order; empty when valid.
        warnings: rules of warning severity that the document breaks (returned with an accepted
            document too, never dropped).
        signature: the ``signature`` field exactly as submitted (``""`` when empty, absent or
            not a string).
        code_generated: ``ma_don_thuoc`` was generated here (the caller may replace it with
            :func:`schemas.identifiers.generate_prescription_code` on a unique-index collision).
    """

    document: dict[str, Any] | None
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    signature: str = ""
    code_generated: bool = False

    @property
    def valid(self) -> bool:
        """True when the document was accepted (no errors; warnings allowed)."""
        return self.document is not None


def validate_prescription(raw: Any, *, catalog: Resolver, policy: Policy,
                          facility_code: str | None, now: datetime) -> ValidationResult:
    """Check a submitted prescription against the national document and every rule.

    Args:
        raw: the parsed JSON body (any JSON value; a non-object is an error, not an exception).
        catalog: resolves ``ma_thuoc`` (``drug_catalog.catalog.CatalogIndex`` or any
            ``drug_catalog.catalog.Catalog``).
        policy: the policy numbers (:meth:`Policy.from_mapping` of the settings).
        facility_code: the submitting facility's 5-character code; ``None`` skips
            ``rx.code_facility`` and then an omitted ``ma_don_thuoc`` is an error.
        now: the current time (timezone-aware; a naive value is read as UTC).

    Returns:
        A :class:`ValidationResult`; its ``document`` is the canonical document when there is
        no error.

    Raises:
        Nothing for any input document. Errors of the catalog other than the identifier errors
        of ``drug_catalog.errors`` (e.g. a database outage) propagate.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if not isinstance(raw, Mapping):
        return ValidationResult(None, [Issue("", "rx.field_type", NOT_AN_OBJECT)])
    raw = dict(raw)
    problems: list[Problem] = []
    data = _cap_lists(raw, policy, problems)
    loaded, messages = load_shape(data)
    problems.extend(Problem(path, code, message) for path, code, message in shape_issues(messages))
    ctx = Context(raw=raw, loaded=loaded, policy=policy, catalog=catalog,
                  facility_code=facility_code, now=now)
    for rule in RULES:
        rule(ctx)
    problems.extend(ctx.problems)

    code = loaded.get("ma_don_thuoc") or None
    generated = False
    loai = ctx.type
    if code is None and not any(p.path[:1] == ("ma_don_thuoc",) for p in problems):
        if facility_code is None:
            problems.append(Problem(("ma_don_thuoc",), "rx.code_format",
                                    "Thiếu mã đơn thuốc (cổng chỉ sinh mã khi biết mã cơ sở gửi đơn)"))
        elif loai is not None:
            try:
                code = generate_prescription_code(facility_code, loai)
                generated = True
            except ValueError:
                problems.append(Problem(("ma_don_thuoc",), "rx.code_format",
                                        f"Không sinh được mã đơn thuốc cho mã cơ sở {facility_code!r}"))

    errors = _issues((p for p in problems if not p.warning), raw)
    warnings = _issues((p for p in problems if p.warning), raw)
    # Exactly as sent (not trimmed): it is a signature over bytes the validator does not know.
    signature = raw["signature"] if isinstance(raw.get("signature"), str) else ""
    if errors:
        return ValidationResult(None, errors, warnings, signature or "", False)
    assert code is not None and ctx.prescribed_at is not None
    return ValidationResult(to_canonical(ctx, code), [], warnings, signature or "", generated)


def _cap_lists(raw: dict[str, Any], policy: Policy, problems: list[Problem]) -> dict[str, Any]:
    """Refuse over-long lists before reading their items (a hostile body may hold 10^5 items)."""
    data = raw
    for name, limit, code, message in (
            ("thong_tin_don_thuoc", policy.max_lines, "rx.lines_required",
             f"Đơn thuốc phải có từ 1 đến {policy.max_lines} thuốc"),
            ("chan_doan", policy.max_diagnoses, "rx.diagnosis_required",
             f"Đơn thuốc có tối đa {policy.max_diagnoses} chẩn đoán"),
            ("dot_dung_thuoc", policy.max_periods, "rx.period",
             f"Đơn thuốc có tối đa {policy.max_periods} đợt dùng thuốc")):
        value = raw.get(name)
        if isinstance(value, list) and len(value) > limit:
            problems.append(Problem((name,), code, message))
            if data is raw:
                data = dict(raw)
            data[name] = value[:limit]  # the first ones are still checked
    return data


def _pointer(path: Path, raw: Mapping[str, Any]) -> str:
    parts = list(path)
    if (len(parts) > 1 and parts[0] == "dot_dung_thuoc" and parts[1] == 0
            and isinstance(raw.get("dot_dung_thuoc"), Mapping)):
        del parts[1]  # the single-object form has no index
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def _issues(problems: Any, raw: Mapping[str, Any]) -> list[Issue]:
    seen: dict[Issue, tuple[int, int]] = {}
    for number, problem in enumerate(problems):
        issue = Issue(_pointer(problem.path, raw), problem.code, problem.message)
        top = problem.path[0] if problem.path else ""
        seen.setdefault(issue, (_ORDER_INDEX.get(top, len(_ORDER_INDEX)) if top else -1, number))
    return sorted(seen, key=seen.__getitem__)


def dispensable_until(document: Mapping[str, Any], policy: Policy) -> datetime:
    """The last instant a canonical prescription can be dispensed (docs/rules.md, "Validity at
    the pharmacy"): the end of its last treatment day, and for ``n`` and ``h`` prescriptions no
    later than ``policy.controlled_dispense_days`` after ``ngay_gio_ke_don`` (0: no such window).

    Returns an aware datetime in the prescription's local time.

    Raises:
        KeyError, ValueError: ``document`` is not a canonical document.
    """
    prescribed = datetime.fromisoformat(document["ngay_gio_ke_don"])
    last_day = max(date.fromisoformat(p["den_ngay"]) for p in document["dot_dung_thuoc"])
    until = datetime.combine(last_day, time(23, 59, 59), tzinfo=prescribed.tzinfo)
    if document["loai_don_thuoc"] in ("n", "h") and policy.controlled_dispense_days > 0:
        until = min(until, prescribed + timedelta(days=policy.controlled_dispense_days))
    return until
