"""When the forwarder looks for work (gateway/forwarding/schedule.py): new work is pushed by
the change feed, later work is slept until, and nothing is polled while nothing is due; an
unconfigured registry's deliveries are parked, not retried, until a registry is configured.

Operations are counted with pymongo's command monitoring (deterministic); the tests wait on
the forwarder's and the feed's own events, never on the clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from gateway import create_app
from gateway.container import build_forwarder
from gateway.core.context import services
from gateway.forwarding.registry import UnconfiguredRegistry
from gateway.forwarding.schedule import Schedule, parse_partition
from tests.gateway.forwarding.helpers import (
    FACILITY,
    FAST_FORWARDING,
    REGISTRY_PASSWORD,
    deliveries_of,
    insert_prescriptions,
    registry,
    running,
    states,
    wait_until,
)
from tests.gateway.prescriptions.test_round_trips import Commands

__all__ = ["registry"]  # a fixture, used by name

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
    forwarder = build_forwarder(services(configured), configured.config)
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
    forwarder = build_forwarder(services(unconfigured), unconfigured.config)
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
    build_forwarder(services(unconfigured), unconfigured.config).run_until_idle()
    assert states(database) == {"pending": 5}
    app = counted_app(app_config, commands, REGISTRY_BASE_URL=registry.url,
                      REGISTRY_FACILITY_CODE=FACILITY, REGISTRY_PASSWORD=REGISTRY_PASSWORD)
    try:
        forwarder = build_forwarder(services(app), app.config)
        assert forwarder.unpark() == 5  # what run() does first
        assert forwarder.run_until_idle() == 5
    finally:
        services(app).close()
    assert states(database) == {"delivered": 5} and set(registry.prescriptions) == set(codes)


def test_new_work_is_pushed_by_the_feed_without_a_query(configured: Flask, registry) -> None:
    database = services(configured).storage.database
    forwarder = build_forwarder(services(configured), configured.config)
    with running(forwarder):
        wait_until(forwarder.schedule.sleeping_forever, message="the forwarder asleep")
        looks = forwarder.schedule.looks
        [code] = insert_prescriptions(database, 1)
        wait_until(lambda: states(database) == {"delivered": 1}, timeout=WAIT,
                   message="delivered")
        assert forwarder.schedule.looks == looks  # it came with the change event
    assert code in registry.prescriptions


def test_a_retry_is_slept_until_not_polled(configured: Flask, registry) -> None:
    database = services(configured).storage.database
    registry.status = 503
    forwarder = build_forwarder(services(configured), configured.config)
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
