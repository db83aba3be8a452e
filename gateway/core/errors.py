"""Domain errors: what services raise when a request cannot be done. No HTTP here.

One class per failure, raised with the domain's data only (the prescription, the status it is
in, the pharmacy it nominates). Every error may carry ``errors``: items ``{"pointer", "code",
"message"}`` with the stable rule codes of docs/rules.md and a message for a person, which
both faces of the gateway show; and a ``detail`` in English. What each failure becomes in an
answer (its problem type, its HTTP status, its title) is said only at the edges: the table of
:mod:`gateway.web.problems` (and the national face's shape in ``gateway.national``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class DomainError(Exception):
    """Base of the errors a service raises for its caller to report."""

    def __init__(self, detail: str | None = None, *,
                 errors: Iterable[Mapping[str, Any]] = ()) -> None:
        self.detail = detail
        self.errors: list[dict[str, Any]] = [dict(item) for item in errors]
        super().__init__(detail or type(self).__name__)

    def codes(self) -> list[str]:
        """The stable codes of the items, sorted and without repeats."""
        return sorted({item["code"] for item in self.errors if "code" in item})


# --- the kinds of failure (each failure below is one of them) ---------------------------
class Malformed(DomainError):
    """The request cannot be read at all (a malformed key, a bad grant type)."""


class NotFound(DomainError):
    """The named thing does not exist."""


class Unauthenticated(DomainError):
    """No valid credentials came with the request."""


class Forbidden(DomainError):
    """This party may not do that to this thing."""


class Conflict(DomainError):
    """The thing's current state does not allow it (already cancelled, over quantity...)."""


class Invalid(DomainError):
    """The content breaks rules; ``errors`` lists every one."""


class RateLimited(DomainError):
    """Too many attempts; ``retry_after`` seconds until the next may succeed."""

    def __init__(self, detail: str | None = None, *, retry_after: int,
                 errors: Iterable[Mapping[str, Any]] = ()) -> None:
        super().__init__(detail, errors=errors)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """A dependency cannot serve now; retrying later may succeed."""


# --- the failures with a problem type of their own ---------------------------------------
class UnsupportedGrantType(Malformed):
    """A token request with another grant type than ``client_credentials``."""

    def __init__(self, grant_type: str) -> None:
        super().__init__("grant_type must be client_credentials")
        self.grant_type = grant_type


class LoginBusy(RateLimited):
    """Too many secrets are being checked at once; ``retry_after`` seconds."""


class Refused(Invalid):
    """A prescription that fails validation, or overlaps another one at error severity:
    every issue, and the warnings it would also have had."""

    def __init__(self, errors: Iterable[Mapping[str, Any]],
                 warnings: Iterable[Mapping[str, Any]] = ()) -> None:
        super().__init__(errors=errors)
        self.warnings: list[dict[str, Any]] = [dict(item) for item in warnings]


class PrescriptionExists(Conflict):
    """A submission under a prescription code that holds other content (or belongs to
    another facility)."""

    def __init__(self, prescription: str) -> None:
        super().__init__(f"{prescription} was submitted before with different content; a "
                         "prescription cannot be changed, only cancelled",
                         errors=[error_item("/ma_don_thuoc", "rx.code_exists",
                                            "Mã đơn thuốc đã tồn tại với nội dung khác")])
        self.prescription = prescription


class QrContentChanged(Conflict):
    """A genuine printed QR code whose prescription no longer has the content it was printed
    with."""

    def __init__(self, prescription: str) -> None:
        item = error_item("", "qr.content_changed",
                          "Nội dung đơn thuốc trên cổng khác với bản đã in: mã QR không còn "
                          "khớp, hãy liên hệ cơ sở kê đơn")
        item["parameter"] = "ma_don_thuoc"
        super().__init__(f"{prescription} no longer has the content its printed QR code was "
                         "signed for", errors=[item])
        self.prescription = prescription


class QrNotGenuine(Invalid):
    """QR text that is not a genuine prescription QR (unreadable, forged, another kind);
    ``reason`` is the verifier's (gateway/signatures/qr.py)."""

    def __init__(self, message: str, *, reason: str, item: Mapping[str, Any]) -> None:
        super().__init__(f"the QR text is not a genuine prescription QR: {message}",
                         errors=[item])
        self.reason = reason


class NotCancellable(Conflict):
    """A cancellation of a prescription that is no longer dispensable."""

    def __init__(self, prescription: str, status: str, message: str) -> None:
        super().__init__(f"it is {status}", errors=[error_item("/status", "rx.state", message)])
        self.prescription = prescription
        self.status = status


class NotDispensable(Conflict):
    """A dispense of a prescription that is cancelled, expired or fully dispensed."""

    def __init__(self, prescription: str, status: str, message: str) -> None:
        super().__init__(f"it is {status}",
                         errors=[error_item("/ma_don_thuoc", "dispense.state", message)])
        self.prescription = prescription
        self.status = status


class OverQuantity(Conflict):
    """A dispense that would take a line past what was prescribed (``errors``: each item)."""


class SerialReused(Conflict):
    """A dispense with a serialised pack another dispense holds (``errors``: each pack)."""


class DispenseLimit(Conflict):
    """A prescription that has had as many dispenses as a prescription may have."""

    def __init__(self, prescription: str, *, count: int, limit: int) -> None:
        super().__init__(f"{prescription} already has {count} dispenses",
                         errors=[error_item("/ma_don_thuoc", "dispense.limit",
                                            f"Đơn thuốc đã có {limit} lần bán: không ghi "
                                            "nhận thêm")])
        self.prescription = prescription
        self.count = count
        self.limit = limit


class PharmacyContactMissing(Conflict):
    """A pharmacy without an address or phone dispensing where its national report must carry
    them (production)."""

    def __init__(self, client_id: str) -> None:
        super().__init__(f"{client_id} has no address or phone: the national dispense report "
                         "could not be filed (erx-gateway parties update, or PATCH "
                         "/v2/parties/{id})",
                         errors=[error_item("", "dispense.pharmacy_contact",
                                            "Nhà thuốc chưa có địa chỉ hoặc số điện thoại: "
                                            "không thể gửi báo cáo bán thuốc lên hệ thống "
                                            "quốc gia")])
        self.client_id = client_id


class NotNominated(Forbidden):
    """A dispense by another pharmacy than the one the prescription nominates, under binding
    nomination."""

    def __init__(self, prescription: str, nominated: str) -> None:
        super().__init__(f"{prescription} nominates pharmacy {nominated}",
                         errors=[error_item("/ma_don_thuoc", "dispense.not_nominated",
                                            f"Đơn thuốc chỉ định nhà thuốc {nominated}: nhà "
                                            "thuốc khác không được bán")])
        self.prescription = prescription
        self.nominated = nominated


class PharmacyIdentity(Forbidden):
    """A national dispense report naming another pharmacy than the caller."""

    def __init__(self, named: str, caller: str) -> None:
        super().__init__(f"the report names pharmacy {named}, but the caller is {caller}",
                         errors=[error_item("/ma_dinh_danh_co_so_cung_ung_thuoc",
                                            "dispense.pharmacy_identity",
                                            "Mã cơ sở cung ứng thuốc khác với nhà thuốc đang "
                                            "đăng nhập")])
        self.named = named
        self.caller = caller


class PersonBusy(Unavailable):
    """Another prescription for the same person is being stored (its overlap claim holds the
    person's days); ``retry_after`` seconds."""

    def __init__(self, *, retry_after: int = 1) -> None:
        super().__init__("another prescription for the same person is being stored; retry")
        self.retry_after = retry_after


class ClaimLapsed(Unavailable):
    """A submission that took longer than its overlap claim lives (it was released, nothing
    was stored); ``retry_after`` seconds."""

    def __init__(self, *, retry_after: int = 1) -> None:
        super().__init__("the submission took too long to be stored; retry")
        self.retry_after = retry_after


class IdempotencyKeyReused(Conflict):
    """An Idempotency-Key sent again with another body or path."""

    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was used with another body or path")


class IdempotencyInProgress(Conflict):
    """The first request with this Idempotency-Key still runs; ``retry_after`` seconds."""

    def __init__(self, *, retry_after: int = 1) -> None:
        super().__init__()
        self.retry_after = retry_after


def error_item(pointer: str, code: str, message: str) -> dict[str, str]:
    """One item of an error list: a JSON pointer, a stable code, a Vietnamese message."""
    return {"pointer": pointer, "code": code, "message": message}


def bad_parameter(name: str, expected: str, expected_vi: str) -> Invalid:
    """A query or path parameter that is not what it should be: ``expected`` in English,
    ``expected_vi`` in Vietnamese (the item's message; ``_en`` gives the English one to an
    ``Accept-Language: en`` answer)."""
    return Invalid(f"{name}: expected {expected}",
                   errors=[{"pointer": "", "parameter": name, "code": "request.invalid",
                            "message": expected_vi, "_en": expected}])
