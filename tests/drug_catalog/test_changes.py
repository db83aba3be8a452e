"""Catalog changes without reloads: the incremental index, the snapshot a starting process
loads, and the cache that follows a change feed (drug_catalog.catalog, .store, .cache)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymongo.database import Database

from drug_catalog.cache import CachedCatalog
from drug_catalog.catalog import CatalogIndex
from drug_catalog.demo import demo_catalog_path, demo_drugs
from drug_catalog.errors import UnknownDrug
from drug_catalog.importer import import_file
from drug_catalog.model import Drug
from drug_catalog.store import CatalogStore
from tests.support.drugs import make_drug

DEMO = demo_drugs()
QUERIES = ["para", "amo", "vien", "thuoc", "morphin", "a", "cef 500", "vd", "hacemol", "siro"]


def answers(index: CatalogIndex, drugs: list[Drug]) -> tuple[Any, ...]:
    """What an index answers: every identifier of every product, and some searches."""
    resolved = []
    for drug in drugs:
        for identifier in (drug.national_code, drug.registration_number, *drug.gtins):
            try:
                resolved.append(index.resolve(identifier).national_code)
            except Exception as exc:  # an ambiguous or unknown identifier is an answer too
                resolved.append(type(exc).__name__)
    searched = [[d.national_code for d in index.search(query, 30)] for query in QUERIES]
    return len(index), resolved, searched


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, len(DEMO) - 1), max_size=25, unique=True),
       st.lists(st.integers(0, len(DEMO) - 1), max_size=25, unique=True),
       st.sampled_from(["active", "recalled", "withdrawn"]), st.booleans())
def test_with_changes_answers_as_an_index_built_from_scratch(
        removed: list[int], renamed: list[int], status: str, lazy: bool) -> None:
    base = (CatalogIndex.from_rows(d.to_row() for d in DEMO).with_search() if lazy
            else CatalogIndex(DEMO))
    deletes = [DEMO[i].national_code for i in removed]
    upserts = [dataclasses.replace(DEMO[i], name=f"Zeta {DEMO[i].name}", status=status,
                                   gtins=DEMO[i].gtins[:1])
               for i in renamed if i not in removed]
    upserts.append(make_drug(national_code="NEW0001", name="Paracetamol Mới 650mg",
                             registration_number="VD-99999-26", gtins=[]))
    changed = base.with_changes(upserts, deletes)
    by_code = {d.national_code: d for d in DEMO}
    for code in deletes:
        del by_code[code]
    by_code.update({d.national_code: d for d in upserts})
    fresh = CatalogIndex(by_code.values())
    assert answers(changed, DEMO + upserts) == answers(fresh, DEMO + upserts)
    assert answers(base, DEMO) == answers(CatalogIndex(DEMO), DEMO)  # the old one unchanged


def test_rows_load_the_same_catalog_with_search_built_later() -> None:
    index = CatalogIndex.from_rows(d.to_row() for d in DEMO)
    assert not index.has_search
    assert index.resolve(DEMO[3].gtins[0]) == DEMO[3]
    assert answers(index, DEMO) == answers(CatalogIndex(DEMO), DEMO)  # search builds itself
    assert index.with_search() is index or index.with_search().has_search


@pytest.fixture
def store(database: Database) -> CatalogStore:
    return CatalogStore.from_database(database)


def test_an_import_writes_a_snapshot_that_loads_the_same_catalog(store: CatalogStore) -> None:
    import_file(store, demo_catalog_path())
    assert store.snapshot_is_current()
    loaded = store.load()
    assert loaded.source == "snapshot" and loaded.version == store.version()
    assert [Drug.from_row(row) for row in loaded.rows] == \
        sorted(DEMO, key=lambda d: d.national_code)


def test_the_documents_are_read_when_the_snapshot_is_stale_or_a_writer_is_at_work(
        store: CatalogStore) -> None:
    import_file(store, demo_catalog_path())
    writer = store.begin_write()
    assert store.load().source == "documents"  # its writes may not be in the snapshot
    store.end_write(writer)
    assert store.load().source == "snapshot"
    store.upsert(make_drug(national_code="LATE0001", gtins=[]))  # moves the counter
    loaded = store.load()
    assert loaded.source == "documents" and "LATE0001" in {d.national_code for d in loaded.drugs}


def test_a_missing_chunk_means_the_documents(store: CatalogStore, database: Database) -> None:
    import_file(store, demo_catalog_path())
    database["catalog_snapshots"].delete_one({})
    assert store.load().source == "documents"


class Feed:
    """What the gateway's change feed hands a following catalog."""

    def __init__(self, catalog: CachedCatalog) -> None:
        self.catalog = catalog

    def upsert(self, drug: Drug) -> None:
        self.catalog.feed_event({"ns": {"coll": "drugs"}, "operationType": "replace",
                                 "documentKey": {"_id": drug.national_code},
                                 "fullDocument": {"_id": drug.national_code, **drug.to_dict()}})

    def delete(self, code: str) -> None:
        self.catalog.feed_event({"ns": {"coll": "drugs"}, "operationType": "delete",
                                 "documentKey": {"_id": code}})

    def version(self, version: int) -> None:
        self.catalog.feed_event({"ns": {"coll": "catalog_meta"}, "operationType": "update",
                                 "documentKey": {"_id": "catalog"},
                                 "fullDocument": {"_id": "catalog", "version": version}})


def test_a_following_cache_applies_changes_in_order_without_reloading(
        store: CatalogStore) -> None:
    import_file(store, demo_catalog_path())
    catalog = CachedCatalog(store=store, refresh_seconds=5)
    catalog.follow()
    feed = Feed(catalog)
    try:
        catalog.feed_reset()  # what the feed does when its stream opens
        assert catalog.wait_for_version(store.version(), 30)
        assert catalog.last_load["source"] == "snapshot" and catalog.reloads == 1
        gone, changed = DEMO[0], dataclasses.replace(DEMO[1], status="recalled")
        feed.delete(gone.national_code)
        feed.upsert(changed)
        feed.version(store.version() + 1)
        assert catalog.wait_for_version(store.version() + 1, 30)
        with pytest.raises(UnknownDrug):
            catalog.resolve(gone.national_code)
        assert catalog.get(changed.national_code).status == "recalled"
        assert catalog.reloads == 1 and catalog.applied_changes == 2
    finally:
        catalog.stop()


def test_a_client_without_time_zones_reads_the_writers_marks(store: CatalogStore,
                                                             mongo_server) -> None:
    """Regression (the catalog benchmark): a client that is not tz_aware gets naive times
    back, and comparing a writer's mark with now failed."""
    import pymongo

    import_file(store, demo_catalog_path())
    naive = pymongo.MongoClient(mongo_server.uri)  # tz_aware=False, as a tool might open it
    try:
        other = CatalogStore.from_database(naive[store.drugs.database.name])
        writer = other.begin_write()
        assert other.load().source == "documents"
        other.end_write(writer)
        assert other.load().source == "snapshot"
    finally:
        naive.close()
