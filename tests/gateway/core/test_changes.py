"""The change feed and the caches it keeps current (gateway/core/changes.py): changes made by
another process reach this one with no request, nothing read meanwhile is kept stale, and
without change streams the caches poll and say so."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pymongo
import pytest
from flask.testing import FlaskClient

from gateway.core.changes import LIVE, POLLING, ChangeFeed, DocumentCache
from gateway.web.context import services

WAIT = 30.0  # generous: only reached when something is broken


class Recorder:
    """A subscriber that remembers what it was told."""

    def __init__(self) -> None:
        self.changes: list[Mapping[str, Any]] = []
        self.resets = 0

    def feed_event(self, change: Mapping[str, Any]) -> None:
        self.changes.append(change)

    def feed_reset(self) -> None:
        self.resets += 1


@pytest.fixture
def feed(database: pymongo.database.Database) -> Iterator[ChangeFeed]:
    made = ChangeFeed(database, max_await_ms=200)
    yield made
    made.stop()


def test_a_subscriber_gets_its_collections_changes_inserts_with_whole_documents(
        feed: ChangeFeed, database) -> None:
    """An insert carries its document; an update its description and no document (the feed
    asks for no post-image: every process's stream would read the document of every update
    in the database, docs/performance.md)."""
    parties, other = Recorder(), Recorder()
    feed.subscribe("parties", parties)
    feed.subscribe("webhooks", other, match={"operationType": "delete"})
    feed.start()
    assert feed.wait_settled(WAIT) and feed.mode == LIVE and feed.live()
    assert parties.resets == 1  # a fresh stream: whatever was cached may be stale
    database["parties"].insert_one({"_id": "clinic-79001", "status": "active"})
    database["parties"].update_one({"_id": "clinic-79001"}, {"$set": {"status": "disabled"}})
    database["webhooks"].insert_one({"_id": "NT1"})  # filtered out on the server
    database["webhooks"].delete_one({"_id": "NT1"})
    database["drugs"].insert_one({"_id": "MT1"})  # nobody subscribed
    assert feed.wait_for(lambda: len(parties.changes) == 2 and other.changes, WAIT)
    inserted, updated = parties.changes
    assert inserted["fullDocument"] == {"_id": "clinic-79001", "status": "active"}
    assert updated["updateDescription"]["updatedFields"] == {"status": "disabled"}
    assert "fullDocument" not in updated and updated["documentKey"] == {"_id": "clinic-79001"}
    assert [c["operationType"] for c in other.changes] == ["delete"]


def test_a_feed_that_is_off_polls_and_says_so(database) -> None:
    feed = ChangeFeed(database, enabled=False)
    feed.start()
    assert feed.mode == POLLING and not feed.live() and feed.wait_settled(0)


def test_without_change_streams_the_feed_falls_back_to_polling(database, mongo_client) -> None:
    """A deployment without change streams (a standalone mongod answers 40573): the
    subscribers are reset once and the feed reports polling."""
    recorder = Recorder()
    feed = ChangeFeed(database, max_await_ms=200)
    feed.subscribe("parties", recorder)
    mongo_client.admin.command({"configureFailPoint": "failCommand", "mode": {"times": 1},
                                "data": {"failCommands": ["aggregate"], "errorCode": 40573}})
    try:
        feed.start()
        assert feed.wait_for(lambda: feed.mode == POLLING, WAIT)
    finally:
        mongo_client.admin.command({"configureFailPoint": "failCommand", "mode": "off"})
        feed.stop()
    assert recorder.resets == 1 and not feed.live()


# --- the document cache --------------------------------------------------------------------------

class FakeFeed:
    def __init__(self, *, live: bool = True, polling: bool = False) -> None:
        self.is_live, self.is_polling, self.session = live, polling, 1

    def live(self) -> bool:
        return self.is_live

    def polling(self) -> bool:
        return self.is_polling


def loader(values: dict[str, Any], reads: list[str]):
    def load(key: Any) -> Any:
        reads.append(key)
        return values.get(key)
    return load


def test_a_live_cache_reads_once_until_a_change_of_that_document() -> None:
    values, reads = {"a": {"v": 1}, "b": {"v": 2}}, []
    cache = DocumentCache(FakeFeed())  # type: ignore[arg-type]
    load = loader(values, reads)
    assert cache.get("a", load) == {"v": 1} and cache.get("a", load) == {"v": 1}
    assert cache.get("b", load) == {"v": 2} and reads == ["a", "b"]
    values["a"] = {"v": 3}
    cache.feed_event({"documentKey": {"_id": "a"}})
    assert cache.get("a", load) == {"v": 3} and cache.get("b", load) == {"v": 2}
    assert reads == ["a", "b", "a"]
    assert cache.get("missing", load) is None and cache.get("missing", load) is None
    assert reads[-2:] == ["missing", "missing"]  # misses are not kept
    cache.feed_reset()
    cache.get("b", load)
    assert reads[-1] == "b"


def test_a_value_read_while_its_change_arrives_is_not_kept() -> None:
    """The read began before the change was announced: what it got may be the old version."""
    cache = DocumentCache(FakeFeed())  # type: ignore[arg-type]
    reads: list[str] = []

    def slow_load(key: Any) -> Any:
        reads.append(key)
        cache.feed_event({"documentKey": {"_id": key}})  # announced while we read
        return {"v": "old"}

    assert cache.get("a", slow_load) == {"v": "old"}
    assert cache.get("a", lambda key: {"v": "new"}) == {"v": "new"}


def test_the_cache_reads_through_while_the_feed_is_not_live_and_expires_when_polling() -> None:
    feed = FakeFeed(live=False)
    now = [100.0]
    cache = DocumentCache(feed, ttl_seconds=1.0, clock=lambda: now[0])  # type: ignore[arg-type]
    reads: list[str] = []
    load = loader({"a": {"v": 1}}, reads)
    cache.get("a", load)
    cache.get("a", load)
    assert reads == ["a", "a"]  # reconnecting: nothing trusted
    feed.is_polling = True
    cache.get("a", load)
    cache.get("a", load)
    now[0] += 1.5
    cache.get("a", load)
    assert reads == ["a", "a", "a", "a"]  # kept for ttl_seconds, then read again
    feed.is_polling, feed.is_live = False, True
    feed.session = 2  # a new stream session: entries of the old one are not trusted
    cache.get("a", load)
    assert len(reads) == 5


# --- across processes: the gateway's caches --------------------------------------------------------

def test_disabling_a_party_reaches_another_process_with_no_request(make_app, make_party,
                                                                   client: FlaskClient) -> None:
    """Two apps (two processes' worth of services) on one database: the second caches the
    party, the first disables it; the second's cache drops it as soon as its feed delivers
    the change, and its next request is refused."""
    first, second = make_app(), make_app()
    clinic = make_party("clinic", "79001")
    headers = clinic.headers(client)
    other = second.test_client()
    assert other.get("/v2/prescriptions", headers=headers).status_code == 200
    cache = services(second).parties.cache
    assert cache is not None and clinic.client_id in cache._entries
    seen = services(second).feed.events
    with first.app_context():
        services(first).parties.set_status(clinic.client_id, "disabled")
    assert services(second).feed.wait_for(
        lambda: clinic.client_id not in cache._entries and services(second).feed.events > seen,
        WAIT)
    assert other.get("/v2/prescriptions", headers=headers).status_code == 401


def test_a_cached_party_costs_no_database_read(app, make_party, client: FlaskClient,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the feed has announced the party's creation, its requests read it from memory.
    (The announcement is asynchronous: arriving after the first request cached the party, it
    rightly drops the entry, so the test waits for it rather than racing it under load. It
    watches the cache's own handler: a subscriber of its own would reopen the stream, and a
    new stream session distrusts what was cached before it.)"""
    feed, cache = services(app).feed, services(app).parties.cache
    assert cache is not None
    announced: list[Any] = []
    handle = cache.feed_event

    def feed_event(change: Mapping[str, Any]) -> None:
        handle(change)
        announced.append(change["documentKey"]["_id"])

    monkeypatch.setattr(cache, "feed_event", feed_event)
    clinic = make_party("clinic", "79001")
    assert feed.wait_for(lambda: clinic.client_id in announced, WAIT)
    headers = clinic.headers(client)
    client.get("/v2/prescriptions", headers=headers)
    before = (cache.hits, cache.misses)
    for _ in range(3):
        assert client.get("/v2/prescriptions", headers=headers).status_code == 200
    assert (cache.hits - before[0], cache.misses - before[1]) == (3, 0)


def test_a_webhook_registered_elsewhere_is_seen_with_no_request(make_app) -> None:
    first, second = make_app(), make_app()
    store = services(second).webhooks
    assert store.get("NT0001") is None
    seen = services(second).feed.events
    services(first).webhooks.put("NT0001", url="https://nt0001.example/hook",
                                 events=["prescription.issued"])
    assert services(second).feed.wait_for(lambda: services(second).feed.events > seen, WAIT)
    assert store.get("NT0001")["url"] == "https://nt0001.example/hook"


def test_a_key_rotated_elsewhere_signs_here_with_no_wait(make_app) -> None:
    first, second = make_app(), make_app()
    with first.app_context(), second.app_context():
        old = services(second).signatures.signer().kid
        seen = services(second).feed.events
        new = services(first).signatures.key_store.rotate().kid
        assert services(second).feed.wait_for(lambda: services(second).feed.events > seen, WAIT)
        assert services(second).signatures.signer().kid == new != old


def test_readyz_says_how_caches_are_kept(client: FlaskClient, make_app) -> None:
    ready = client.get("/readyz").get_json()
    assert ready["caches"] == "change_streams" and ready["checks"]["catalog"] == "ok"
    polled = make_app(CHANGE_STREAMS="off").test_client().get("/readyz")
    assert polled.status_code == 200 and polled.get_json()["caches"] == "polling"


def test_readyz_is_503_until_the_catalog_is_loaded(make_app) -> None:
    app = make_app()
    catalog = services(app).catalog.catalog
    index, catalog._index = catalog._index, None  # as a starting process before its load
    try:
        answer = app.test_client().get("/readyz")
        assert answer.status_code == 503 and answer.get_json()["checks"]["catalog"] == "failing"
    finally:
        catalog._index = index
    assert app.test_client().get("/readyz").status_code == 200


def test_stopping_a_feed_ends_its_thread(database) -> None:
    feed = ChangeFeed(database, max_await_ms=100)
    feed.start()
    assert feed.wait_settled(WAIT)
    thread = feed._thread
    assert isinstance(thread, threading.Thread)
    feed.stop(timeout=WAIT)
    assert not thread.is_alive()
