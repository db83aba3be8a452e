"""The catalog in MongoDB: one document per product, a change counter, and a snapshot.

Documents live in the ``drugs`` collection, ``_id`` = national code, holding the drug
resource's fields. Every write that changes the catalog increments the counter in
``catalog_meta`` *after* the documents are written, so a process that reads the counter before
reloading never marks a version as seen without its data (``drug_catalog.cache``).

**Snapshot.** Reading 60,000 product documents costs seconds on the embedded database (it
handles each document in Python). After an import the importer therefore also writes the
whole catalog as a few compressed chunks (``catalog_snapshots``: zlib of the JSON list of
:meth:`Drug.to_row` rows, 10,000 products a chunk) tagged with the counter value it was built
at; a starting process reads those (:meth:`CatalogStore.load`) when the tag is the current
counter and no writer is at work (every writer marks itself in ``catalog_meta`` before its
first write: a change stream opened after that mark sees all its writes), and otherwise
falls back to reading the documents.

Look-ups by registration number or GTIN, and search, are served from memory
(``drug_catalog.cache``), which is why the collection has no secondary index: on the embedded
database each index cost 0.7 to 1.5 ms per written product when measured (the token array
alone 1.5 ms), which would have more than doubled the import of the national registry, for
queries nothing in the request path makes. :meth:`CatalogStore.resolve` still answers from
the database (a collection scan) for tools and checks.

The store takes its collections as parameters; wiring (client, database) belongs to the
gateway.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import Binary
from pymongo import ReplaceOne, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, PyMongoError

from drug_catalog.catalog import resolve_identifier
from drug_catalog.errors import CatalogError, InvalidDrug
from drug_catalog.identifiers import normalize_code
from drug_catalog.model import Drug

DRUGS = "drugs"
CATALOG_META = "catalog_meta"
SNAPSHOTS = "catalog_snapshots"
_COUNTER_ID = "catalog"
SNAPSHOT_FORMAT = 1
SNAPSHOT_CHUNK = 10_000
# How long a writer's mark holds if the writer dies without removing it.
WRITER_LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class Loaded:
    """What :meth:`CatalogStore.load` read: products as :class:`Drug` records or as snapshot
    rows, the change counter they are current at, and where they came from."""

    drugs: Sequence[Drug] | None
    rows: Sequence[Sequence[Any]] | None
    version: int
    source: str  # "snapshot" or "documents"


class CatalogUnavailable(CatalogError):
    """The catalog's database did not answer (the message names the operation)."""


def to_document(drug: Drug) -> dict[str, Any]:
    """The stored form of ``drug``."""
    return {"_id": drug.national_code, **drug.to_dict()}


def from_document(document: dict[str, Any]) -> Drug:
    """The drug of a stored document (written by :meth:`CatalogStore.save_many`; not
    validated again, see :meth:`Drug.from_stored`).

    Raises:
        KeyError, TypeError, ValueError: the document was not written by this store.
    """
    return Drug.from_stored(document)


class CatalogStore:
    """Products in MongoDB, upserted by national code, with a change counter."""

    def __init__(self, *, drugs: Collection[dict[str, Any]], meta: Collection[dict[str, Any]],
                 snapshots: Collection[dict[str, Any]] | None = None) -> None:
        self.drugs = drugs
        self.meta = meta
        self.snapshots = snapshots

    @classmethod
    def from_database(cls, database: Database[dict[str, Any]]) -> CatalogStore:
        """The store on ``database``'s ``drugs``, ``catalog_meta`` and ``catalog_snapshots``
        collections."""
        return cls(drugs=database[DRUGS], meta=database[CATALOG_META],
                   snapshots=database[SNAPSHOTS])

    # ------------------------------------------------------------------ change counter

    def version(self) -> int:
        """The change counter: it grows after every write that changed a product.

        Raises:
            CatalogUnavailable: the database did not answer.
        """
        try:
            document = self.meta.find_one({"_id": _COUNTER_ID}, {"version": 1})
        except PyMongoError as exc:
            raise CatalogUnavailable(f"reading the catalog version: {exc}") from exc
        return int(document.get("version", 0)) if document else 0

    def bump_version(self) -> int:
        """Increment the change counter (after writing products) and return the new value.

        Raises:
            CatalogUnavailable: the database did not answer.
        """
        try:
            document = self.meta.find_one_and_update(
                {"_id": _COUNTER_ID}, {"$inc": {"version": 1}}, upsert=True,
                return_document=ReturnDocument.AFTER)
        except PyMongoError as exc:
            raise CatalogUnavailable(f"updating the catalog version: {exc}") from exc
        assert document is not None  # an upsert returning the document after it
        return int(document["version"])

    # ------------------------------------------------------------------ writers and snapshot

    def begin_write(self, lease: timedelta = WRITER_LEASE) -> str:
        """Mark a writer at work (before its first product write); its id for
        :meth:`end_write`. While a mark holds, starting processes read the documents rather
        than the snapshot.

        Raises:
            CatalogUnavailable: the database did not answer.
        """
        writer = secrets.token_hex(8)
        try:
            self.meta.update_one({"_id": _COUNTER_ID},
                                 {"$set": {f"writers.{writer}": datetime.now(UTC) + lease}},
                                 upsert=True)
        except PyMongoError as exc:
            raise CatalogUnavailable(f"marking a catalog writer: {exc}") from exc
        return writer

    def end_write(self, writer: str) -> None:
        """Remove a writer's mark (best effort: it also runs out by itself)."""
        with contextlib.suppress(PyMongoError):
            self.meta.update_one({"_id": _COUNTER_ID}, {"$unset": {f"writers.{writer}": ""}})

    def _state(self) -> dict[str, Any]:
        try:
            return self.meta.find_one({"_id": _COUNTER_ID}) or {}
        except PyMongoError as exc:
            raise CatalogUnavailable(f"reading the catalog state: {exc}") from exc

    def snapshot_is_current(self) -> bool:
        """True when the snapshot reflects the current counter.

        Raises:
            CatalogUnavailable: the database did not answer.
        """
        state = self._state()
        snapshot = state.get("snapshot") or {}
        return (snapshot.get("version") == int(state.get("version", 0))
                and snapshot.get("format") == SNAPSHOT_FORMAT)

    def write_snapshot(self) -> int | None:
        """Write the whole catalog as compressed chunks tagged with the change counter read
        before reading the products (a write meanwhile moves the counter, so the snapshot is
        never taken for newer than it is); the tag, or None without a snapshot collection.

        Raises:
            CatalogUnavailable: the database did not answer.
        """
        if self.snapshots is None:
            return None
        version = self.version()
        rows = [drug.to_row() for drug in sorted(self.all(), key=lambda d: d.national_code)]
        chunks = [rows[start:start + SNAPSHOT_CHUNK]
                  for start in range(0, len(rows), SNAPSHOT_CHUNK)] or [[]]
        documents = [{"_id": f"{version}:{number:04d}", "version": version, "number": number,
                      "data": Binary(zlib.compress(json.dumps(
                          chunk, ensure_ascii=False, separators=(",", ":")).encode(), 6))}
                     for number, chunk in enumerate(chunks)]
        try:
            # The same version written by another writer meanwhile: identical chunks.
            with contextlib.suppress(BulkWriteError):
                self.snapshots.insert_many(documents, ordered=False)
            self.meta.update_one(
                {"_id": _COUNTER_ID, "$or": [{"snapshot.version": {"$lt": version}},
                                            {"snapshot": {"$exists": False}}]},
                {"$set": {"snapshot": {"version": version, "chunks": len(documents),
                                       "format": SNAPSHOT_FORMAT, "products": len(rows),
                                       "written_at": datetime.now(UTC)}}})
            self.snapshots.delete_many({"version": {"$lt": version}})
        except PyMongoError as exc:
            raise CatalogUnavailable(f"writing the catalog snapshot: {exc}") from exc
        return version

    def load(self) -> Loaded:
        """Every product, with the change counter it is current at: from the snapshot when it
        is current and no writer is at work, else from the documents.

        Raises:
            CatalogUnavailable: the database did not answer.
        """
        state = self._state()
        version = int(state.get("version", 0))
        now = datetime.now(UTC)
        writing = any((until if until.tzinfo else until.replace(tzinfo=UTC)) > now
                      for until in (state.get("writers") or {}).values()
                      if isinstance(until, datetime))  # a client without tz_aware: naive UTC
        snapshot = state.get("snapshot") or {}
        if (self.snapshots is not None and not writing and snapshot.get("version") == version
                and snapshot.get("format") == SNAPSHOT_FORMAT):
            rows = self._read_snapshot(version, int(snapshot.get("chunks", 0)))
            if rows is not None:
                return Loaded(drugs=None, rows=rows, version=version, source="snapshot")
        return Loaded(drugs=self.load_all(), rows=None, version=version, source="documents")

    def _read_snapshot(self, version: int, chunks: int) -> list[Any] | None:
        assert self.snapshots is not None
        wanted = [f"{version}:{number:04d}" for number in range(chunks)]
        try:
            found = {doc["number"]: doc["data"]
                     for doc in self.snapshots.find({"_id": {"$in": wanted}})}
        except PyMongoError as exc:
            raise CatalogUnavailable(f"reading the catalog snapshot: {exc}") from exc
        if len(found) != chunks:
            return None  # replaced meanwhile: read the documents
        rows: list[Any] = []
        for number in range(chunks):
            rows += json.loads(zlib.decompress(found[number]))
        return rows

    # ------------------------------------------------------------------ reads

    def count(self) -> int:
        """How many products are stored.

        Raises:
            CatalogUnavailable: the database did not answer.
        """
        try:
            return self.drugs.estimated_document_count()
        except PyMongoError as exc:
            raise CatalogUnavailable(f"counting products: {exc}") from exc

    def _find(self, query: dict[str, Any], what: str, limit: int = 0) -> list[Drug]:
        try:
            return [from_document(document) for document in self.drugs.find(query, limit=limit)]
        except PyMongoError as exc:
            raise CatalogUnavailable(f"{what}: {exc}") from exc

    def get(self, national_code: str) -> Drug | None:
        """The product with this national code (canonical form), or None.

        Raises:
            CatalogUnavailable: the database did not answer.
        """
        found = self._find({"_id": normalize_code(national_code)}, "reading a product", 1)
        return found[0] if found else None

    def get_many(self, national_codes: Iterable[str]) -> dict[str, Drug]:
        """The stored products among ``national_codes`` (canonical forms), by national code.

        Raises:
            CatalogUnavailable: the database did not answer.
        """
        codes = list(national_codes)
        if not codes:
            return {}
        return {drug.national_code: drug
                for drug in self._find({"_id": {"$in": codes}}, "reading products")}

    def all(self) -> Iterator[Drug]:
        """Every stored product, in no particular order.

        Raises:
            CatalogUnavailable: the database did not answer.
        """
        try:
            for document in self.drugs.find({}):
                yield from_document(document)
        except PyMongoError as exc:
            raise CatalogUnavailable(f"reading the catalog: {exc}") from exc

    def load_all(self) -> list[Drug]:
        """Every stored product (what the in-process cache loads).

        Raises:
            CatalogUnavailable: the database did not answer.
        """
        return list(self.all())

    def gtin_owners(self) -> dict[str, str]:
        """Every stored GTIN and the national code of the product carrying it (a scan).

        Raises:
            CatalogUnavailable: the database did not answer.
        """
        owners: dict[str, str] = {}
        try:
            for document in self.drugs.find({"gtins.0": {"$exists": True}}, {"gtins": 1}):
                for gtin in document.get("gtins", ()):
                    owners[gtin] = document["_id"]
        except PyMongoError as exc:
            raise CatalogUnavailable(f"reading GTINs: {exc}") from exc
        return owners

    def resolve(self, identifier: str) -> Drug:
        """Like :meth:`CatalogIndex.resolve`, straight from the database (no cache; look-ups
        other than by national code scan the collection: for tools, not the request path).

        Raises:
            InvalidIdentifier, BadCheckDigit, UnknownDrug, AmbiguousIdentifier: as
                :meth:`CatalogIndex.resolve`.
            CatalogUnavailable: the database did not answer.
        """
        return resolve_identifier(
            identifier,
            by_code=lambda code: self._find({"_id": code}, "resolving", 1),
            by_registration=lambda number: self._find({"registration_number": number},
                                                      "resolving"),
            by_gtin=lambda gtin: self._find({"gtins": gtin}, "resolving"))

    # ------------------------------------------------------------------ writes

    def save_many(self, drugs: Iterable[Drug], *, new: Iterable[Drug] = ()) -> int:
        """Write products without touching the counter; call :meth:`bump_version` once the
        batch is written. ``drugs`` are replaced (or inserted) by national code; ``new`` are
        products the caller knows are not stored yet, inserted in one bulk insert (several
        times cheaper than upserts on the embedded database). Returns how many were written.

        Raises:
            CatalogUnavailable: the database did not answer (or a ``new`` product existed).
        """
        replacements = [ReplaceOne({"_id": drug.national_code}, to_document(drug), upsert=True)
                        for drug in drugs]
        insertions = [to_document(drug) for drug in new]
        try:
            if insertions:
                self.drugs.insert_many(insertions, ordered=False)
            if replacements:
                self.drugs.bulk_write(replacements, ordered=False)
        except PyMongoError as exc:
            raise CatalogUnavailable(f"writing products: {exc}") from exc
        return len(replacements) + len(insertions)

    def upsert(self, drug: Drug) -> str:
        """Store one product and bump the counter if it changed.

        Returns:
            ``"added"``, ``"updated"`` or ``"unchanged"``.

        Raises:
            InvalidDrug: one of its GTINs belongs to another product.
            CatalogUnavailable: the database did not answer.
        """
        for index, gtin in enumerate(drug.gtins):
            for other in self._find({"gtins": gtin, "_id": {"$ne": drug.national_code}},
                                    "checking GTINs", 1):
                raise InvalidDrug(f"gtins[{index}]", f"GTIN {gtin} belongs to product "
                                                     f"{other.national_code}")
        existing = self.get(drug.national_code)
        if existing == drug:
            return "unchanged"
        writer = self.begin_write(timedelta(minutes=1))
        try:
            self.save_many([drug])
            self.bump_version()
        finally:
            self.end_write(writer)
        return "added" if existing is None else "updated"
