"""The audit sequencer's removal of sequenced events from their prescriptions rewrites each
prescription once (a rewrite is the embedded database's dearest operation:
docs/performance.md), and never removes an event pushed after the sequencer read."""

from __future__ import annotations

import time
from typing import Any

import pymongo
from pymongo.database import Database
from pymongo.monitoring import CommandListener

from gateway.prescriptions.audit_outbox_store import PrescriptionAuditOutbox
from gateway.prescriptions.store import PRESCRIPTIONS


def _event(code: str, n: int) -> dict[str, Any]:
    return {"event_id": f"{code}-e{n}", "action": "prescription.viewed",
            "object": {"type": "prescription", "id": code}}


def _writes_until_marker(stream: Any) -> dict[str, int]:
    """Update events per document seen by ``stream`` up to the marker's insert."""
    writes: dict[str, int] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        change = stream.try_next()
        if change is None:
            continue
        key = change["documentKey"]["_id"]
        if change["operationType"] == "insert" and key == "marker":
            return writes
        if change["operationType"] == "update":
            writes[key] = writes.get(key, 0) + 1
    raise AssertionError("the marker never arrived")


def test_each_prescription_is_rewritten_once_and_a_later_event_stays(database: Database) -> None:
    prescriptions = database[PRESCRIPTIONS]
    codes = [f"RX{n}" for n in range(60)]  # more than one chunk of 50
    prescriptions.insert_many([{"_id": code, "audit_pending": [_event(code, 0), _event(code, 1)],
                                "audit_open": True} for code in codes])
    outbox = PrescriptionAuditOutbox(database)
    read = outbox.pending(1000)
    assert len(read) == 120
    with prescriptions.watch(max_await_time_ms=100) as stream:
        outbox.record("RX7", [_event("RX7", 2)])  # arrives after the sequencer's read
        outbox.acknowledge(read)
        prescriptions.insert_one({"_id": "marker"})
        writes = _writes_until_marker(stream)
    assert writes == {**dict.fromkeys(codes, 1), "RX7": 2}  # the late push, one removal
    for code in codes:
        doc = prescriptions.find_one({"_id": code})
        if code == "RX7":
            assert doc["audit_pending"] == [_event("RX7", 2)] and doc["audit_open"] is True
        else:
            assert doc["audit_pending"] == [] and doc["audit_open"] is False
    assert outbox.pending(1000) == [_event("RX7", 2)]


class _Updates(CommandListener):
    def __init__(self) -> None:
        self.count = 0

    def started(self, event: Any) -> None:
        self.count += event.command_name == "update"

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


def test_a_chunk_emptied_by_the_first_update_takes_no_second(database: Database,
                                                             mongo_server: Any) -> None:
    codes = [f"RX{n}" for n in range(60)]  # two chunks
    database[PRESCRIPTIONS].insert_many([{"_id": code, "audit_pending": [_event(code, 0)],
                                          "audit_open": True} for code in codes])
    updates = _Updates()
    client: pymongo.MongoClient = pymongo.MongoClient(mongo_server.uri, event_listeners=[updates])
    try:
        outbox = PrescriptionAuditOutbox(client[database.name])
        outbox.acknowledge(outbox.pending(1000))
    finally:
        client.close()
    assert updates.count == 2
    assert database[PRESCRIPTIONS].count_documents({"audit_open": True}) == 0


def test_events_of_a_prescription_read_in_part_are_removed_and_the_rest_stays(
        database: Database) -> None:
    database[PRESCRIPTIONS].insert_one({"_id": "RX1", "audit_open": True,
                                        "audit_pending": [_event("RX1", 0), _event("RX1", 1)]})
    outbox = PrescriptionAuditOutbox(database)
    outbox.acknowledge([_event("RX1", 0)])
    doc = database[PRESCRIPTIONS].find_one({"_id": "RX1"})
    assert doc["audit_pending"] == [_event("RX1", 1)] and doc["audit_open"] is True
    outbox.acknowledge([_event("RX1", 1)])
    doc = database[PRESCRIPTIONS].find_one({"_id": "RX1"})
    assert doc["audit_pending"] == [] and doc["audit_open"] is False
