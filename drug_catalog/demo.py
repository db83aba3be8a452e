"""The demo catalog shipped with the package (``drug_catalog/data/demo-catalog.ndjson``).

209 products: the 40 real records of the Drug Administration's registry sample and invented
products covering every kind, control class and status, with GTINs so packs can be scanned.
Lines say in their ``_sample`` field which of their data are sample data (every GTIN is).
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from drug_catalog.errors import ImportRowError
from drug_catalog.model import Drug
from drug_catalog.sources import read_ndjson


def demo_catalog_path() -> Path:
    """Path of the demo catalog file (``ndjson``, importable with ``--format ndjson``)."""
    return Path(str(resources.files("drug_catalog") / "data" / "demo-catalog.ndjson"))


@functools.cache
def _demo_drugs() -> tuple[Drug, ...]:
    drugs = []
    with demo_catalog_path().open(encoding="utf-8") as stream:
        for record in read_ndjson(stream):
            if isinstance(record, ImportRowError):  # the shipped file is checked by the tests
                raise record
            drugs.append(Drug.from_dict(record.stated))
    return tuple(drugs)


def demo_drugs() -> list[Drug]:
    """Every product of the demo catalog, in file order.

    Raises:
        ImportRowError: the shipped file has an invalid line (a packaging bug).
    """
    return list(_demo_drugs())
