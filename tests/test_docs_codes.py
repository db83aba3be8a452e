"""The docs and the server name the same error codes: every code README.md and docs/ name is
one the server can emit, and every code the server can emit is named in the docs. (The docs
said `rx.state` for a dispense of a cancelled prescription; the server says `dispense.state`.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from gateway.audit.log import ACTIONS
from gateway.fhir.service import DISPENSE_PARAMETERS, REQUEST_PARAMETERS
from gateway.prescriptions.outbox import EVENTS

ROOT = Path(__file__).resolve().parents[1]
#: The families of error codes (audit actions and event names share the dotted form).
FAMILIES = ("rx", "dispense", "patient", "drug", "request", "webhook", "qr", "signature",
            "control", "user", "party", "catalog", "cancel")
CODE = re.compile(rf"(?:{'|'.join(FAMILIES)})\.[a-z][a-z0-9_]*")
#: Audit actions, forwarded events and FHIR search parameters have the same dotted form but
#: are not error codes.
NOT_CODES = set(ACTIONS) | set(EVENTS) | set(REQUEST_PARAMETERS) | set(DISPENSE_PARAMETERS)


def documented() -> set[str]:
    found: set[str] = set()
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for match in re.finditer(r"`([a-z][a-z0-9_.]*)`", path.read_text(encoding="utf-8")):
            if CODE.fullmatch(match.group(1)):
                found.add(match.group(1))
    return found - NOT_CODES


def emitted() -> set[str]:
    """Every code-shaped string literal of the source (a code alone, or leading a message
    such as ``"webhook.none: the pharmacy has no webhook"``)."""
    found: set[str] = set()
    for package in ("gateway", "schemas", "drug_catalog", "signing"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    head = node.value.split(":")[0]
                    if CODE.fullmatch(head):
                        found.add(head)
    return found - NOT_CODES


def test_the_docs_name_only_codes_the_server_emits() -> None:
    assert sorted(documented() - emitted()) == []


def test_every_code_the_server_emits_is_in_the_docs() -> None:
    assert len(emitted()) > 60
    assert sorted(emitted() - documented()) == []


def test_a_dispense_of_a_cancelled_prescription_is_documented_as_the_server_answers() -> None:
    guide = (ROOT / "docs" / "api-guide.md").read_text(encoding="utf-8")
    sentence = guide[guide.index("a cancelled or expired"):][:80]
    assert "`dispense.state`" in sentence
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "holds no facility phone numbers" not in readme
