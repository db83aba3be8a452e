"""How a :class:`gateway.prescriptions.service.Lifecycle` is built from the settings, the
catalog, the signatures and the audit log (called by the composition root)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from drug_catalog.catalog import Catalog
from drug_catalog.text import fold_phrase
from gateway.audit.log import AuditLog
from gateway.core.config import ConfigError
from gateway.core.settings import Settings as GatewaySettings
from gateway.prescriptions.audit_outbox import PrescriptionAuditOutbox
from gateway.prescriptions.model import Settings, Validated
from gateway.prescriptions.overlap_store import OverlapStore
from gateway.prescriptions.overlaps import OverlapCheck, OverlapPolicy
from gateway.prescriptions.service import Lifecycle
from gateway.prescriptions.store import PrescriptionStore
from gateway.signatures.qr import PrescriptionQr
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


def build_lifecycle(store: PrescriptionStore, *, catalog: Catalog, signatures: Signatures,
                    qr: PrescriptionQr, audit: AuditLog, policy: Policy, zone: tzinfo,
                    overlap_store: OverlapStore,
                    party_names: Callable[[Iterable[str]], Mapping[str, str]],
                    settings: GatewaySettings,
                    audit_outbox: PrescriptionAuditOutbox | None = None) -> Lifecycle:
    """The lifecycle with its validation, signing, cross-facility check and audit events
    (written inside the prescription's own updates: ``audit_outbox``).

    Raises:
        ConfigError: an overlap setting is invalid.
    """
    overlaps = OverlapCheck(store, overlap_store, catalog=catalog, audit=audit,
                            names=party_names, policy=OverlapPolicy.from_settings(settings))

    def validate(raw: Any, facility: str | None, now: datetime) -> Validated:
        result = validate_prescription(raw, catalog=catalog, policy=policy,
                                       facility_code=facility, now=now)
        errors = [issue.to_dict() for issue in result.errors]
        warnings = [issue.to_dict() for issue in result.warnings]
        document = result.document
        if document is not None:
            try:
                signatures.check_prescriber({**document, "signature": result.signature}, now=now)
            except PrescriberSignatureError as exc:
                errors.append({"pointer": "/signature", "code": "signature.prescriber_invalid",
                               "message": f"Chữ ký số của người kê đơn không hợp lệ: {exc}",
                               "reason": exc.reason})
                document = None
        return Validated(document, errors, warnings, result.signature)

    def sign(document: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
        """The content hash and the gateway signature, from one RFC 8785 form."""
        canonical = canonicalize(dict(document))
        signer = signatures.signer()
        return (hashlib.sha256(canonical).hexdigest(),
                {"alg": signer.alg, "kid": signer.kid, "jws": signer.sign_detached(canonical)})

    def audit_event(action: str, stored: Mapping[str, Any], *, outcome: str = "success",
                    details: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """An event about a prescription; the patient only by keyed hash."""
        document = stored.get("document") or {}
        return audit.prepare(action, outcome=outcome, object_type="prescription",
                             object_id=stored["_id"], content_sha256=stored.get("content_sha256"),
                             patient_id=document.get("ma_dinh_danh_cong_dan"), details=details)

    return Lifecycle(
        store, catalog=catalog, validate=validate, sign=sign,
        audit_event=audit_event, audit_outbox=audit_outbox, audit_queue=audit.store,
        dispensable_until=lambda document, now: dispensable_until(document, policy)
        .astimezone(UTC),
        patient_key=audit.patient_hash, overlaps=overlaps, read_qr=qr.read,
        settings=Settings(timezone=zone, pack_reservation_grace=timedelta(
            seconds=settings.pack_reservation_grace_seconds),
            require_pharmacy_contact=settings.env == "production",
            measured_units=frozenset(fold_phrase(unit) for unit in policy.measured_units),
            quantity_decimals=policy.quantity_decimals, quantity_max=policy.quantity_max,
            max_dispenses=settings.rx_max_dispenses,
            max_packs_per_dispense=settings.rx_max_packs_per_dispense,
            nomination=settings.nomination))
