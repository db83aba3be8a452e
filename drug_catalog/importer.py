"""Import a catalog file into the store: upsert by national code, count what changed.

Rows are read (``drug_catalog.sources``), merged with what is stored, compared, and only the
changed ones written, in batches; the change counter is bumped after each batch that wrote
something, so running processes pick the new products up (``drug_catalog.cache``). A bad row
is rejected with its line and reason; the others still load. Importing the same file again
reports every row unchanged and writes nothing. An import that wrote something (or finds no
current snapshot) ends by writing the catalog snapshot starting processes load from
(``drug_catalog.store``).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from drug_catalog.errors import ImportFormatError, ImportRowError, InvalidDrug
from drug_catalog.model import Drug
from drug_catalog.sources import FORMATS, SourceRecord, merge, read_records
from drug_catalog.store import CatalogStore

DEFAULT_BATCH_SIZE = 1000


@dataclass
class ImportReport:
    """What an import did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[ImportRowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"added": self.added, "updated": self.updated, "unchanged": self.unchanged,
                "rejected": len(self.rejected),
                "rejected_rows": [{"line": row.line, "reason": row.reason}
                                  for row in self.rejected]}

    def summary(self) -> str:
        """One line of counts, then one line per rejected row."""
        lines = [f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
                 f"rejected {len(self.rejected)}"]
        lines += [f"  line {row.line}: {row.reason}" for row in self.rejected]
        return "\n".join(lines)


def format_for(path: str | Path) -> str:
    """The format a file name suggests: ``.csv`` → ``dav-csv``, ``.ndjson``/``.jsonl`` →
    ``ndjson``.

    Raises:
        ImportFormatError: the extension says neither.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "dav-csv"
    if suffix in (".ndjson", ".jsonl"):
        return "ndjson"
    raise ImportFormatError(f"cannot tell the format of {Path(path).name}: give --format "
                            f"({', '.join(FORMATS)})")


def import_stream(store: CatalogStore, stream: TextIO, fmt: str, *,
                  batch_size: int = DEFAULT_BATCH_SIZE) -> ImportReport:
    """Import an open text stream of format ``fmt`` (``"dav-csv"`` or ``"ndjson"``).

    Rows are rejected (the rest still load) when they are invalid, repeat a national code of
    an earlier row of the same file, or carry a GTIN another product already has.

    Raises:
        ImportFormatError: unknown format, or a file without its required header.
        CatalogUnavailable: the database did not answer (rows of batches already written stay).
    """
    report = ImportReport()
    importer = _Importer(store, report)
    batch: list[SourceRecord] = []
    writer = store.begin_write()
    try:
        for item in read_records(stream, fmt):
            if isinstance(item, ImportRowError):
                report.rejected.append(item)
                continue
            batch.append(item)
            if len(batch) >= batch_size:
                importer.apply(batch)
                batch = []
        importer.apply(batch)
        if report.added or report.updated or not store.snapshot_is_current():
            store.write_snapshot()
    finally:
        store.end_write(writer)
    report.rejected.sort(key=lambda row: row.line)
    return report


def import_file(store: CatalogStore, path: str | Path, fmt: str | None = None, *,
                batch_size: int = DEFAULT_BATCH_SIZE) -> ImportReport:
    """Import a UTF-8 file (a byte-order mark is allowed); ``fmt`` defaults to what the file
    name suggests (:func:`format_for`).

    Raises:
        ImportFormatError: unknown format, not UTF-8, or a file without its required header.
        OSError: the file cannot be read.
        CatalogUnavailable: the database did not answer.
    """
    fmt = fmt or format_for(path)
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{Path(path).name} is not UTF-8 (byte {exc.start})") from None
    return import_stream(store, io.StringIO(text, newline=""), fmt, batch_size=batch_size)


class _Importer:
    """Applies batches; reads the stored catalog once (one scan beats a look-up per batch on
    the embedded database), then keeps it current in memory as it writes."""

    def __init__(self, store: CatalogStore, report: ImportReport) -> None:
        self.store = store
        self.report = report
        self.seen: dict[str, int] = {}  # national code -> line of its row in this file
        self.stored: dict[str, Drug] | None = None
        self.gtin_owners: dict[str, str] = {}

    def _load(self) -> dict[str, Drug]:
        if self.stored is None:
            self.stored = {drug.national_code: drug for drug in self.store.all()}
            self.gtin_owners = {gtin: drug.national_code for drug in self.stored.values()
                                for gtin in drug.gtins}
        return self.stored

    def apply(self, batch: Iterable[SourceRecord]) -> None:
        records = []
        for record in batch:
            first = self.seen.get(record.national_code)
            if first is not None:
                self.report.rejected.append(ImportRowError(
                    record.line, f"national code {record.national_code} was already on line "
                                 f"{first}"))
                continue
            self.seen[record.national_code] = record.line
            records.append(record)
        if not records:
            return
        stored = self._load()
        added: list[Drug] = []
        updated: list[Drug] = []
        for record in records:
            existing = stored.get(record.national_code)
            try:
                drug = merge(record, existing)
            except InvalidDrug as exc:
                self.report.rejected.append(ImportRowError(record.line, str(exc)))
                continue
            conflict = self._gtin_conflict(drug)
            if conflict:
                self.report.rejected.append(ImportRowError(record.line, conflict))
                continue
            if drug == existing:
                self.report.unchanged += 1
                continue
            self._claim_gtins(drug, existing)
            stored[drug.national_code] = drug
            (added if existing is None else updated).append(drug)
        if added or updated:
            self.store.save_many(updated, new=added)
            self.store.bump_version()
            self.report.added += len(added)
            self.report.updated += len(updated)

    def _gtin_conflict(self, drug: Drug) -> str | None:
        for gtin in drug.gtins:
            owner = self.gtin_owners.get(gtin)
            if owner is not None and owner != drug.national_code:
                return f"GTIN {gtin} belongs to product {owner}"
        return None

    def _claim_gtins(self, drug: Drug, existing: Drug | None) -> None:
        for gtin in existing.gtins if existing else ():
            if gtin not in drug.gtins:
                self.gtin_owners.pop(gtin, None)
        for gtin in drug.gtins:
            self.gtin_owners[gtin] = drug.national_code
