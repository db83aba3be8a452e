"""The MongoDB store, the importer and the in-process cache, on a real MongoDB-wire server."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pymongo
import pytest
from pymongo.database import Database

from drug_catalog.cache import CachedCatalog
from drug_catalog.catalog import Catalog
from drug_catalog.demo import demo_catalog_path, demo_drugs
from drug_catalog.errors import BadCheckDigit, ImportFormatError, InvalidDrug, UnknownDrug
from drug_catalog.importer import format_for, import_file, import_stream
from drug_catalog.store import CatalogStore, CatalogUnavailable
from tests.support.drugs import drug_record, make_drug
from tests.support.environment import DAV_SAMPLE


@pytest.fixture
def store(database: Database) -> CatalogStore:
    return CatalogStore.from_database(database)


def ndjson(*records: dict) -> io.StringIO:
    return io.StringIO("".join(json.dumps(record, ensure_ascii=False) + "\n"
                               for record in records))


def test_importing_the_dav_sample_loads_forty_then_forty_unchanged(store: CatalogStore) -> None:
    first = import_file(store, DAV_SAMPLE, "dav-csv")
    assert (first.added, first.updated, first.unchanged, first.rejected) == (40, 0, 0, [])
    assert store.count() == 40
    version = store.version()
    second = import_file(store, DAV_SAMPLE, "dav-csv")
    assert (second.added, second.updated, second.unchanged, second.rejected) == (0, 0, 40, [])
    assert store.version() == version  # nothing written, nobody needs to reload


def test_the_dav_sample_over_the_demo_catalog_changes_nothing(store: CatalogStore) -> None:
    demo = import_file(store, demo_catalog_path())
    assert demo.added == len(demo_drugs()) and not demo.rejected
    again = import_file(store, DAV_SAMPLE)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 40)


def test_bad_rows_are_rejected_with_line_and_reason_and_the_rest_load(
        store: CatalogStore, tmp_path: Path) -> None:
    lines = DAV_SAMPLE.read_text(encoding="utf-8").splitlines()
    lines.insert(3, "NOT-A-NUMBER,Thuốc X,Paracetamol,,,")
    lines.append("VD-19911-13,Duplicate,Paracetamol,,,")
    path = tmp_path / "registry.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_file(store, path)
    assert report.added == 40
    assert [(row.line, row.reason.split(" ")[0]) for row in report.rejected] == \
        [(4, "Số"), (43, "national")]
    assert "already on line" in report.rejected[1].reason
    assert "line 4: Số đăng ký 'NOT-A-NUMBER'" in report.summary()
    assert report.summary().startswith("added 40, updated 0, unchanged 0, rejected 2")


def test_upsert_by_key_counts_added_updated_unchanged(store: CatalogStore) -> None:
    import_stream(store, ndjson(drug_record(), drug_record(national_code="B", gtins=[])),
                  "ndjson")
    report = import_stream(store, ndjson(drug_record(name="Renamed"),
                                         drug_record(national_code="B", gtins=[]),
                                         drug_record(national_code="C", gtins=[])), "ndjson")
    assert (report.added, report.updated, report.unchanged) == (1, 1, 1)
    assert store.get("mt000001").name == "Renamed"


def test_a_gtin_belongs_to_one_product(store: CatalogStore) -> None:
    import_stream(store, ndjson(drug_record()), "ndjson")
    report = import_stream(store, ndjson(drug_record(national_code="OTHER")), "ndjson")
    assert report.added == 0
    assert "GTIN 08930000000019 belongs to product MT000001" in report.rejected[0].reason
    # A product may hand its GTIN over within one file: first released, then claimed.
    moved = import_stream(store, ndjson(drug_record(gtins=[]),
                                        drug_record(national_code="OTHER")), "ndjson",
                          batch_size=1)
    assert (moved.updated, moved.added, moved.rejected) == (1, 1, [])
    with pytest.raises(InvalidDrug, match="belongs to product OTHER"):
        store.upsert(make_drug(national_code="THIRD"))


def test_store_resolves_like_the_index(store: CatalogStore) -> None:
    import_file(store, demo_catalog_path())
    for drug in demo_drugs()[::15]:
        assert store.resolve(drug.registration_number) == drug
        assert store.resolve(drug.gtins[0]) == drug
        assert store.resolve(drug.national_code.lower()) == drug
    with pytest.raises(BadCheckDigit):
        store.resolve("8930000000018")
    with pytest.raises(UnknownDrug):
        store.resolve("VD-99999-99")


def test_upsert_reports_and_bumps_only_on_change(store: CatalogStore) -> None:
    assert store.version() == 0
    assert store.upsert(make_drug()) == "added"
    assert store.version() == 1
    assert store.upsert(make_drug()) == "unchanged"
    assert store.version() == 1
    assert store.upsert(make_drug(status="recalled")) == "updated"
    assert store.version() == 2


def test_format_is_taken_from_the_extension() -> None:
    assert format_for("x.csv") == "dav-csv" and format_for("x.NDJSON") == "ndjson"
    with pytest.raises(ImportFormatError, match="--format"):
        format_for("x.xlsx")


def test_a_file_that_is_not_utf8_is_refused(store: CatalogStore, tmp_path: Path) -> None:
    path = tmp_path / "registry.csv"
    path.write_bytes("Số đăng ký,Tên thuốc,Hoạt chất\n".encode("utf-16"))
    with pytest.raises(ImportFormatError, match="not UTF-8"):
        import_file(store, path)


# ------------------------------------------------------------------------------ the cache


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_cache_sees_another_process_import_within_the_refresh_delay(
        store: CatalogStore, mongo_server, db_name: str) -> None:
    clock = FakeClock()
    cache = CachedCatalog(store=store, refresh_seconds=5, clock=clock)
    assert isinstance(cache, Catalog)
    import_stream(store, ndjson(drug_record()), "ndjson")
    assert cache.resolve("MT000001").name == "Paracetamol 500mg"
    # Another process: its own client, its own store object.
    with pymongo.MongoClient(mongo_server.uri) as other_client:
        other = CatalogStore.from_database(other_client[db_name])
        import_stream(other, ndjson(drug_record(name="Changed", status="recalled"),
                                    drug_record(national_code="NEW", gtins=[])), "ndjson")
    clock.now += 4.9
    assert cache.resolve("MT000001").name == "Paracetamol 500mg"  # within the delay: cached
    with pytest.raises(UnknownDrug):
        cache.resolve("NEW")
    clock.now += 0.1
    assert cache.resolve("MT000001").name == "Changed"
    assert cache.resolve("NEW").national_code == "NEW"
    assert cache.reloads == 2


def test_the_cache_does_not_reload_when_nothing_changed(store: CatalogStore) -> None:
    clock = FakeClock()
    cache = CachedCatalog(store=store, refresh_seconds=1, clock=clock)
    import_stream(store, ndjson(drug_record()), "ndjson")
    for _ in range(5):
        cache.resolve("MT000001")
        clock.now += 2
    assert cache.reloads == 1
    assert cache.search("para")[0].national_code == "MT000001"
    assert cache.get("mt000001") is not None and len(cache) == 1


def test_the_cache_keeps_serving_when_the_database_goes_away(mongo_server, db_name: str,
                                                             database: Database) -> None:
    client = pymongo.MongoClient(mongo_server.uri, serverSelectionTimeoutMS=300)
    store = CatalogStore.from_database(client[db_name])
    store.upsert(make_drug())
    clock = FakeClock()
    cache = CachedCatalog(store=store, refresh_seconds=1, clock=clock)
    assert cache.resolve("MT000001")
    client.close()
    clock.now += 2
    assert cache.resolve("MT000001").national_code == "MT000001"
    cold = CachedCatalog(store=store, refresh_seconds=1, clock=clock)
    with pytest.raises(CatalogUnavailable):
        cold.resolve("MT000001")


def test_refresh_zero_checks_on_every_call(store: CatalogStore) -> None:
    cache = CachedCatalog(store=store, refresh_seconds=0)
    store.upsert(make_drug())
    assert cache.resolve("MT000001").status == "active"
    store.upsert(make_drug(status="withdrawn"))
    assert cache.resolve("MT000001").status == "withdrawn"
    with pytest.raises(ValueError):
        CachedCatalog(store=store, refresh_seconds=-1)


def test_a_background_refresh_keeps_answering_from_the_previous_snapshot(
        store: CatalogStore) -> None:
    clock = FakeClock()
    cache = CachedCatalog(store=store, refresh_seconds=5, clock=clock, background=True)
    store.upsert(make_drug())
    assert cache.resolve("MT000001").status == "active"  # the first load blocks
    store.upsert(make_drug(status="recalled"))
    clock.now += 5
    answered = cache.resolve("MT000001").status  # stale or, if the thread was quick, fresh
    cache.wait_for_refresh(timeout=30)
    assert answered in ("active", "recalled")
    assert cache.resolve("MT000001").status == "recalled"
    assert cache.reloads == 2
