"""Recording audit events: one call per security-relevant action (no HTTP here).

:meth:`AuditLog.prepare` checks an event and fills in who acted and from where (through the
context function the composition root gives it: the request's party, request id and address)
and a unique ``event_id``. :meth:`AuditLog.record` prepares and queues it for the sequencer
(:mod:`gateway.audit.store`): one insert, no counter. An event about a prescription is instead
prepared by the prescription services and written inside the update that changes the
prescription, so the change and its audit event are stored together or not at all. Recording
fails closed: if the event cannot be stored, the action's request fails.

No plain patient identifier is stored: ``patient_hash`` is HMAC-SHA256 under
``AUDIT_PATIENT_KEY``, so regulators can still search by a CCCD (hashed on the server).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pymongo.database import Database

from gateway.audit.store import SYSTEM_ROLE, new_event_id, now_millis, queue_event
from gateway.parties.model import Party
from signing.canonical import canonicalize

# The media type of exports, one event a line: what `erx-gateway audit verify` reads.
NDJSON = "application/x-ndjson"

# Every action the log knows, with what it means. record() refuses any other name.
ACTIONS: dict[str, str] = {
    "auth.login": "a party obtained a token, or a person signed in to the console (details "
                  "method: console; outcome failure: wrong or unknown credentials)",
    "auth.logout": "a person signed out of the console",
    "party.created": "a party was created (command line or admin API)",
    "party.updated": "a party's name, address or phone was changed",
    "party.disabled": "a party was disabled",
    "party.enabled": "a party was enabled again",
    "party.secret_rotated": "a party was given a new secret",
    "party.refused": "a request to the party administration API was refused (403: the caller "
                     "is not an admin, or the party is a regulator or admin, which only the "
                     "command line manages; 409: the last enabled admin); details: reason, "
                     "method",
    "user.created": "a console user (a person acting as a party) was created",
    "user.disabled": "a console user was disabled: their sessions ended",
    "user.enabled": "a console user was enabled again",
    "user.password_changed": "a console user changed their password, or an operator reset it "
                             "(details by: cli); their other sessions ended",
    "key.generated": "the gateway's first signing key was generated",
    "key.rotated": "the gateway's signing key was rotated",
    "catalog.imported": "a drug catalog file was imported (counts in details)",
    "prescription.submitted": "a prescription was accepted, signed and stored",
    "prescription.refused": "a submitted prescription was refused (error codes in details)",
    "prescription.overlap_refused": "a submission overlapped another prescription of the same "
                                    "person at error severity (control.overlap; the line, the "
                                    "other prescription and facility, the days in details)",
    "prescription.overlap_warned": "a submission overlapped another prescription of the same "
                                   "person and was warned (control.overlap or "
                                   "drug.duplicate_therapy; details as above)",
    "prescription.viewed": "a party read a prescription",
    "prescription.dispensed": "a pharmacy recorded a dispense against a prescription",
    "prescription.cancelled": "the issuing facility cancelled a prescription",
    "prescription.printed": "a prescription was printed, with a newly signed QR code (details: "
                            "format pdf or html, status)",
    "delivery.delivered": "a prescription was delivered to the national registry or a pharmacy",
    "delivery.failed": "a delivery failed for good",
    "patient.access_log_viewed": "a regulator read a patient's access log",
    "data.encrypted": "stored documents were encrypted by `erx-gateway data-key migrate` "
                      "(counts in details)",
    "audit.sequence_lost": "the writer of this sequence number died before storing its event",
}
OBJECT_TYPES = ("prescription", "drug", "party", "key", "catalog", "user")
OUTCOMES = ("success", "failure")
# The actions a patient's access log lists: reading, printing or dispensing their prescriptions.
ACCESS_ACTIONS = ("prescription.viewed", "prescription.printed", "prescription.dispensed")
_HEX64 = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class EventContext:
    """Where an event comes from: the acting party (``{"party_id", "role"}``, with ``"user"``
    when a person acts in the console; None outside a request, i.e. the command line), the
    request id and the client's address."""

    actor: dict[str, Any] | None = None
    request_id: str | None = None
    client_address: str | None = None


def no_request() -> EventContext:
    return EventContext()


def event_leaf(event: Mapping[str, Any]) -> bytes:
    """The Merkle leaf entry of a public event: its RFC 8785 form."""
    return canonicalize(dict(event))


def patient_hash(patient_id: str, key: bytes) -> str:
    """HMAC-SHA256 (hex) of a patient identifier under ``AUDIT_PATIENT_KEY``; spaces around
    the identifier do not matter."""
    return hmac.new(key, patient_id.strip().encode("utf-8"), hashlib.sha256).hexdigest()


def content_digest(content: Any) -> str:
    """SHA-256 (hex) of the RFC 8785 form of a JSON value, or of ``bytes`` as they are."""
    if isinstance(content, (bytes, bytearray)):
        return hashlib.sha256(bytes(content)).hexdigest()
    return hashlib.sha256(canonicalize(content)).hexdigest()


class AuditLog:
    """The audit log of one database; ``context`` tells who is acting (see
    :class:`EventContext`)."""

    def __init__(self, database: Database, *, patient_key: bytes,
                 context: Callable[[], EventContext] = no_request) -> None:
        self.database = database
        self.patient_key = patient_key
        self.context = context
        # Numbers every event still waiting for the sequencer (the composition root gives the
        # sealer's: gateway.audit.tree.Sealer.sequence); readers call catch_up() first.
        self.sequencer: Callable[[], Any] | None = None

    def catch_up(self) -> None:
        """Number the events still waiting, so that a read shows everything recorded so far.

        Raises:
            pymongo.errors.PyMongoError: the database does not answer.
        """
        if self.sequencer is not None:
            self.sequencer()

    def patient_hash(self, patient_id: str) -> str:
        """The keyed hash a patient identifier is stored and searched as."""
        return patient_hash(patient_id, self.patient_key)

    def record(self, action: str, *, outcome: str = "success", object_type: str | None = None,
               object_id: str | None = None, content_sha256: str | None = None,
               patient_id: str | None = None, details: Mapping[str, Any] | None = None,
               actor: Party | str | None = None) -> str:
        """Record one audit event (queue it for its sequence number) and return its id.

        See :meth:`prepare` for the fields.

        Raises:
            ValueError: as :meth:`prepare`.
            pymongo.errors.PyMongoError: the event could not be stored (fail closed).
        """
        return queue_event(self.database, self.prepare(
            action, outcome=outcome, object_type=object_type, object_id=object_id,
            content_sha256=content_sha256, patient_id=patient_id, details=details, actor=actor))

    def store(self, event: dict[str, Any]) -> str:
        """Queue an event :meth:`prepare` made, when it could not be written with its change.

        Raises:
            pymongo.errors.PyMongoError: the event could not be stored.
        """
        return queue_event(self.database, event)

    def prepare(self, action: str, *, outcome: str = "success", object_type: str | None = None,
                object_id: str | None = None, content_sha256: str | None = None,
                patient_id: str | None = None, details: Mapping[str, Any] | None = None,
                actor: Party | str | None = None) -> dict[str, Any]:
        """One checked audit event, ready to be stored (by :meth:`record`, or inside the write
        of the change it records); it carries its ``event_id``.

        Inside a request the actor (the authenticated party, or "anonymous" before
        authentication), request id and client address come from the context; outside one the
        actor is ``"cli"`` (role ``system``) unless ``actor`` (a Party, or a process name such as
        ``"forwarder"``) is given. ``patient_id`` (a CCCD or health id) is stored only as its
        keyed hash. ``details``: a small JSON object (error codes,
        counts) — never a document or a personal identifier.

        Raises:
            ValueError: unknown action, object type or outcome, a malformed ``content_sha256``,
                an object id without a type, or ``details`` with no RFC 8785 form.
        """
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}")
        if (object_type is None) != (object_id is None):
            raise ValueError("object_type and object_id go together")
        if object_type is not None and object_type not in OBJECT_TYPES:
            raise ValueError(f"object_type must be one of {OBJECT_TYPES}")
        if content_sha256 is not None and (len(content_sha256) != 64
                                           or not set(content_sha256) <= _HEX64):
            raise ValueError("content_sha256 is 64 lowercase hex digits")
        if details is not None:
            details = dict(details)
            canonicalize(details)  # refuse now what could not be hashed at sealing time
        context = self.context()
        document: dict[str, Any] = {
            "event_id": new_event_id(),
            "time": now_millis(),
            "actor": _actor(actor, context),
            "action": action,
            "object": {"type": object_type, "id": str(object_id)} if object_type else None,
            "outcome": outcome,
            "request_id": context.request_id,
            "client_address": context.client_address,
            "content_sha256": content_sha256,
            "patient_hash": self.patient_hash(patient_id) if patient_id else None,
            "details": details,
        }
        return document

    def record_login(self, method: str, *, party: Party | None = None,
                     claimed_id: str = "") -> str:
        """``auth.login``: a success by ``party`` (the authenticated Party), or a failure for the
        client id (or national code) that was claimed, which is recorded as given (cut to 128
        characters), never the secret."""
        if party is not None:
            return self.record("auth.login", object_type="party", object_id=party.client_id,
                               details={"method": method}, actor=party)
        return self.record("auth.login", outcome="failure", object_type="party",
                           object_id=str(claimed_id)[:128], details={"method": method})


def _actor(actor: Party | str | None, context: EventContext) -> dict[str, Any]:
    if isinstance(actor, str):
        return {"party_id": actor, "role": SYSTEM_ROLE}
    if actor is not None:
        return {"party_id": actor.client_id, "role": actor.role}
    if context.actor is not None:
        return dict(context.actor)
    return {"party_id": "cli", "role": SYSTEM_ROLE}
