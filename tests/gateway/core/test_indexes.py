"""Start-up drops the indexes of earlier versions where they exist and creates the declared
ones (idempotent, from any number of processes); the outbox's query rides the partial index
that replaced a full one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.database import Database
from pymongo.monitoring import CommandListener

from gateway import create_app
from gateway.container import INDEXES, Services
from gateway.core.db import ensure_indexes
from gateway.prescriptions.outbox_store import OutboxStore
from gateway.prescriptions.store import PRESCRIPTIONS, RETIRED_INDEXES, PrescriptionStore
from gateway.web.context import services

# What earlier versions created on prescriptions (and this one no longer wants).
EARLIER = [
    IndexModel([("facility", ASCENDING), ("status", ASCENDING), ("issued_at", DESCENDING),
                ("_id", DESCENDING)], name="facility_status_issued"),
    IndexModel([("patient", ASCENDING), ("issued_at", DESCENDING), ("_id", DESCENDING)],
               name="patient_issued"),
    IndexModel([("status", ASCENDING), ("issued_at", DESCENDING), ("_id", DESCENDING)],
               name="status_issued"),
    IndexModel([("forward_open", ASCENDING), ("forward_due_at", ASCENDING)], name="forward_due"),
    IndexModel([("dispenses.pharmacy", ASCENDING), ("issued_at", DESCENDING),
                ("_id", DESCENDING)], name="pharmacy_dispenses"),
]


def _declared(collection: str) -> set[str]:
    return {model.document["name"] for declaration in INDEXES
            for model in declaration.get(collection, ())}


def test_start_up_drops_the_retired_indexes_and_creates_the_declared_ones(
        database: Database, app_config: dict[str, Any]) -> None:
    database[PRESCRIPTIONS].create_indexes(EARLIER)
    database[PRESCRIPTIONS].insert_one({"_id": "RX1", "forward_open": True})
    assert {"patient_issued", "forward_due"} <= set(database[PRESCRIPTIONS].index_information())
    for _ in range(2):  # a second start finds nothing to drop and everything there
        app = create_app(app_config)
        try:
            assert services(app).wait_ready()
            present = database[PRESCRIPTIONS].index_information()
            assert set(present) == _declared(PRESCRIPTIONS) | {"_id_"}
            assert not set(present) & set(RETIRED_INDEXES[PRESCRIPTIONS])
            assert dict(present["forward_open_due"]["partialFilterExpression"]) == {
                "forward_open": True}
            assert dict(present["dispensing_pharmacy"]["partialFilterExpression"]) == {
                "dispenses.pharmacy": {"$gt": ""}}
        finally:
            services(app).close()
    assert database[PRESCRIPTIONS].find_one({"_id": "RX1"}) == {"_id": "RX1",
                                                                "forward_open": True}


def test_processes_starting_together_all_get_the_indexes(database: Database) -> None:
    database[PRESCRIPTIONS].create_indexes(EARLIER)
    failures: list[BaseException] = []

    def start() -> None:
        try:
            ensure_indexes(database, INDEXES, [RETIRED_INDEXES])
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert set(database[PRESCRIPTIONS].index_information()) == _declared(PRESCRIPTIONS) | {"_id_"}


class _Finds(CommandListener):
    def __init__(self) -> None:
        self.commands: list[dict[str, Any]] = []

    def started(self, event: Any) -> None:
        if event.command_name == "find":
            self.commands.append(dict(event.command))

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass

    def plan_of_the_find(self, database: Database) -> str:
        """The server's winning plan for the one find of prescriptions seen, as text."""
        [command] = [c for c in self.commands if c["find"] == PRESCRIPTIONS]
        query = {key: command[key] for key in ("find", "filter", "sort", "limit")}
        return str(database.command("explain", query)["queryPlanner"]["winningPlan"])


@pytest.fixture
def counted(app_config: dict[str, Any]) -> Iterator[tuple[Services, _Finds]]:
    """A ready app's services and the finds its clients send."""
    finds = _Finds()
    app = create_app(app_config, listeners=[finds])
    try:
        assert services(app).wait_ready()
        yield services(app), finds
    finally:
        services(app).close()


def test_the_forwarders_look_for_work_rides_the_partial_index(
        counted: tuple[Services, _Finds]) -> None:
    found, finds = counted
    database = found.storage.database
    database[PRESCRIPTIONS].insert_many([{"_id": f"RX{n}", "forward_open": n % 2 == 0,
                                          "forward_due_at": None} for n in range(6)])
    finds.commands.clear()
    OutboxStore(database, cipher=found.cipher).upcoming(10)
    plan = finds.plan_of_the_find(database)
    assert "forward_open_due" in plan and "COLLSCAN" not in plan


def test_a_pharmacys_dispense_history_rides_the_partial_index(
        counted: tuple[Services, _Finds]) -> None:
    """Only dispensed prescriptions are in ``dispensing_pharmacy``; the console's query for a
    pharmacy's history still finds its prescriptions through it."""
    found, finds = counted
    database = found.storage.database
    database[PRESCRIPTIONS].insert_many(
        [{"_id": f"RX{n}", "issued_at": n, "dispenses": [{"pharmacy": f"NT{n % 2}"}]}
         for n in range(4)] + [{"_id": "RX9", "issued_at": 9, "dispenses": []}])
    finds.commands.clear()
    listed = PrescriptionStore(database, cipher=found.cipher).page(limit=10, dispensed_by="NT1")
    assert [doc["_id"] for doc in listed] == ["RX3", "RX1"]
    plan = finds.plan_of_the_find(database)
    assert "dispensing_pharmacy" in plan and "COLLSCAN" not in plan
