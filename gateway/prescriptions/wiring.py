"""The parts the prescription services are built from: validation, signing, audit events and
the dispensing settings, from the settings, the catalog, the signatures and the audit log
(called by the composition root, gateway/container.py, which builds the services)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, cast

from drug_catalog.catalog import Catalog
from drug_catalog.text import fold_phrase
from gateway.audit.log import AuditLog
from gateway.core.config import ConfigError
from gateway.core.reasons import prescriber_signature_item
from gateway.core.settings import Settings as GatewaySettings
from gateway.prescriptions.model import AuditEvent, Issue, Settings, Signature, Validated
from gateway.prescriptions.submission import Sign, Validate
from gateway.signatures.service import Signatures
from schemas.errors import PolicyError
from schemas.policy import Policy
from schemas.validation import dispensable_until, validate_prescription
from signing.canonical import canonicalize
from signing.errors import PrescriberSignatureError


def validation_policy(settings: GatewaySettings) -> Policy:
    """The validation policy from the settings.

    Raises:
        ConfigError: a policy number or list is invalid.
    """
    try:
        return Policy.from_mapping(settings.by_name())
    except PolicyError as exc:
        raise ConfigError(f"validation policy: {exc}") from None


def validator(*, catalog: Catalog, signatures: Signatures, policy: Policy) -> Validate:
    """Validation of a submission: the document's rules, then the prescriber's signature."""

    def validate(raw: Any, facility: str | None, now: datetime) -> Validated:
        result = validate_prescription(raw, catalog=catalog, policy=policy,
                                       facility_code=facility, now=now)
        errors = [cast(Issue, issue.to_dict()) for issue in result.errors]
        warnings = [cast(Issue, issue.to_dict()) for issue in result.warnings]
        document = result.document
        if document is not None:
            try:
                signatures.check_prescriber({**document, "signature": result.signature}, now=now)
            except PrescriberSignatureError as exc:
                errors.append(cast(Issue, prescriber_signature_item(exc)))
                document = None
        return Validated(document, errors, warnings, result.signature)

    return validate


def signer(signatures: Signatures) -> Sign:
    """The content hash and the gateway signature of a document, from one RFC 8785 form."""

    def sign(document: Mapping[str, Any]) -> tuple[str, Signature]:
        canonical = canonicalize(dict(document))
        key = signatures.signer()
        return (hashlib.sha256(canonical).hexdigest(),
                {"alg": key.alg, "kid": key.kid, "jws": key.sign_detached(canonical)})

    return sign


def audit_events(audit: AuditLog) -> AuditEvent:
    """Events about a prescription; the patient only by keyed hash."""

    def audit_event(action: str, stored: Mapping[str, Any], *,
                    details: Mapping[str, Any] | None = None) -> dict[str, Any]:
        document = stored.get("document") or {}
        return audit.prepare(action, outcome="success", object_type="prescription",
                             object_id=stored["_id"], content_sha256=stored.get("content_sha256"),
                             patient_id=document.get("ma_dinh_danh_cong_dan"), details=details)

    return audit_event


def dispensing_window(policy: Policy) -> Callable[[Mapping[str, Any], datetime], datetime]:
    """``(document, now) -> dispensable_until``, in UTC."""
    return lambda document, now: dispensable_until(document, policy).astimezone(UTC)


def dispense_settings(settings: GatewaySettings, *, policy: Policy, zone: tzinfo) -> Settings:
    """What the dispensing service needs of the settings and the validation policy."""
    return Settings(timezone=zone,
                    pack_reservation_grace=timedelta(
                        seconds=settings.pack_reservation_grace_seconds),
                    require_pharmacy_contact=settings.env == "production",
                    measured_units=frozenset(fold_phrase(unit) for unit in policy.measured_units),
                    quantity_decimals=policy.quantity_decimals, quantity_max=policy.quantity_max,
                    max_dispenses=settings.rx_max_dispenses,
                    max_packs_per_dispense=settings.rx_max_packs_per_dispense,
                    nomination=settings.nomination)
