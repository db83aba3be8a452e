"""Drug-catalog fixtures: a valid drug record to vary, and the demo catalog."""

from __future__ import annotations

import pytest

from drug_catalog.demo import demo_drugs
from drug_catalog.model import Drug


@pytest.fixture(scope="session")
def demo() -> list[Drug]:
    return demo_drugs()
