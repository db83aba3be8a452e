"""A module's private names (a leading underscore) stay inside it: another module that needs
one asks for a public function instead (gateway/runtime/gunicorn.py once imported
problems.py's ``_TITLES`` table; it now calls ``status_problem``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.layout import ROOT, SOURCE_DIRS

SOURCES = sorted(path for name in SOURCE_DIRS for path in (ROOT / name).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_module_imports_another_modules_private_names(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    private = [f"{node.module}.{alias.name}" for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom)
               for alias in node.names
               if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert not private, f"{path.relative_to(ROOT)} imports private names: {private}"
