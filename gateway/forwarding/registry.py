"""Outbound client of the national prescription registry (docs/national-api.md).

:class:`RegistryClient` is what the forwarder needs; :class:`HttpRegistryClient` speaks the
national API with ``requests``:

- facility login (``POST /api/auth/dang-nhap-co-so-kham-chua-benh``) with the configured
  facility code and password; the token is cached until its expiry (the JWT ``exp`` if the
  token is a JWT, else ``REGISTRY_TOKEN_TTL_SECONDS`` after login, minus a minute) or until
  the registry answers 401, after which it logs in again once and repeats the call once;
- ``POST /api/v1/gui-don-thuoc`` with the national document;
- ``POST /api/v1/cap-nhat-don-thuoc`` with the national dispense report;
- cancellations: the national API has no known cancel call (docs/national-api.md, unconfirmed), so
  its path is the setting ``REGISTRY_CANCEL_PATH`` (default ``/api/v1/huy-don-thuoc``, our
  guess); empty means "not available" and registry cancellations end ``failed_permanent``.

Every call carries the delivery id as ``Idempotency-Key`` and ``X-Request-ID`` (harmless if the
registry ignores them). Answers are classified into :class:`gateway.outbox.Outcome`:
2xx with ``success`` not false → delivered; an answer saying the code already exists →
delivered; 408/425/429/5xx, timeouts and connection errors → retry; other 4xx (and 2xx with
``success: false``) → permanent, keeping the registry's error map.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol

import jwt
import requests

from gateway.prescriptions.outbox import Outcome
from schemas.national import to_national, whole

log = logging.getLogger(__name__)

LOGIN_PATH = "/api/auth/dang-nhap-co-so-kham-chua-benh"
SEND_PATH = "/api/v1/gui-don-thuoc"
DISPENSE_PATH = "/api/v1/cap-nhat-don-thuoc"
DEFAULT_CANCEL_PATH = "/api/v1/huy-don-thuoc"  # unconfirmed: no client shows a cancel call
# Gateway extension fields that are not part of the national document.
EXTENSION_FIELDS = ("ma_co_so_cung_ung_thuoc_chi_dinh",)
TRANSIENT_STATUSES = frozenset({408, 425, 429})
KEPT_TEXT = 2000  # characters of a non-JSON answer kept in the delivery
TOKEN_MARGIN_SECONDS = 60.0


class RegistryClient(Protocol):
    """What the forwarder sends to the national registry. Never raises for a receiver's
    answer or a network failure: those are outcomes."""

    def send_prescription(self, document: Mapping[str, Any], *, delivery_id: str) -> Outcome: ...

    def send_dispense(self, report: Mapping[str, Any], *, delivery_id: str) -> Outcome: ...

    def send_cancellation(self, notice: Mapping[str, Any], *, delivery_id: str) -> Outcome: ...


class UnconfiguredRegistry:
    """The registry when ``REGISTRY_BASE_URL`` is empty (development): every send is retried
    later with a reason saying so, so nothing is lost until it is configured."""

    REASON = "ERX_REGISTRY_BASE_URL is not set: the registry is not configured"

    def send_prescription(self, document: Mapping[str, Any], *, delivery_id: str) -> Outcome:
        return Outcome.retry(self.REASON)

    def send_dispense(self, report: Mapping[str, Any], *, delivery_id: str) -> Outcome:
        return Outcome.retry(self.REASON)

    def send_cancellation(self, notice: Mapping[str, Any], *, delivery_id: str) -> Outcome:
        return Outcome.retry(self.REASON)


class _LoginFailed(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.error)
        self.outcome = outcome


class HttpRegistryClient:
    """The national registry over HTTP; safe to share between threads."""

    def __init__(self, *, base_url: str, facility_code: str, password: str,
                 connect_timeout: float = 3.0, read_timeout: float = 10.0,
                 cancel_path: str = DEFAULT_CANCEL_PATH, token_ttl_seconds: float = 604_800,
                 already_exists: str = r"đã tồn tại|da ton tai|already exist|duplicate") -> None:
        self.base_url = base_url.rstrip("/")
        self.facility_code = facility_code
        self.password = password
        self.timeout = (connect_timeout, read_timeout)
        self.cancel_path = cancel_path
        self.token_ttl_seconds = token_ttl_seconds
        self.already_exists = re.compile(already_exists, re.IGNORECASE)
        self.logins = 0
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = threading.Lock()
        self._local = threading.local()

    # --- sends ------------------------------------------------------------------------------
    def send_prescription(self, document: Mapping[str, Any], *, delivery_id: str) -> Outcome:
        body = {key: value for key, value in document.items() if key not in EXTENSION_FIELDS}
        return self._send(SEND_PATH, body, delivery_id)

    def send_dispense(self, report: Mapping[str, Any], *, delivery_id: str) -> Outcome:
        return self._send(DISPENSE_PATH, report, delivery_id)

    def send_cancellation(self, notice: Mapping[str, Any], *, delivery_id: str) -> Outcome:
        if not self.cancel_path:
            return Outcome.permanent("the national registry has no cancel call configured "
                                     "(ERX_REGISTRY_CANCEL_PATH is empty)")
        return self._send(self.cancel_path, notice, delivery_id)

    # --- plumbing ---------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _send(self, path: str, body: Mapping[str, Any], delivery_id: str) -> Outcome:
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            token = self._current_token()
            response = self._post(path, payload, delivery_id, token)
            if response.status_code == 401:
                token = self._relogin(token)
                response = self._post(path, payload, delivery_id, token)
                if response.status_code == 401:
                    return Outcome.retry("the registry refused a freshly issued token (401)",
                                         _kept(response))
        except _LoginFailed as failed:
            return failed.outcome
        except requests.Timeout:
            return Outcome.retry(f"timeout after {self.timeout[1]:g} s calling {path}")
        except requests.RequestException as exc:
            return Outcome.retry(f"{type(exc).__name__} calling {path}")
        return self.classify(response)

    def _post(self, path: str, payload: bytes, delivery_id: str,
              token: str) -> requests.Response:
        return self._session().post(
            self.base_url + path, data=payload, timeout=self.timeout,
            headers={"Content-Type": "application/json; charset=utf-8",
                     "Authorization": f"Bearer {token}", "Idempotency-Key": delivery_id,
                     "X-Request-ID": delivery_id})

    def classify(self, response: requests.Response) -> Outcome:
        """The outcome a registry answer means (see the module docstring)."""
        kept = _kept(response)
        status = response.status_code
        body = kept.get("body")
        refused = isinstance(body, dict) and body.get("success") is False
        if 200 <= status < 300 and not refused:
            return Outcome.delivered(kept)
        if status >= 500 or status in TRANSIENT_STATUSES:
            return Outcome.retry(f"the registry answered {status}", kept)
        if self._says_already_exists(body):
            return Outcome.delivered(kept)
        return Outcome.permanent(f"the registry refused the content ({status})", kept)

    def _says_already_exists(self, body: Any) -> bool:
        if isinstance(body, dict):
            errors = body.get("error") or body.get("danh_sach_cac_loi") or body.get("message")
        else:
            errors = body
        return bool(errors) and bool(self.already_exists.search(
            json.dumps(errors, ensure_ascii=False) if not isinstance(errors, str) else errors))

    def _current_token(self) -> str:
        with self._token_lock:
            if self._token is None or time.monotonic() >= self._token_expires:
                self._login_locked()
            assert self._token is not None
            return self._token

    def _relogin(self, rejected: str) -> str:
        """Log in again after ``rejected`` got a 401, unless another thread already did."""
        with self._token_lock:
            if self._token == rejected or self._token is None:
                self._login_locked()
            assert self._token is not None
            return self._token

    def _login_locked(self) -> None:
        self._token = None
        try:
            response = self._session().post(
                self.base_url + LOGIN_PATH, timeout=self.timeout,
                json={"ma_lien_thong_co_so_kham_chua_benh": self.facility_code,
                      "password": self.password})
        except requests.Timeout:
            raise _LoginFailed(Outcome.retry("timeout logging in to the registry")) from None
        except requests.RequestException as exc:
            raise _LoginFailed(Outcome.retry(
                f"{type(exc).__name__} logging in to the registry")) from None
        self.logins += 1
        body = _kept(response).get("body")
        token = body.get("token") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(token, str) or not token:
            # Wrong credentials are a configuration problem: retry, so that fixing the
            # settings is enough for everything to flow again.
            raise _LoginFailed(Outcome.retry(
                f"the registry refused the facility login ({response.status_code})",
                _kept(response)))
        self._token = token
        self._token_expires = time.monotonic() + self._token_lifetime(token)
        log.info("logged in to the national registry", extra={"facility": self.facility_code})

    def _token_lifetime(self, token: str) -> float:
        lifetime = float(self.token_ttl_seconds)
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
            if isinstance(claims.get("exp"), (int, float)):
                lifetime = min(lifetime, claims["exp"] - time.time())
        except jwt.PyJWTError:
            pass
        return max(lifetime - TOKEN_MARGIN_SECONDS, 0.0)


def _kept(response: requests.Response) -> dict[str, Any]:
    """The answer as stored in a delivery: status and JSON body (or the start of the text)."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:KEPT_TEXT]
    return {"status": response.status_code, "body": body}


# --- national bodies built from a stored prescription ----------------------------------------
def national_document(doc: Mapping[str, Any], *, utc_offset_minutes: int = 420) -> dict[str, Any]:
    """The body of gui-don-thuoc: the stored canonical document in the national wire format
    (:func:`schemas.national.to_national`), with the prescriber's signature as it was sent."""
    return to_national(doc["document"], signature=doc.get("prescriber_signature") or "",
                       utc_offset_minutes=utc_offset_minutes)


def national_dispense_report(doc: Mapping[str, Any], dispense: Mapping[str, Any],
                             pharmacy: Mapping[str, Any] | None) -> dict[str, Any]:
    """The body of cap-nhat-don-thuoc for one recorded dispense (docs/national-api.md).

    Each item names the prescribed drug as the clinic sent it (``ma_thuoc_da_ke_don``, from the
    prescription line it dispenses against) and the product sold (``ma_thuoc``: the prescribed
    code again, or the substitute's national code), with the line's brand, name, unit,
    prescribed quantity and directions. The pharmacy's identity and contact details come from
    its party record (``pharmacy``: the stored party, or None), never from what its request
    said. Every field is present, text fields as strings (empty when unknown).
    """
    lines = doc["document"].get("thong_tin_don_thuoc") or []
    items = []
    for item in dispense.get("items") or []:
        index = item.get("line")
        prescribed = lines[index] if isinstance(index, int) and 0 <= index < len(lines) else {}
        substituted = item.get("substituted") and item.get("ma_thuoc")
        items.append({
            "ma_thuoc_da_ke_don": prescribed.get("ma_thuoc", item.get("ma_thuoc_da_ke_don", "")),
            "ma_thuoc": substituted or prescribed.get("ma_thuoc", item.get("ma_thuoc", "")),
            "biet_duoc": prescribed.get("biet_duoc", ""),
            "ten_thuoc": prescribed.get("ten_thuoc", ""),
            "don_vi_tinh": prescribed.get("don_vi_tinh", ""),
            "so_luong": whole(prescribed.get("so_luong", 0)),
            "so_luong_ban": whole(item.get("so_luong_ban")),
            "cach_dung": prescribed.get("cach_dung", ""),
        })
    pharmacy = pharmacy or {}
    return {"ma_don_thuoc": doc["_id"], "thong_tin_thuoc": items,
            "ma_dinh_danh_co_so_cung_ung_thuoc": dispense.get("pharmacy") or "",
            "ten_co_so_cung_ung_thuoc": pharmacy.get("name") or "",
            "so_dien_thoai_co_so_cung_ung_thuoc": pharmacy.get("phone") or "",
            "dia_chi_co_so_cung_ung_thuoc": pharmacy.get("address") or "",
            "ma_hoa_don": dispense.get("ma_hoa_don") or ""}



def national_cancellation(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The body sent to ``REGISTRY_CANCEL_PATH`` (unconfirmed shape): code and reason."""
    cancellation = doc.get("cancellation") or {}
    return {"ma_don_thuoc": doc["_id"], "ly_do": cancellation.get("ly_do", "")}
