"""Validating a document against the demo catalog at the strategies' fixed time."""

from __future__ import annotations

from typing import Any

from schemas.policy import Policy
from schemas.validation import ValidationResult, validate_prescription
from tests.support.schema_strategies import FACILITY, NOW, POLICY, catalog


def validate(raw: Any, *, policy: Policy = POLICY, facility_code: str | None = FACILITY,
             now: Any = NOW) -> ValidationResult:
    """The validator with the demo catalog, the default policy, facility 79001, a fixed clock."""
    return validate_prescription(raw, catalog=catalog(), policy=policy, facility_code=facility_code,
                                 now=now)
