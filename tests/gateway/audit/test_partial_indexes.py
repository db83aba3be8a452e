"""Queries on the audit log's partially indexed fields name the indexes' filter, so that mongod
can use those indexes (it uses a partial index only for a query that implies the index's
filter, and does not infer a ``$type`` from an equality)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from gateway.audit import store
from tests.support import audit


def partial_filters() -> dict[str, Any]:
    """Field -> the filter of its partial index, for every partial index of ``audit_events``."""
    found: dict[str, Any] = {}
    for index in store.INDEXES[store.EVENTS]:
        partial = index.document.get("partialFilterExpression")
        if partial:
            found.update(partial)
    return found


def test_every_partial_index_of_the_log_is_on_a_string_field() -> None:
    assert partial_filters() == {"event_id": store.STRING, "actor.user": store.STRING,
                                 "patient_hash": store.STRING}


def test_searches_by_person_and_by_user_imply_their_index_filter() -> None:
    query = store.event_filter(user="thanh.tra", patient_hash="ab" * 32)
    for field in ("actor.user", "patient_hash"):
        clause = query[field]
        assert {key: clause[key] for key in partial_filters()[field]} == partial_filters()[field]
    assert query["actor.user"]["$eq"] == "thanh.tra"


def test_the_sequencer_asks_for_an_event_already_logged_through_the_index(
        app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sequencer that died after storing an event and before removing it from the queue,
    long enough ago that the event is not at the end of the log the next sequencer reads by
    number: that one's insert is refused, and its read of the event by id names the type."""
    import pymongo

    with app.app_context():
        database = audit.get_db()
        audit.record("prescription.viewed", object_type="prescription",
                     object_id="79001ABCD000-c")
        [queued] = [doc["event"] for doc in database[audit.QUEUE].find()]
        database[store.EVENTS].insert_one({**queued, "_id": 0})
        filters: list[dict[str, Any]] = []

        class Filters(pymongo.monitoring.CommandListener):
            def started(self, event: Any) -> None:
                if event.command_name == "find" and event.command["find"] == store.EVENTS:
                    filters.append(event.command.get("filter", {}))

            def succeeded(self, event: Any) -> None:
                pass

            def failed(self, event: Any) -> None:
                pass

        host, port = database.client.address
        client: pymongo.MongoClient = pymongo.MongoClient(host, port, tz_aware=True,
                                                          event_listeners=[Filters()])
        try:
            other = client[database.name]
            monkeypatch.setattr(store, "RACE_WINDOW", 2)
            assert store.sequence(other, audit.sources(other), limit=1, start=5) == []
        finally:
            client.close()
        assert database[audit.QUEUE].count_documents({}) == 0
    by_id = [read["event_id"] for read in filters if "event_id" in read]
    assert by_id == [{"$eq": queued["event_id"], **store.STRING}]
