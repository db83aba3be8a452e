"""Fixtures of the schemas tests: the demo catalog, the default policy, a fixed clock."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.policy import Policy
from schemas.validation import ValidationResult, validate_prescription
from tests.schemas.strategies import FACILITY, NOW, POLICY, catalog


def validate(raw: Any, *, policy: Policy = POLICY, facility_code: str | None = FACILITY,
             now: Any = NOW) -> ValidationResult:
    """The validator with the demo catalog, the default policy, facility 79001, a fixed clock."""
    return validate_prescription(raw, catalog=catalog(), policy=policy, facility_code=facility_code,
                                 now=now)


@pytest.fixture(scope="session")
def demo_catalog():  # type: ignore[no-untyped-def]
    return catalog()
