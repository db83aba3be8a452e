"""Drug catalog: importing a national-registry-sized file, and resolve/search latency.

Method: a synthetic ``dav-csv`` file of 60,000 products (the size of the national registry;
the column layout of ``dav-registry-sample.csv`` plus a GTIN column, names and ingredients
drawn from ~250 INNs with several strengths, forms and brands each, so words repeat as in the
real registry) is imported with ``drug_catalog.importer.import_file`` into a fresh embedded
database (SecantusDB, in memory, its own process: the same wire protocol and write path as
``erx-gateway catalog import``; the import ends by writing the catalog snapshot). The same file
is then imported again (every row unchanged). A cold start is timed as a starting gateway
process does it (``CachedCatalog`` following a change feed, told to reset as the feed does when
its stream opens): until the catalog is ready (the identifier maps, from the snapshot: what
``/readyz`` waits for), then until the search structures are built (in the background); the
same from the product documents (no snapshot: what a process does while an import is running)
for comparison; and 1,000 changed products applied from change events with no reload.
``resolve`` is timed on 20,000 identifiers
(national codes, registration numbers in odd spellings, GTIN-13 and GTIN-14, a few unknown)
and ``search`` on 2,000 queries (prefixes of 3 to 8 letters of name and ingredient words, one
or two words, without diacritics), each call timed alone with ``perf_counter``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import pymongo

from bench.harness import free_port
from drug_catalog.cache import CachedCatalog
from drug_catalog.errors import CatalogError
from drug_catalog.identifiers import gtin_check_digit
from drug_catalog.importer import import_file
from drug_catalog.store import CatalogStore
from drug_catalog.text import tokens
from gateway.runtime.embedded import EmbeddedDatabase

METHOD = " ".join((__doc__ or "").split("Method:", 1)[1].split())
PRODUCTS = 60_000
RESOLVES = 20_000
SEARCHES = 2_000

_SYLLABLES = ("pa", "ra", "ce", "ta", "mol", "xi", "lin", "cil", "dro", "pro", "fen", "zol",
              "pra", "ni", "cef", "ox", "ime", "tri", "met", "for", "glu", "lo", "sar", "tan",
              "am", "di", "pin", "ros", "va", "sta", "ator", "cla", "ri", "thro", "my", "cin",
              "le", "vo", "flo", "xa", "ci", "pi", "do", "ne", "bu", "sal", "mon", "te", "kast")
_FORMS = (("Viên nén", "Viên"), ("Viên nén bao phim", "Viên"), ("Viên nang cứng", "Viên"),
          ("Dung dịch tiêm", "Ống"), ("Thuốc bột pha tiêm", "Lọ"), ("Siro", "Chai"),
          ("Thuốc bột pha hỗn dịch uống", "Gói"), ("Kem bôi da", "Tuýp"))
_STRENGTHS = ("5mg", "10mg", "20mg", "25mg", "50mg", "100mg", "200mg", "250mg", "500mg",
              "850mg", "1g", "2mg/ml", "100mg/5ml", "0,5%")
_CLASSES = ("Thuốc kê đơn", "Thuốc kê đơn", "Thuốc không kê đơn", "")
_KINDS = ("Tân dược", "Tân dược", "Tân dược", "Đông dược", "")
_HERBS = ("Đinh lăng", "Bạch quả", "Cam thảo", "Đương quy", "Hoài sơn", "Thục địa", "Ích mẫu",
          "Diệp hạ châu", "Actiso", "Nhân sâm", "Cát cánh", "Bách bộ", "Trần bì", "Liên nhục")


def _word(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(parts)).capitalize()


def write_registry(path: Path, rng: random.Random) -> None:
    inns = sorted({_word(rng, rng.randint(2, 4)) for _ in range(260)})[:250]
    lines = ["Số đăng ký,Tên thuốc,Hoạt chất - Hàm lượng,Tá dược,Phân loại,Loại thuốc,"
             "Nước sản xuất,Công ty đăng ký,Địa chỉ sản xuất,Tuổi thọ,Tiêu chuẩn,Số quyết định,"
             "Dạng bào chế,Đơn vị tính,GTIN"]
    for number in range(PRODUCTS):
        kind = rng.choice(_KINDS)
        if kind == "Đông dược":
            herbs = rng.sample(_HERBS, rng.randint(1, 4))
            ingredients = "; ".join(f"{herb} {rng.choice(('100mg', '250mg', '1g'))}"
                                    for herb in herbs)
            name = f"{rng.choice(('Hoạt huyết', 'Bổ', 'Viên', 'Cao', 'Siro'))} {herbs[0]} " \
                   f"{_word(rng, 2)}"
        else:
            chosen = rng.sample(inns, 1 if rng.random() < 0.85 else 2)
            ingredients = "; ".join(f"{inn} {rng.choice(_STRENGTHS)}" for inn in chosen)
            brand = _word(rng, rng.randint(2, 3)) if rng.random() < 0.6 else chosen[0]
            name = f"{brand} {ingredients.split()[-1]}"
        prefix = rng.choice(("VD", "VN", "GC"))
        registration = f"{prefix}-{number + 10_000}-{rng.randint(10, 24)}"
        form, unit = rng.choice(_FORMS)
        body = f"89{number + 1:010d}"
        gtin = body + str(gtin_check_digit(body))
        lines.append(",".join([
            registration, f'"{name}"', f'"{ingredients}"', "", rng.choice(_CLASSES), kind,
            "Việt Nam", "Công ty cổ phần dược phẩm", '"Khu công nghiệp, Việt Nam"', "36 tháng",
            "TCCS", "100/QĐ-QLD", form, unit, gtin]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return p50 * 1000, p99 * 1000, ordered[-1] * 1000


def _queries(drugs: list, rng: random.Random) -> list[str]:
    queries = []
    for _ in range(SEARCHES):
        drug = rng.choice(drugs)
        words = [w for w in tokens(drug.name) + tokens(drug.active_ingredients[0].name)
                 if w.isalpha() and len(w) >= 3]
        picked = rng.sample(words, min(len(words), 1 if rng.random() < 0.7 else 2))
        queries.append(" ".join(w[:rng.randint(3, min(8, len(w)))] for w in picked))
    return queries


def _identifiers(drugs: list, rng: random.Random) -> list[str]:
    identifiers = []
    for index in range(RESOLVES):
        drug = rng.choice(drugs)
        choice = index % 5
        if choice == 0:
            identifiers.append(drug.national_code)
        elif choice == 1:
            identifiers.append(" " + drug.registration_number.lower().replace("-", " - ") + " ")
        elif choice == 2:
            identifiers.append(drug.gtins[0])
        elif choice == 3:
            identifiers.append(drug.gtins[0].lstrip("0"))
        else:
            identifiers.append("VD-99" + str(index) + "-99" if index % 10 == 4 else drug.gtins[0])
    return identifiers


def _cold_start(store: CatalogStore) -> dict[str, Any]:
    """A starting process's load: ready (maps), then searchable (in the background)."""
    cache = CachedCatalog(store=store, refresh_seconds=5.0)
    cache.follow()
    started = time.perf_counter()
    cache.feed_reset()
    while not cache.ready():
        time.sleep(0.005)
    ready = time.perf_counter() - started
    cache.search("para", 1)  # waits for the search structures the applier is building
    searchable = time.perf_counter() - started
    cache.stop()
    return {"ready": ready, "searchable": searchable, "source": cache.last_load["source"],
            "products": cache.last_load["products"]}


def run() -> str:
    rng = random.Random(60_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "registry-60000.csv"
        write_registry(path, rng)
        size_mb = path.stat().st_size / 1e6
        server = EmbeddedDatabase(storage_path=":memory:", port=free_port(),
                                  log_path=str(Path(tmp) / "db.log"))
        server.start()
        try:
            with pymongo.MongoClient(server.uri) as client:
                database = client["bench_catalog"]
                store = CatalogStore.from_database(database)

                started = time.perf_counter()
                first = import_file(store, path, "dav-csv")
                import_seconds = time.perf_counter() - started
                started = time.perf_counter()
                second = import_file(store, path, "dav-csv")
                reimport_seconds = time.perf_counter() - started

                cold = _cold_start(store)
                writer = store.begin_write()  # an import at work: the documents are read
                from_documents = _cold_start(store)
                store.end_write(writer)

                cache = CachedCatalog(store=store, refresh_seconds=5.0)
                cache.follow()
                cache.feed_reset()
                assert cache.wait_for_version(store.version(), 120)
                drugs = list(cache.snapshot())
                changed = [dataclasses.replace(drug, status="recalled")
                           for drug in rng.sample(drugs, 1000)]
                started = time.perf_counter()
                for drug in changed:
                    cache.feed_event({"ns": {"coll": "drugs"}, "operationType": "replace",
                                      "documentKey": {"_id": drug.national_code},
                                      "fullDocument": drug.to_dict()})
                cache.feed_event({"ns": {"coll": "catalog_meta"}, "operationType": "update",
                                  "documentKey": {"_id": "catalog"},
                                  "fullDocument": {"version": store.version() + 1}})
                assert cache.wait_for_version(store.version() + 1, 120)
                apply_seconds = time.perf_counter() - started
                assert cache.get(changed[0].national_code).status == "recalled"
                assert cache.reloads == 1

                identifiers = _identifiers(drugs, rng)
                resolve_times = []
                for identifier in identifiers:
                    t0 = time.perf_counter()
                    with contextlib.suppress(CatalogError):
                        cache.resolve(identifier)
                    resolve_times.append(time.perf_counter() - t0)

                queries = _queries(drugs, rng)
                search_times, by_words, hits = [], {1: [], 2: []}, 0
                for query in queries:
                    t0 = time.perf_counter()
                    found = cache.search(query, 20)
                    elapsed = time.perf_counter() - t0
                    search_times.append(elapsed)
                    by_words[min(2, len(query.split()))].append(elapsed)
                    hits += bool(found)
        finally:
            server.stop()

    r50, r99, rmax = _percentiles(resolve_times)
    s50, s99, smax = _percentiles(search_times)
    one50, one99, _ = _percentiles(by_words[1])
    two50, two99, _ = _percentiles(by_words[2])
    return f"""## Drug catalog

Method: {METHOD}

| measure | figure | target |
|---|---|---|
| import of {PRODUCTS:,} products ({size_mb:.1f} MB dav-csv), empty catalog | {import_seconds:.1f} s ({first.added:,} added, {len(first.rejected)} rejected) | < 60 s |
| re-import of the same file | {reimport_seconds:.1f} s ({second.unchanged:,} unchanged) | |
| cold start from the snapshot: ready (identifier maps; `/readyz` waits for this) | **{cold["ready"]:.2f} s** ({cold["source"]}) | ≤ 3 s |
| cold start from the snapshot: search structures built too (background, after ready) | {cold["searchable"]:.2f} s | |
| cold start from the {from_documents["products"]:,} product documents (no snapshot, or an import running): ready | {from_documents["ready"]:.2f} s ({from_documents["source"]}) | |
| 1,000 changed products applied from change events (no reload) | {apply_seconds:.2f} s | |
| `resolve`, from the cache ({RESOLVES:,} calls) | p50 {r50 * 1000:.1f} µs, p99 {r99 * 1000:.1f} µs, max {rmax:.2f} ms | p99 < 1 ms |
| `search`, from the cache ({SEARCHES:,} queries, {hits:,} with results) | p50 {s50:.2f} ms, p99 {s99:.2f} ms, max {smax:.1f} ms | p99 < 20 ms |
| `search`, one-word queries ({len(by_words[1]):,}) | p50 {one50:.2f} ms, p99 {one99:.2f} ms | |
| `search`, two-word queries ({len(by_words[2]):,}) | p50 {two50:.2f} ms, p99 {two99:.2f} ms | |
"""
