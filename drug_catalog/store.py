"""The catalog in MongoDB: one document per product, and a change counter.

Documents live in the ``drugs`` collection, ``_id`` = national code, with the drug resource's
fields plus ``search_tokens`` (folded name/ingredient words, indexed: the embedded database has
no text index). Every write that changes the catalog increments the counter in
``catalog_meta`` *after* the documents are written, so a process that reads the counter before
reloading never marks a version as seen without its data (``drug_catalog.cache``).

The store takes its collections as parameters; wiring (client, database, indexes at start-up)
belongs to the gateway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from pymongo import ASCENDING, IndexModel, ReplaceOne, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import PyMongoError

from drug_catalog.catalog import DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT, CatalogIndex, \
    resolve_identifier, search_tokens
from drug_catalog.errors import CatalogError, InvalidDrug
from drug_catalog.identifiers import normalize_code
from drug_catalog.model import Drug
from drug_catalog.text import tokens

DRUGS = "drugs"
CATALOG_META = "catalog_meta"
_COUNTER_ID = "catalog"
# How many documents a database search ranks at most (the best are among the first anyway:
# every candidate matches every query word).
SEARCH_SCAN_LIMIT = 2000


class CatalogUnavailable(CatalogError):
    """The catalog's database did not answer (the message names the operation)."""


def index_models() -> dict[str, list[IndexModel]]:
    """Indexes of the catalog's collections, for the gateway to create at start-up."""
    return {DRUGS: [
        IndexModel([("registration_number", ASCENDING)], name="registration_number"),
        IndexModel([("gtins", ASCENDING)], name="gtins"),
        IndexModel([("search_tokens", ASCENDING)], name="search_tokens"),
    ]}


def to_document(drug: Drug) -> dict[str, Any]:
    """The stored form of ``drug``."""
    return {"_id": drug.national_code, **drug.to_dict(), "search_tokens": search_tokens(drug)}


def from_document(document: dict[str, Any]) -> Drug:
    """The drug of a stored document.

    Raises:
        InvalidDrug: the document is not a valid drug (written by something else).
    """
    data = {key: value for key, value in document.items()
            if key not in ("_id", "search_tokens")}
    return Drug.from_dict(data)


class CatalogStore:
    """Products in MongoDB, upserted by national code, with a change counter."""

    def __init__(self, *, drugs: Collection, meta: Collection) -> None:
        self.drugs = drugs
        self.meta = meta

    @classmethod
    def from_database(cls, database: Database) -> CatalogStore:
        """The store on ``database``'s ``drugs`` and ``catalog_meta`` collections."""
        return cls(drugs=database[DRUGS], meta=database[CATALOG_META])

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
        return int(document["version"]) if document else 0

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
        return int(document["version"])

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
        """Every stored product, in national-code order.

        Raises:
            CatalogUnavailable: the database did not answer.
        """
        try:
            for document in self.drugs.find({}, {"search_tokens": 0}).sort("_id", ASCENDING):
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
        """Every stored GTIN and the national code of the product carrying it.

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
        """Like :meth:`CatalogIndex.resolve`, straight from the database (no cache).

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

    def search(self, query: str, limit: int = DEFAULT_SEARCH_LIMIT) -> list[Drug]:
        """Like :meth:`CatalogIndex.search`, from the database: every query word must be a
        prefix of one of a product's ``search_tokens``; the candidates are ranked as in
        memory.

        Raises:
            ValueError: ``limit`` is out of range.
            CatalogUnavailable: the database did not answer.
        """
        if not 1 <= limit <= MAX_SEARCH_LIMIT:
            raise ValueError(f"limit must be 1 to {MAX_SEARCH_LIMIT}, got {limit}")
        words = list(dict.fromkeys(tokens(query)))
        if not words:
            return []
        condition = {"$and": [{"search_tokens": {"$regex": "^" + re.escape(word)}}
                              for word in sorted(words, key=len, reverse=True)]}
        candidates = self._find(condition, "searching", SEARCH_SCAN_LIMIT)
        return CatalogIndex(candidates).search(query, limit)

    # ------------------------------------------------------------------ writes

    def save_many(self, drugs: Iterable[Drug]) -> int:
        """Write ``drugs`` (insert or replace by national code) without touching the counter;
        call :meth:`bump_version` once the batch is written. Returns how many were written.

        Raises:
            CatalogUnavailable: the database did not answer.
        """
        operations = [ReplaceOne({"_id": drug.national_code}, to_document(drug), upsert=True)
                      for drug in drugs]
        if not operations:
            return 0
        try:
            self.drugs.bulk_write(operations, ordered=False)
        except PyMongoError as exc:
            raise CatalogUnavailable(f"writing products: {exc}") from exc
        return len(operations)

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
        self.save_many([drug])
        self.bump_version()
        return "added" if existing is None else "updated"
