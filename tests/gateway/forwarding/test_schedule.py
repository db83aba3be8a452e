"""When the forwarder looks for work (gateway/forwarding/schedule.py): new work is pushed by
the change feed, later work is slept until, and nothing is polled while nothing is due; an
unconfigured registry's deliveries are parked, not retried, until a registry is configured.

Operations are counted with pymongo's command monitoring (deterministic); the tests wait on
the forwarder's and the feed's own events, never on the clock."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from gateway import create_app
from gateway.container import build_forwarder
from gateway.forwarding.registry import UnconfiguredRegistry
from gateway.forwarding.schedule import Schedule, parse_partition
from gateway.web.context import services
from tests.support.commands import Commands
from tests.support.forwarding import (
    FACILITY,
    FAST_FORWARDING,
    REGISTRY_PASSWORD,
    deliveries_of,
    dispense,
    insert_prescriptions,
    running,
    states,
    wait_until,
)

WAIT = 60.0


@pytest.fixture
def commands() -> Commands:
    return Commands()


def counted_app(app_config: dict[str, Any], commands: Commands, **overrides: Any) -> Flask:
    app = create_app({**app_config, **FAST_FORWARDING, **overrides}, listeners=[commands])
    assert services(app).wait_ready()
    return app


@pytest.fixture
def unconfigured(app_config: dict[str, Any], commands: Commands) -> Iterator[Flask]:
    """A development gateway without ERX_REGISTRY_BASE_URL."""
    app = counted_app(app_config, commands, REGISTRY_BASE_URL="")
    yield app
    services(app).close()


@pytest.fixture
def configured(app_config: dict[str, Any], commands: Commands, registry) -> Iterator[Flask]:
    app = counted_app(app_config, commands, REGISTRY_BASE_URL=registry.url,
                      REGISTRY_FACILITY_CODE=FACILITY, REGISTRY_PASSWORD=REGISTRY_PASSWORD)
    yield app
    services(app).close()


def test_with_nothing_due_the_forwarder_looks_once_then_waits_for_an_event(
        configured: Flask, commands: Commands) -> None:
    forwarder = build_forwarder(services(configured))
    schedule = forwarder.schedule
    with commands.on_this_thread() as first:
        assert schedule.next() is None
    assert first == [("find", "prescriptions")] and schedule.looks == 1
    assert schedule.sleeping_forever()  # no due time: it would wait for the feed, unbounded
    with commands.on_this_thread() as later:
        for _ in range(100):  # however often the loop comes round
            assert schedule.next() is None
    assert later == [] and schedule.looks == 1


def test_an_unconfigured_registry_parks_deliveries_and_the_forwarder_goes_quiet(
        unconfigured: Flask, commands: Commands) -> None:
    database = services(unconfigured).storage.database
    codes = insert_prescriptions(database, 30)
    forwarder = build_forwarder(services(unconfigured))
    assert isinstance(forwarder.registry, UnconfiguredRegistry) and forwarder.parked
    with running(forwarder):
        wait_until(lambda: database["prescriptions"].count_documents(
            {"forward_open": False}) == 30, message="every delivery parked")
        wait_until(forwarder.schedule.sleeping_forever, message="the forwarder asleep")
        with commands.everywhere() as quiet:
            # Writes elsewhere (other collections) wake the feed on the embedded database;
            # the forwarder itself neither looks nor claims anything.
            looks = forwarder.schedule.looks
            for n in range(5):
                database["unrelated"].insert_one({"n": n})
            services(unconfigured).feed.wait_for(lambda: True, 0)
        assert forwarder.schedule.looks == looks and forwarder.schedule.sleeping_forever()
    assert not [op for op in quiet if op[1] == "prescriptions"], quiet
    for code in codes:
        [entry] = deliveries_of(database, code)
        assert entry["state"] == "pending" and entry["next_attempt_at"] is None
        assert entry["attempts"] == 0 and entry["last_error"] == UnconfiguredRegistry.REASON
    # Each was claimed and released once: two writes, and no backoff churn after.
    updates = [op for op in commands.seen if op[1:] == ("update", "prescriptions")]
    assert len(updates) == 60


def test_a_configured_forwarder_delivers_what_waited_for_the_registry(
        unconfigured: Flask, app_config: dict[str, Any], commands: Commands, registry) -> None:
    database = services(unconfigured).storage.database
    codes = insert_prescriptions(database, 5)
    build_forwarder(services(unconfigured)).run_until_idle()
    assert states(database) == {"pending": 5}
    app = counted_app(app_config, commands, REGISTRY_BASE_URL=registry.url,
                      REGISTRY_FACILITY_CODE=FACILITY, REGISTRY_PASSWORD=REGISTRY_PASSWORD)
    try:
        forwarder = build_forwarder(services(app))
        assert forwarder.unpark() == 5  # what run() does first
        assert forwarder.run_until_idle() == 5
    finally:
        services(app).close()
    assert states(database) == {"delivered": 5} and set(registry.prescriptions) == set(codes)


def test_new_work_is_pushed_by_the_feed_without_a_query(configured: Flask, registry) -> None:
    database = services(configured).storage.database
    forwarder = build_forwarder(services(configured))
    with running(forwarder):
        wait_until(forwarder.schedule.sleeping_forever, message="the forwarder asleep")
        looks = forwarder.schedule.looks
        [code] = insert_prescriptions(database, 1)
        wait_until(lambda: states(database) == {"delivered": 1}, timeout=WAIT,
                   message="delivered")
        assert forwarder.schedule.looks == looks  # it came with the change event
    assert code in registry.prescriptions


def test_a_submitted_prescription_reaches_the_registry_through_the_feed(
        configured: Flask, registry, demo_catalog_into, make_party) -> None:
    """Regression: the document of a change event has its patient fields encrypted (patient
    data at rest); the forwarder sent it as it was and every registry send failed."""
    from tests.support.prescriptions import prescription

    demo_catalog_into(configured)
    client = configured.test_client()
    headers = make_party("doctor", "BS1", "79001").headers(client)
    forwarder = build_forwarder(services(configured))
    with running(forwarder):
        wait_until(forwarder.schedule.sleeping_forever, message="the forwarder asleep")
        looks = forwarder.schedule.looks
        answer = client.post("/v2/prescriptions", json=prescription(), headers=headers)
        assert answer.status_code == 201, answer.get_json()
        code = answer.get_json()["ma_don_thuoc"]
        wait_until(lambda: code in registry.prescriptions, timeout=WAIT, message="delivered")
        assert forwarder.schedule.looks == looks  # through the feed
    assert registry.prescriptions[code]["ho_ten_benh_nhan"] == "Nguyễn Văn An"


def test_work_queued_while_the_forwarder_holds_a_prescription_is_sent_after_it(
        configured: Flask, registry, demo_catalog_into) -> None:
    """A dispense recorded while the forwarder is sending the prescription is announced with
    the forwarder's own lease in the document: it is sent once the forwarder lets go."""
    demo_catalog_into(configured)
    database = services(configured).storage.database
    forwarder = build_forwarder(services(configured))
    hold = registry.hold_sends()
    try:
        with running(forwarder):
            [code] = insert_prescriptions(database, 1)
            assert hold.arrived.wait(WAIT)  # the forwarder holds it, mid-send
            dispense(configured, code, pharmacy="NT0001", ma_hoa_don="HD1")
            hold.release()
            wait_until(lambda: states(database) == {"delivered": 2}, timeout=WAIT,
                       message="the dispense report sent after the prescription")
    finally:
        hold.release()
    assert len(registry.dispenses) == 1


def test_a_dispense_announced_without_its_document_is_read_and_sent_without_a_look(
        configured: Flask, registry, demo_catalog_into) -> None:
    """The feed's update events carry no document: the forwarder reads the dispensed
    prescription by its code (one query) and sends the report."""
    demo_catalog_into(configured)
    database = services(configured).storage.database
    forwarder = build_forwarder(services(configured))
    reads: list[list[str]] = []
    snapshots = forwarder.schedule.outbox.snapshots
    forwarder.schedule.outbox.snapshots = lambda codes: reads.append(codes) or snapshots(codes)  # type: ignore[method-assign]
    with running(forwarder):
        [code] = insert_prescriptions(database, 1)
        wait_until(lambda: states(database) == {"delivered": 1}, timeout=WAIT,
                   message="the prescription delivered")
        assert reads == []  # an insert's event carries its document
        dispense(configured, code, pharmacy="NT0001", ma_hoa_don="HD1")
        wait_until(lambda: states(database) == {"delivered": 2}, timeout=WAIT,
                   message="the dispense report sent")
    assert reads == [[code]] and len(registry.dispenses) == 1


def test_a_retry_is_slept_until_not_polled(configured: Flask, registry) -> None:
    database = services(configured).storage.database
    registry.status = 503
    forwarder = build_forwarder(services(configured))
    done = threading.Event()
    original = forwarder.process

    def process(doc: dict, *, fresh: bool = False) -> bool:
        result = original(doc, fresh=fresh)
        if registry.calls and registry.status == 503:
            registry.status = None  # the second attempt succeeds
            done.set()
        return result

    forwarder.process = process  # type: ignore[method-assign]
    with running(forwarder):
        insert_prescriptions(database, 1)
        assert done.wait(WAIT)
        wait_until(lambda: states(database) == {"delivered": 1}, timeout=WAIT,
                   message="delivered after its backoff")
    [entry] = deliveries_of(database, database["prescriptions"].find_one()["_id"])
    assert entry["attempts"] == 2


def test_partitions_split_the_codes_and_are_checked() -> None:
    codes = [f"79001{n:07d}-c" for n in range(400)]
    halves = [Schedule(None, owner="x", lease=None, batch=1, poll_seconds=1,  # type: ignore[arg-type]
                       partition=(k, 2), clock=None, rng=None) for k in (1, 2)]  # type: ignore[arg-type]
    mine = [[code for code in codes if half.mine(code)] for half in halves]
    assert sorted(mine[0] + mine[1]) == sorted(codes) and not set(mine[0]) & set(mine[1])
    assert 120 < len(mine[0]) < 280
    assert parse_partition(" 2/3 ") == (2, 3)
    for bad in ("0/2", "3/2", "1", "a/b", "1/0"):
        with pytest.raises(ValueError):
            parse_partition(bad)


class NoOutbox:
    def __init__(self) -> None:
        self.looks = 0
        self.reads: list[list[str]] = []

    def upcoming(self, limit: int) -> list:
        self.looks += 1
        return []

    def snapshots(self, codes: list[str]) -> list:
        self.reads.append(codes)
        now = datetime(2026, 12, 1, tzinfo=UTC)
        return [{"_id": code, "forward_open": True, "forward_due_at": now} for code in codes]


def schedule_for_units() -> Schedule:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    return Schedule(NoOutbox(), owner="me", lease=timedelta(seconds=60), batch=10,  # type: ignore[arg-type]
                    poll_seconds=1.0, live=lambda: True, clock=lambda: now,
                    rng=random.Random(1))


def change_of(code: str, *, owner: str | None = None) -> dict:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    return {"fullDocument": {"_id": code, "forward_open": True, "forward_due_at": now,
                             "forward_lease_owner": owner,
                             "forward_lease_until": now + timedelta(seconds=30) if owner else None}}


def test_news_of_a_prescription_being_worked_on_is_kept_for_after_it() -> None:
    """Regressions (found by `make demo`, a dispense report or a cancellation never sent): a
    change announced while this forwarder works on the prescription, either as a document
    showing its own lease or as one taken before its claim, made it look once it let go of
    the prescription, or never."""
    schedule = schedule_for_units()
    assert schedule.next() is None and schedule.sleeping_forever()  # one look, nothing due
    schedule.feed_event(change_of("A"))
    doc, fresh = schedule.next()
    assert doc["_id"] == "A" and fresh
    schedule.feed_event(change_of("A"))  # a dispense, read before the claim: same code
    schedule.feed_event(change_of("A", owner="me"))  # another, read while it is claimed
    assert schedule.next() is None  # not worked on twice at once
    schedule.released("A")
    assert not schedule.sleeping_forever()  # it looks again now
    assert schedule.next() is None and schedule.outbox.looks == 2


def test_news_read_under_a_lease_already_released_makes_it_look_at_once() -> None:
    schedule = schedule_for_units()
    assert schedule.next() is None and schedule.sleeping_forever()
    schedule.feed_event(change_of("B", owner="me"))  # shows our lease, but we let go since
    assert not schedule.sleeping_forever()
    assert schedule.next() is None and schedule.outbox.looks == 2


class ListOutbox:
    """Open prescriptions in due order; ``take`` closes one (what processing does)."""

    def __init__(self, docs: list[dict]) -> None:
        self.docs = docs
        self.looks = 0

    def upcoming(self, limit: int) -> list[dict]:
        self.looks += 1
        return [dict(doc) for doc in self.docs[:limit]]

    def take(self, code: str) -> None:
        self.docs = [doc for doc in self.docs if doc["_id"] != code]


def test_a_backlog_bigger_than_a_batch_is_taken_whatever_its_partition() -> None:
    """Regression (found by the benchmark with two forwarders): a look that met another
    partition's due prescriptions in a full batch slept a lease before looking again, so each
    forwarder drained a backlog of thousands a batch a minute."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    docs = [{"_id": f"79001{n:07d}-c", "forward_open": True, "forward_due_at": now,
             "forward_lease_owner": None, "forward_lease_until": None} for n in range(50)]
    outbox = ListOutbox(docs)
    schedule = Schedule(outbox, owner="me", lease=timedelta(seconds=60), batch=8,  # type: ignore[arg-type]
                        poll_seconds=1.0, partition=(1, 2), live=lambda: True,
                        clock=lambda: now, rng=random.Random(3))
    taken = []
    while (found := schedule.next()) is not None:
        doc, fresh = found
        assert not fresh
        outbox.take(doc["_id"])
        schedule.released(doc["_id"])
        taken.append(doc["_id"])
    assert sorted(taken) == sorted(doc["_id"] for doc in docs)
    # its own first (a look per half batch), then the other partition's (a batch a look)
    assert outbox.looks < len(docs) // 2


def test_two_forwarders_draining_one_backlog_seldom_claim_the_same_prescription() -> None:
    """Regression (found by the benchmark: two forwarders delivered a backlog slower than
    one): both took what a look found due whatever its partition, so each claimed, from a
    stale snapshot, prescriptions the other had just taken; every such claim is a wasted
    write."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    docs = [{"_id": f"79001{n:07d}-c", "forward_open": True, "forward_due_at": now,
             "forward_lease_owner": None, "forward_lease_until": None} for n in range(400)]
    outbox = ListOutbox(docs)
    schedules = [Schedule(outbox, owner=f"f{k}", lease=timedelta(seconds=60), batch=32,  # type: ignore[arg-type]
                          poll_seconds=1.0, partition=(k, 2), live=lambda: True,
                          clock=lambda: now, rng=random.Random(k)) for k in (1, 2)]
    taken: set[str] = set()
    stale = 0
    active = list(schedules)
    while active:  # the two take turns, one prescription each
        for schedule in list(active):
            found = schedule.next()
            if found is None:
                active.remove(schedule)
                continue
            code = found[0]["_id"]
            if code in taken:
                stale += 1  # the claim would fail: the other forwarder has it
            else:
                taken.add(code)
                outbox.take(code)
            schedule.released(code)
    assert taken == {doc["_id"] for doc in docs}
    assert stale <= len(docs) // 20


def test_updates_announced_without_documents_are_read_in_one_query_of_this_partition() -> None:
    schedule = schedule_for_units()
    schedule.partition = (1, 2)
    codes = [f"79001{n:07d}-c" for n in range(20)]
    mine = [code for code in codes if schedule.mine(code)]
    assert 0 < len(mine) < len(codes)
    assert schedule.next() is None and schedule.sleeping_forever()
    for code in codes:
        schedule.feed_event({"operationType": "update", "documentKey": {"_id": code},
                             "updateDescription": {"updatedFields": {}}})
    assert not schedule.sleeping_forever()
    taken = []
    while (got := schedule.next()) is not None:
        taken.append(got)
    assert schedule.outbox.reads == [sorted(mine)]  # one read, this partition's codes only
    assert sorted(doc["_id"] for doc, _ in taken) == sorted(mine)
    assert all(fresh for _, fresh in taken)
