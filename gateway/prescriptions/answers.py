"""What the native and the national prescription endpoints share: the idempotent run of a
request, the submit and dispense answers, and the audit events of refusals (an accepted
submission, a dispense, a read or a cancellation is audited by its service, inside the update
that stores it). Edge code (it reads the request), but no endpoint: both views modules call it.
"""

from __future__ import annotations

import contextlib
from typing import Any

from flask import Response, json, request, url_for

from gateway.core.errors import Conflict, Forbidden, Invalid, QrContentChanged
from gateway.parties.model import Party
from gateway.prescriptions.dispensing import dispense_id_for
from gateway.prescriptions.idempotency_store import Answer, request_fingerprint
from gateway.prescriptions.model import Refused, StoredPrescription
from gateway.prescriptions.representation import resource
from gateway.web.context import services
from gateway.web.problems import PROBLEM_MEDIA_TYPE, ApiError, to_problem
from gateway.web.security import current_party
from schemas.identifiers import generate_prescription_code


def view_of(stored: StoredPrescription, party: Party) -> dict[str, Any]:
    """The prescription resource as ``party`` may see it, now."""
    found = services()
    return resource(stored, party, status=found.reading.effective_status(stored),
                    zone=found.timezone)


def _json(answer: Answer) -> Response:
    mimetype = PROBLEM_MEDIA_TYPE if answer.status >= 400 else "application/json"
    response = Response(json.dumps(answer.body, ensure_ascii=False), status=answer.status,
                        mimetype=mimetype)
    for name, value in answer.headers.items():
        response.headers[name] = value
    if answer.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _problem_answer(exc: Exception) -> Answer | None:
    """The answer kept for replay when an idempotent operation fails."""
    problem = exc if isinstance(exc, ApiError) else to_problem(exc)
    if problem is None:
        return None
    return Answer(problem.status, problem.body(), problem.headers)


def idempotent(scope: str, operation: Any) -> Response:
    party = current_party()
    key = request.headers.get("Idempotency-Key")
    # what a kept answer is matched against: only a request with a key keeps one
    fingerprint = (request_fingerprint(request.method, request.path, request.get_data())
                   if key is not None else "")
    return _json(services().idempotency.run(
        scope=f"{party.client_id}\x1f{scope}", key=key,
        fingerprint=fingerprint, operation=operation, answer_for=_problem_answer))


def submit_answer(raw: dict[str, Any], party: Party) -> Answer:
    """Submit and build the 201 answer (shared by the native and national endpoints).

    With an Idempotency-Key and no ``ma_don_thuoc``, the code is made from the sender, the key
    and the body: a retry after a first attempt that stored the prescription and died before
    answering (a killed worker) finds that prescription instead of storing a second one, and a
    key used again for another body once its answer has expired gets another code."""
    key = request.headers.get("Idempotency-Key")
    if key and not raw.get("ma_don_thuoc") and party.facility:
        seed = request_fingerprint(party.client_id, key, request.get_data())
        with contextlib.suppress(ValueError):  # an invalid type or facility: validation says
            kind: Any = raw.get("loai_don_thuoc")  # not a c, n, h or y: ValueError, validation says
            raw = {**raw, "ma_don_thuoc": generate_prescription_code(party.facility, kind, seed=seed)}
    try:
        submitted = services().submission.submit(raw, party)
    except Refused as refused:
        record_refusal(raw, refused)
        raise
    stored = submitted.stored  # audited inside its insert when it was created
    location = url_for("prescriptions.get_prescription", code=stored["_id"])
    return Answer(201, view_of(stored, party), {"Location": location})


def dispense_answer(code: str, party: Party, body: dict[str, Any], *,
                    idempotency_key: str | None = None) -> Answer:
    """Dispense and build the 201 answer (shared by the native and national endpoints, and
    the console, whose form carries its key as ``idempotency_key``)."""
    key = idempotency_key or request.headers.get("Idempotency-Key")
    dispense_id = dispense_id_for(party, code, key) if key else None
    try:
        stored, dispense = services().dispensing.dispense(code, party, body, dispense_id=dispense_id)
    except (Conflict, Forbidden, Invalid) as exc:
        services().audit.record("prescription.dispensed", outcome="failure",
                                object_type="prescription", object_id=code,
                                details={"codes": exc.codes()})
        raise
    shown = view_of(stored, party)  # audited inside the dispense's update
    return Answer(201, {"dispense": next(d for d in shown["dispenses"]
                                         if d["id"] == dispense["id"]),
                        "prescription": shown})


def looked_up(code_or_qr: str) -> tuple[StoredPrescription, dict[str, Any] | None]:
    """The prescription a lookup names by its code or its printed QR text, and the details of
    its ``prescription.viewed`` event (``{"via": "qr"}`` for QR text), which the caller
    records; a refused QR text (forged, unreadable, content changed) is audited here as a
    failed ``prescription.viewed`` before it is answered.

    Raises:
        NotFound, Invalid, Conflict: see :meth:`gateway.prescriptions.reading.Reading.lookup`.
    """
    try:
        stored, claim = services().reading.lookup(code_or_qr)
    except (Invalid, Conflict) as exc:
        code = exc.prescription if isinstance(exc, QrContentChanged) else None
        services().audit.record("prescription.viewed", outcome="failure",
                                object_type="prescription" if code else None, object_id=code,
                                details={"via": "qr", "codes": exc.codes()})
        raise
    return stored, ({"via": "qr", "kid": claim.kid} if claim is not None else None)


def viewed(stored: StoredPrescription, party: Party, details: dict[str, Any] | None = None) -> None:
    """``prescription.viewed`` (and a pharmacy's first look) in one update of the
    prescription."""
    services().reading.note_view(stored, party, details)


def record(action: str, stored: StoredPrescription, *,
           details: dict[str, Any] | None = None) -> None:
    """An audit event about a prescription that changes nothing else in it (a read, a
    print), written into the prescription's own audit outbox: one update."""
    services().reading.note_event(stored, action, details)


def record_refusal(raw: dict[str, Any], refused: Refused) -> None:
    """``prescription.refused`` with the error codes, never the document."""
    code = raw.get("ma_don_thuoc")
    known = isinstance(code, str) and 0 < len(code) <= 64
    services().audit.record("prescription.refused", outcome="failure",
                            object_type="prescription" if known else None,
                            object_id=code if known else None,
                            details={"codes": sorted({e["code"] for e in refused.errors})})


def cancel_answer(code: str, party: Party, body: dict[str, Any]) -> StoredPrescription:
    """Cancel with the reason ``body["ly_do"]``, audited in the same update (shared by the native endpoint
    and the console); the stored prescription after it.

    Raises:
        Invalid: no reason, a reason over 2,000 characters, or another field.
        NotFound, Forbidden, NotCancellable: see :meth:`gateway.prescriptions.cancelling.Cancelling.cancel`.
    """
    reason: Any = body.get("ly_do")  # checked below
    errors = []
    if not isinstance(reason, str) or not reason.strip():
        errors.append({"pointer": "/ly_do", "code": "cancel.reason_required",
                       "message": "Cần nêu lý do hủy đơn"})
    elif len(reason) > 2000:
        errors.append({"pointer": "/ly_do", "code": "rx.text_length",
                       "message": "Lý do tối đa 2.000 ký tự"})
    for name in sorted(set(body) - {"ly_do"}):
        errors.append({"pointer": f"/{name}", "code": "request.unknown_field",
                       "message": f"Trường không được hỗ trợ: {name}"})
    if errors:
        raise Invalid("the cancellation is invalid", errors=errors)
    return services().cancelling.cancel(code, party, reason.strip())  # audited with it
