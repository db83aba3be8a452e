"""GET /v2/drugs/{identifier}, GET /v2/drugs?q=, the catalog import command and the demo
bootstrap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from drug_catalog.demo import demo_catalog_path, demo_drugs
from drug_catalog.identifiers import gtin_check_digit
from drug_catalog.importer import import_file
from gateway.cli import main
from gateway.container import bootstrap
from gateway.web.context import services
from tests.support.cli import cli_env
from tests.support.environment import DAV_SAMPLE


@pytest.fixture
def loaded(app: Flask) -> Flask:
    import_file(services(app).catalog.store, demo_catalog_path())
    services(app).catalog.catalog.refresh()  # everything imported is applied
    return app


@pytest.fixture
def headers(auth_headers) -> dict[str, str]:
    return auth_headers("pharmacy", "NT001")


def test_each_identifier_kind_answers_the_same_product(loaded: Flask, client: FlaskClient,
                                                       headers: dict[str, str]) -> None:
    drug = next(d for d in demo_drugs() if d.name == "Hacemol 500")
    identifiers = [drug.national_code, drug.registration_number.lower(), drug.gtins[0],
                   drug.gtins[0][6:], drug.gtins[1], drug.gtins[1][1:]]
    answers = [client.get(f"/v2/drugs/{identifier}", headers=headers) for identifier in identifiers]
    assert [answer.status_code for answer in answers] == [200] * len(identifiers)
    assert all(answer.get_json() == drug.to_dict() for answer in answers)


def test_every_role_may_read_the_catalog(loaded: Flask, client: FlaskClient, auth_headers) -> None:
    for role, code, facility in (("clinic", "79001", None), ("doctor", "BS01", "79001"),
                                 ("regulator", "SYT79", None), ("admin", "ADM", None)):
        answer = client.get("/v2/drugs/VN-21939-19", headers=auth_headers(role, code, facility))
        assert answer.status_code == 200, role
    assert client.get("/v2/drugs/VN-21939-19").status_code == 401
    assert client.get("/v2/drugs?q=para").status_code == 401


def test_a_bad_check_digit_is_422_naming_the_digit(loaded: Flask, client: FlaskClient,
                                                   headers: dict[str, str]) -> None:
    answer = client.get("/v2/drugs/8930000000018", headers=headers)
    assert answer.status_code == 422
    assert answer.mimetype == "application/problem+json"
    problem = answer.get_json()
    assert problem["errors"][0]["code"] == "drug.gtin_check_digit"
    assert "phải là 9" in problem["errors"][0]["message"]
    assert problem["expected_check_digit"] == 9
    assert "9" in problem["detail"]


def test_an_unknown_identifier_is_404(loaded: Flask, client: FlaskClient,
                                      headers: dict[str, str]) -> None:
    unused_gtin = "893999999999" + str(gtin_check_digit("893999999999"))
    for identifier in (unused_gtin, "VD-99999-99", "khong-co"):
        answer = client.get(f"/v2/drugs/{identifier}", headers=headers)
        assert answer.status_code == 404, identifier
        assert answer.get_json()["errors"][0]["code"] == "drug.unknown"


def test_search_is_diacritics_insensitive_and_best_first(loaded: Flask, client: FlaskClient,
                                                         headers: dict[str, str]) -> None:
    answer = client.get("/v2/drugs", query_string={"q": "thuoc ho"}, headers=headers)
    assert answer.status_code == 200
    assert [item["name"] for item in answer.get_json()["items"]] == ["Thuốc ho Bảo Thanh"]
    answer = client.get("/v2/drugs", query_string={"q": "PARA", "limit": 3}, headers=headers)
    items = answer.get_json()["items"]
    assert len(items) == 3 and items[0]["name"].startswith("Paracetamol")


@pytest.mark.parametrize("query", [{}, {"q": ""}, {"q": "para", "limit": 0},
                                   {"q": "para", "limit": 101}, {"q": "para", "limit": "x"}])
def test_bad_search_arguments_are_422(loaded: Flask, client: FlaskClient,
                                      headers: dict[str, str], query: dict) -> None:
    answer = client.get("/v2/drugs", query_string=query, headers=headers)
    assert answer.status_code == 422
    assert answer.get_json()["errors"][0]["code"] == "request.invalid"


def test_the_endpoints_are_documented(app: Flask, client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    assert "/v2/drugs/{identifier}" in spec["paths"]
    assert "q" in [p["name"] for p in spec["paths"]["/v2/drugs"]["get"]["parameters"]]


def test_the_catalog_service_is_the_cached_catalog(loaded: Flask) -> None:
    found = services(loaded)
    catalog = found.catalog.catalog
    # validation and dispensing share the cache
    assert found.submission.catalog is catalog and found.dispensing.catalog is catalog
    assert catalog.refresh_seconds == services(loaded).settings.catalog_refresh_seconds
    assert catalog.resolve("VN-21939-19").name == "Bucain spinal"


def test_cli_import_prints_counts_and_rejected_lines(app_config: dict, tmp_path: Path) -> None:
    runner = CliRunner()
    env = cli_env(app_config)
    first = runner.invoke(main, ["catalog", "import", str(DAV_SAMPLE), "--format", "dav-csv"],
                          env=env)
    assert first.exit_code == 0, first.output
    assert "added 40, updated 0, unchanged 0, rejected 0" in first.output
    second = runner.invoke(main, ["catalog", "import", str(DAV_SAMPLE)], env=env)
    assert "added 0, updated 0, unchanged 40, rejected 0" in second.output
    bad = tmp_path / "bad.ndjson"
    bad.write_text('{"national_code": "X"}\nnot json\n', encoding="utf-8")
    rejected = runner.invoke(main, ["catalog", "import", str(bad)], env=env)
    assert rejected.exit_code == 1
    assert "rejected 2" in rejected.output
    assert "line 1: registration_number: required" in rejected.output
    assert "line 2: not JSON" in rejected.output
    unknown = runner.invoke(main, ["catalog", "import", str(bad), "--format", "xlsx"], env=env)
    assert unknown.exit_code == 2


def test_the_demo_catalog_is_loaded_only_into_an_empty_catalog_in_development(
        app: Flask) -> None:
    service = services(app).catalog
    service.env = "production"
    assert service.load_demo_if_empty() is None
    assert service.store.count() == 0
    service.env = "development"
    assert service.load_demo_if_empty().added == len(demo_drugs())
    assert service.store.count() == len(demo_drugs())
    version = service.store.version()
    assert service.load_demo_if_empty() is None
    assert service.store.version() == version


def test_the_run_bootstrap_loads_the_demo_catalog(make_app) -> None:
    found = services(make_app(ENV="development"))
    assert any("demo catalog" in said for said in bootstrap(found))
    assert found.catalog.store.count() == len(demo_drugs())


def test_an_identifier_naming_two_products_is_422_listing_them(
        app: Flask, client: FlaskClient, headers: dict[str, str], tmp_path: Path) -> None:
    from tests.support.drugs import drug_record

    path = tmp_path / "two.ndjson"
    path.write_text("\n".join(json.dumps(record) for record in (
        drug_record(national_code="A1"), drug_record(national_code="A2", gtins=[]))) + "\n",
        encoding="utf-8")
    import_file(services(app).catalog.store, path)
    services(app).catalog.catalog.refresh()
    answer = client.get("/v2/drugs/VD-32243-19", headers=headers)
    assert answer.status_code == 422
    problem = answer.get_json()
    assert problem["errors"][0]["code"] == "drug.ambiguous"
    assert problem["national_codes"] == ["A1", "A2"]
    assert client.get("/v2/drugs/a2", headers=headers).get_json()["national_code"] == "A2"


def test_an_unreachable_catalog_is_503(app: Flask, client: FlaskClient,
                                       headers: dict[str, str], mongo_server) -> None:
    import pymongo

    from drug_catalog.cache import CachedCatalog
    from drug_catalog.store import CatalogStore

    closed = pymongo.MongoClient(mongo_server.uri)
    closed.close()
    services(app).catalog.catalog = CachedCatalog(
        store=CatalogStore.from_database(closed["gone"]), refresh_seconds=5)
    answer = client.get("/v2/drugs/VN-21939-19", headers=headers)
    assert answer.status_code == 503
    assert "Danh mục thuốc" in answer.get_json()["detail"]


# --- kept current across processes (gateway/core/changes.py, drug_catalog/cache.py) ----------------

def test_an_import_reaches_another_process_with_no_request_and_no_reload(make_app) -> None:
    first, second = make_app(), make_app()
    catalog = services(second).catalog.catalog
    assert catalog.following and catalog.ready() and len(catalog) == 0
    loads = catalog.reloads
    services(first).catalog.import_catalog(str(demo_catalog_path()), "ndjson")
    version = services(first).catalog.store.version()
    assert catalog.wait_for_version(version, 60)  # the applier got there: nobody asked
    assert len(catalog.snapshot()) == len(demo_drugs())
    assert catalog.reloads == loads and catalog.applied_changes >= len(demo_drugs())
    assert catalog.resolve("VN-21939-19").name == "Bucain spinal"


def test_a_starting_process_loads_the_snapshot_before_it_is_ready(loaded: Flask, make_app) -> None:
    started = make_app()
    catalog = services(started).catalog.catalog
    assert catalog.last_load["source"] == "snapshot"
    assert catalog.last_load["products"] == len(demo_drugs())
    answer = started.test_client().get("/readyz")
    assert answer.status_code == 200 and answer.get_json()["checks"]["catalog"] == "ok"


def test_without_change_streams_the_catalog_polls_in_the_background(loaded: Flask,
                                                                    make_app) -> None:
    polled = make_app(CHANGE_STREAMS="off")
    catalog = services(polled).catalog.catalog
    assert not catalog.following and catalog._poller is not None and catalog._poller.is_alive()
    assert catalog.refresh().resolve("VN-21939-19").name == "Bucain spinal"
    assert polled.test_client().get("/readyz").get_json()["caches"] == "polling"
