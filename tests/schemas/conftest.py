"""Fixtures of the schemas tests: the demo catalog, the default policy, a fixed clock."""

from __future__ import annotations

import pytest

from tests.support.schema_strategies import catalog


@pytest.fixture(scope="session")
def demo_catalog():  # type: ignore[no-untyped-def]
    return catalog()
