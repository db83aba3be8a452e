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
a webhook for the event gets nothing: its delivery ends ``skipped`` ("no webhook"), which is
not a failure (it is neither refused in the metrics nor in the deliveries report).

Where a webhook may point is :mod:`gateway.forwarding.egress` (public addresses only, checked
at registration and at every send). A delivery's ``last_error`` is a category
(:data:`ERRORS`), never a network detail that would tell which ports answer.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from gateway.core.errors import Invalid
from gateway.core.numbers import whole_numbers
from gateway.forwarding.egress import EgressRefused, PinnedPoster, Unreachable, check_host
from gateway.forwarding.webhook_store import WebhookStore
from gateway.prescriptions.outbox import PHARMACY_EVENTS, Outcome

SIGNATURE_HEADER = "Erx-Signature"
DELIVERY_ID_HEADER = "Erx-Delivery-Id"
EVENT_HEADER = "Erx-Event"
ATTEMPT_HEADER = "Erx-Delivery-Attempt"
TRANSIENT_STATUSES = frozenset({408, 425, 429})
MAX_URL_LENGTH = 2000
KEPT_TEXT = 2000
#: ``last_error`` of a pharmacy delivery: a category only
ERRORS = {
    "no_webhook": "webhook.none: the pharmacy has no webhook for this event",
    "forbidden": "webhook.address_forbidden: the webhook's host is or resolves to an internal address",
    "unreachable": "webhook.unreachable: the webhook could not be reached (name, connection, TLS or timeout)",
    "server_error": "webhook.server_error: the webhook answered a server error",
    "busy": "webhook.busy: the webhook asked to retry later",
    "refused": "webhook.refused: the webhook refused the delivery",
}

class BodySigner(Protocol):
    def sign_detached(self, payload: bytes, *, header: Mapping[str, Any] | None = None) -> str: ...


def _registration_resolver(host: str, port: int) -> list[str]:
    """The addresses a name has now; none when it does not resolve yet (it is checked again,
    resolved, at every send)."""
    try:
        return [str(item[4][0]) for item in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    except (socket.gaierror, UnicodeError):
        return []


def _internal_host(host: str) -> bool:
    """Whether a URL's host is, or now resolves to, an address the gateway must not call."""
    try:
        check_host(host, resolver=_registration_resolver)
    except EgressRefused:
        return True
    except Unreachable:
        return False
    return False


def validate_webhook(body: Mapping[str, Any], *, allow_http: bool) -> tuple[str, list[str]]:
    """The (url, events) of a registration body.

    Raises:
        gateway.core.errors.Invalid: naming each problem.
    """
    errors = []
    url: Any = body.get("url")  # checked below
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
                 connect_timeout: float = 3.0, read_timeout: float = 10.0,
                 allow_internal: bool = False, poster: PinnedPoster | None = None) -> None:
        self.store = store
        self._signer = signer
        self.poster = poster or PinnedPoster(connect_timeout=connect_timeout,
                                             read_timeout=read_timeout,
                                             allow_internal=allow_internal)

    def _sign(self, body: bytes) -> str:
        # Asked every time: the key store hands out the active key, so a rotation applies.
        return self._signer().sign_detached(body, header={"typ": "erx-webhook"})

    def send(self, pharmacy: str, *, event: str, resource: Mapping[str, Any],
             delivery_id: str, attempt: int) -> Outcome:
        webhook = self.store.get(pharmacy)
        if webhook is None or event not in webhook.get("events", []):
            return Outcome.skipped(ERRORS["no_webhook"])
        body = json.dumps(whole_numbers(resource), ensure_ascii=False, separators=(",", ":"),
                          default=str).encode()
        headers = {"Content-Type": "application/json; charset=utf-8",
                   SIGNATURE_HEADER: self._sign(body), DELIVERY_ID_HEADER: delivery_id,
                   EVENT_HEADER: event, ATTEMPT_HEADER: str(attempt),
                   "User-Agent": "erx-gateway-forwarder"}
        try:
            answer = self.poster.post(webhook["url"], body, headers, max_text=KEPT_TEXT)
        except EgressRefused:
            return Outcome.permanent(ERRORS["forbidden"])
        except Unreachable:
            return Outcome.retry(ERRORS["unreachable"])
        kept = {"status": answer.status, "body": answer.text}
        status = answer.status
        if 200 <= status < 300:
            return Outcome.delivered(kept)
        if status >= 500:
            return Outcome.retry(ERRORS["server_error"], kept)
        if status in TRANSIENT_STATUSES:
            return Outcome.retry(ERRORS["busy"], kept)
        return Outcome.permanent(ERRORS["refused"], kept)
