"""Where the source is, for the tests that read it (architecture, import rules, private names)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "schemas", "signing", "drug_catalog")
SOURCE_DIRS = (*PACKAGES, "bench", "tools")
