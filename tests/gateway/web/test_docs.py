"""The documentation a newcomer reads stays true: the API guide names every operation of the
OpenAPI document, and the README and docs/ link only to files that exist."""

from __future__ import annotations

import re
from pathlib import Path

from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[3]
GUIDE = ROOT / "docs" / "api-guide.md"


def test_the_guide_names_every_operation(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    guide = GUIDE.read_text(encoding="utf-8")
    missing = [f"{method.upper()} {path}" for path, item in spec["paths"].items()
               for method in item if method != "parameters"
               and f"{method.upper()} {path}" not in guide
               and not (path in ("/healthz", "/readyz", "/metrics") and path in guide)]
    assert not missing, f"docs/api-guide.md does not name: {missing}"


def test_readme_and_docs_link_only_to_files_that_exist() -> None:
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)]+)\)", page.read_text(encoding="utf-8")):
            if target.startswith("#"):
                continue
            if page.name == "README.md" and target.startswith(("http://", "https://")):
                broken.append(f"{page.name}: {target} (the README links inside the repository)")
                continue
            if target.startswith(("http://", "https://")):
                continue
            if not (page.parent / target.split("#")[0]).exists():
                broken.append(f"{page.name}: {target}")
    assert not broken, broken
