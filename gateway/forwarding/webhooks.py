"""Pharmacy webhooks: their storage (the ``webhooks`` collection), validation, and the signed
push (the endpoints are in :mod:`gateway.forwarding.views`).

A pharmacy registers one webhook (``PUT /v2/pharmacies/me/webhook``) with the events it wants
(``prescription.issued`` for prescriptions nominating it, ``prescription.cancelled`` for
prescriptions it received or looked up). The forwarder POSTs the prescription resource to it:

- body: the prescription resource (README "Prescriptions") exactly as ``GET /v2/prescriptions/{code}``
  shows it to that pharmacy, as UTF-8 JSON: exactly the bytes signed;
- ``Erx-Signature``: the gateway's detached compact JWS (RFC 7515 appendix F, RFC 7797
  ``b64: false``) over the exact body bytes; verify it with ``/.well-known/jwks.json``
  (no shared secret). Its protected header also carries ``typ: erx-webhook``;
- ``Erx-Delivery-Id``: the delivery id, the same on every retry of one delivery: the receiver
  keeps the ids it has processed and answers 2xx without acting again on a repeat;
- ``Erx-Event``: the event name; ``Erx-Delivery-Attempt``: 1 for the first try, then 2, ...

A 2xx answer means delivered; 408, 425, 429, 5xx, timeouts and connection errors are retried
with backoff; any other 4xx is ``failed_permanent`` (kept with the answer). A pharmacy without
a webhook for the event gets ``failed_permanent`` ("no webhook"), which an admin can retry.
"""

from __future__ import annotations

import ipaddress
import json
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from pymongo.database import Database

from gateway.core.changes import DocumentCache
from gateway.core.errors import Invalid
from gateway.prescriptions.outbox import PHARMACY_EVENTS, Outcome

SIGNATURE_HEADER = "Erx-Signature"
DELIVERY_ID_HEADER = "Erx-Delivery-Id"
EVENT_HEADER = "Erx-Event"
ATTEMPT_HEADER = "Erx-Delivery-Attempt"
TRANSIENT_STATUSES = frozenset({408, 425, 429})
MAX_URL_LENGTH = 2000
KEPT_TEXT = 2000

class BodySigner(Protocol):
    def sign_detached(self, payload: bytes, *, header: Mapping[str, Any] | None = None) -> str: ...


COLLECTION = "webhooks"


class WebhookStore:
    """One webhook per pharmacy code in ``webhooks`` (``_id`` = pharmacy code); ``cache``
    (None: none) keeps them while the change feed says they are current."""

    def __init__(self, database: Database, *, cache: DocumentCache | None = None) -> None:
        self.collection = database[COLLECTION]
        self.cache = cache

    def _load(self, pharmacy: Any) -> dict[str, Any] | None:
        return self.collection.find_one({"_id": pharmacy})

    def get(self, pharmacy: str) -> dict[str, Any] | None:
        if self.cache is None:
            return self._load(pharmacy)
        return self.cache.get(pharmacy, self._load)

    def put(self, pharmacy: str, *, url: str, events: list[str]) -> dict[str, Any]:
        now = datetime.now(UTC)
        stored = self.collection.find_one_and_update(
            {"_id": pharmacy},
            {"$set": {"url": url, "events": events, "updated_at": now},
             "$setOnInsert": {"created_at": now}},
            upsert=True, return_document=True)
        if self.cache is not None:
            self.cache.invalidate(pharmacy)
        return stored


def _internal_host(host: str) -> bool:
    """A loopback, private or link-local address written in the URL (outside development the
    gateway must not be made to POST into its own network). Names are not resolved here."""
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return (address.is_private or address.is_loopback or address.is_link_local
            or address.is_reserved or address.is_unspecified or address.is_multicast)


def validate_webhook(body: Mapping[str, Any], *, allow_http: bool) -> tuple[str, list[str]]:
    """The (url, events) of a registration body.

    Raises:
        gateway.core.errors.Invalid: naming each problem.
    """
    errors = []
    url = body.get("url")
    events = body.get("events", list(PHARMACY_EVENTS))
    unknown = sorted(set(body) - {"url", "events"})
    for name in unknown:
        errors.append({"pointer": f"/{name}", "code": "request.unknown_field",
                       "message": "Trường không được hỗ trợ"})
    if not isinstance(url, str) or not url:
        errors.append({"pointer": "/url", "code": "request.required",
                       "message": "Bắt buộc, là một URL"})
    else:
        parts = urlsplit(url)
        allowed = ("https", "http") if allow_http else ("https",)
        if len(url) > MAX_URL_LENGTH:
            errors.append({"pointer": "/url", "code": "webhook.url_too_long",
                           "message": f"URL dài quá {MAX_URL_LENGTH} ký tự"})
        elif parts.scheme not in allowed:
            errors.append({"pointer": "/url", "code": "webhook.https_required",
                           "message": "URL phải dùng https"})
        elif not parts.hostname:
            errors.append({"pointer": "/url", "code": "webhook.url_invalid",
                           "message": "URL thiếu tên máy chủ"})
        elif parts.username or parts.password:
            errors.append({"pointer": "/url", "code": "webhook.url_credentials",
                           "message": "URL không được chứa tên đăng nhập hoặc mật khẩu"})
        elif not allow_http and _internal_host(parts.hostname):
            errors.append({"pointer": "/url", "code": "webhook.url_internal",
                           "message": "URL không được trỏ tới địa chỉ nội bộ"})
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        errors.append({"pointer": "/events", "code": "request.invalid",
                       "message": "Danh sách sự kiện không rỗng"})
    else:
        for index, event in enumerate(events):
            if event not in PHARMACY_EVENTS:
                errors.append({"pointer": f"/events/{index}", "code": "webhook.unknown_event",
                               "message": "Sự kiện phải là một trong "
                                          + ", ".join(PHARMACY_EVENTS)})
    if errors:
        raise Invalid(errors=errors)
    return url, sorted(set(events), key=PHARMACY_EVENTS.index)


class PharmacyWebhookClient:
    """Pushes a prescription resource to a pharmacy's webhook, signed; safe across threads.

    ``signer`` returns the gateway's active signer (called for each push).
    """

    def __init__(self, *, store: WebhookStore, signer: Callable[[], BodySigner],
                 connect_timeout: float = 3.0, read_timeout: float = 10.0) -> None:
        self.store = store
        self._signer = signer
        self.timeout = (connect_timeout, read_timeout)
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _sign(self, body: bytes) -> str:
        # Asked every time: the key store hands out the active key, so a rotation applies.
        return self._signer().sign_detached(body, header={"typ": "erx-webhook"})

    def send(self, pharmacy: str, *, event: str, resource: Mapping[str, Any],
             delivery_id: str, attempt: int) -> Outcome:
        webhook = self.store.get(pharmacy)
        if webhook is None or event not in webhook.get("events", []):
            return Outcome.permanent(f"pharmacy {pharmacy} has no webhook for {event}")
        body = json.dumps(resource, ensure_ascii=False, separators=(",", ":"),
                          default=str).encode()
        headers = {"Content-Type": "application/json; charset=utf-8",
                   SIGNATURE_HEADER: self._sign(body), DELIVERY_ID_HEADER: delivery_id,
                   EVENT_HEADER: event, ATTEMPT_HEADER: str(attempt),
                   "User-Agent": "erx-gateway-forwarder"}
        try:
            response = self._session().post(webhook["url"], data=body, headers=headers,
                                            timeout=self.timeout, allow_redirects=False)
        except requests.Timeout:
            return Outcome.retry(f"timeout after {self.timeout[1]:g} s calling the webhook")
        except requests.RequestException as exc:
            return Outcome.retry(f"{type(exc).__name__} calling the webhook")
        kept = {"status": response.status_code, "body": response.text[:KEPT_TEXT]}
        status = response.status_code
        if 200 <= status < 300:
            return Outcome.delivered(kept)
        if status >= 500 or status in TRANSIENT_STATUSES:
            return Outcome.retry(f"the webhook answered {status}", kept)
        return Outcome.permanent(f"the webhook refused the delivery ({status})", kept)
