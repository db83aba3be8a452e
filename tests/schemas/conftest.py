"""Fixtures of the schemas tests: the demo catalog, the default policy, a fixed clock."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from schemas.policy import Policy
from schemas.validation import ValidationResult, validate_prescription
from tests.schemas.strategies import FACILITY, NOW, POLICY, catalog

# Generated prescriptions are large: relax the data-size health check, keep examples modest so
# the area runs in well under two minutes on a shared machine.
settings.register_profile("schemas", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("schemas")


def validate(raw: Any, *, policy: Policy = POLICY, facility_code: str | None = FACILITY,
             now: Any = NOW) -> ValidationResult:
    """The validator with the demo catalog, the default policy, facility 79001, a fixed clock."""
    return validate_prescription(raw, catalog=catalog(), policy=policy, facility_code=facility_code,
                                 now=now)


@pytest.fixture(scope="session")
def demo_catalog():  # type: ignore[no-untyped-def]
    return catalog()
