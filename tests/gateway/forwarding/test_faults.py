"""Fault tests of the forwarder: receivers down, slow, acting then dropping the connection;
forwarders killed mid-send, stopped with SIGTERM, and racing each other.

These tests synchronise on events, never on timing, so that they pass on a busy machine: a
send is caught mid-way by holding it in the registry double (``registry.hold_sends()``: its
``arrived`` event, then ``release()``), and the tests wait for conditions (``wait_until``,
whose deadline is only a failure bound). Timeouts and leases are far longer than any answer
of the loopback doubles takes, since a send that timed out would be repeated and the tests
count repeats; only the forwarder killed mid-send has a lease short enough to wait for.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.web.context import services
from tests.support.forwarding import (
    FACILITY,
    REGISTRY_PASSWORD,
    deliveries_of,
    insert_prescriptions,
    running,
    states,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[3]

# Forwarders in these tests (in this process, and the forwarder processes unless a test says
# otherwise): no send times out however busy the machine, so nothing is repeated but what a
# test provokes; the lease fits them (ForwardingPolicy: at least twice connect + read).
PATIENT = {"FORWARD_CONNECT_TIMEOUT_SECONDS": 5.0, "FORWARD_TIMEOUT_SECONDS": 30.0,
           "FORWARDER_LEASE_SECONDS": 70.0}


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """The forwarding tests' app, with the patient timeouts."""
    return {**app_config, **PATIENT}


def delivered_once_each(registry, codes) -> None:
    """Every code accepted once, and every call about one code carried one delivery id."""
    assert set(registry.prescriptions) == set(codes)
    for code in codes:
        assert len(registry.delivery_of_code[f"{registry.SEND} {code}"]) == 1, code
    assert registry.overlaps == 0 and registry.out_of_order == 0


def test_registry_down_for_a_while_then_back(db, registry, make_forwarder) -> None:
    registry.go_down()
    codes = insert_prescriptions(db, 30)
    with running(make_forwarder()):
        wait_until(lambda: all(d[0]["attempts"] >= 2 for d in
                               (deliveries_of(db, code) for code in codes)),
                   message="every delivery tried twice while the registry is down")
        assert states(db) == {"pending": 30} or set(states(db)) <= {"pending", "in_flight"}
        assert "ConnectionError" in deliveries_of(db, codes[0])[0]["last_error"]
        registry.come_up()
        wait_until(lambda: states(db) == {"delivered": 30}, message="all delivered")
    delivered_once_each(registry, codes)
    assert not registry.duplicates  # nothing had reached it while it was down


def test_receiver_acts_then_drops_the_connection(db, registry, make_forwarder) -> None:
    codes = insert_prescriptions(db, 10)
    registry.act_then_drop = True
    make_forwarder().run_until_idle(rounds=1)
    assert states(db) == {"pending": 10}
    assert len(registry.prescriptions) == 10  # it acted, but nobody heard the answer
    registry.act_then_drop = False
    with running(make_forwarder()):
        wait_until(lambda: states(db) == {"delivered": 10}, message="all delivered")
    # The repeats were recognised by the registry's duplicate check, each with the same id.
    assert registry.duplicates[registry.SEND] == 10
    delivered_once_each(registry, codes)


def test_a_slow_receiver_does_not_hold_up_other_deliveries(db, app, client, registry,
                                                            webhook_receiver, make_forwarder,
                                                            auth_headers) -> None:
    for pharmacy, path in (("NTSLOW", "/slow"), ("NTFAST", "/fast")):
        assert client.put("/v2/pharmacies/me/webhook", headers=auth_headers("pharmacy", pharmacy),
                          json={"url": webhook_receiver.url + path}).status_code == 200
    webhook_receiver.hold_paths = {"/slow"}
    [slow] = insert_prescriptions(db, 1, nominated="NTSLOW")
    fast = insert_prescriptions(db, 20, start=1, nominated="NTFAST")
    found = services(app)
    found.settings = found.settings.but(forward_timeout_seconds=60.0, forwarder_lease_seconds=130.0)
    try:
        with running(make_forwarder(concurrency=4)):
            wait_until(webhook_receiver.holding.is_set, message="the slow push is held")
            wait_until(lambda: all(d["state"] == "delivered" for code in fast
                                   for d in deliveries_of(db, code)),
                       message="every other delivery done while the slow one hangs")
            slow_push = deliveries_of(db, slow)[1]
            assert slow_push["state"] == "in_flight"
            assert webhook_receiver.in_progress == {slow_push["id"]: 1}
            webhook_receiver.release()
            wait_until(lambda: deliveries_of(db, slow)[1]["state"] == "delivered",
                       message="the slow push done after release")
    finally:
        webhook_receiver.release()
    assert len(webhook_receiver.accepted) == 21 and webhook_receiver.duplicates == 0


@pytest.mark.parametrize("failure_rate", [0.0, 0.3])
def test_two_forwarders_never_send_the_same_delivery_at_once(db, registry, make_forwarder,
                                                              failure_rate) -> None:
    registry.slow_seconds = 0.01
    registry.failure_rate = failure_rate
    registry.failure_modes = ("500", "act_then_500")
    codes = insert_prescriptions(db, 80)
    first, second = make_forwarder(owner="one"), make_forwarder(owner="two")
    sent = {"one": 0, "two": 0}
    for forwarder in (first, second):
        deliver = forwarder.deliver

        def counting(doc, entry, attempt, _deliver=deliver, _name=forwarder.owner):
            sent[_name] += 1
            return _deliver(doc, entry, attempt)

        forwarder.deliver = counting  # type: ignore[method-assign]
    # Sends wait at the registry until both forwarders are sending: neither can take all the
    # work before the other has started (each holds at most `concurrency` sends at once).
    hold = registry.hold_sends()
    try:
        with running(first), running(second):
            wait_until(lambda: sent["one"] and sent["two"], message="both forwarders sending")
            hold.release()
            wait_until(lambda: states(db) == {"delivered": 80}, message="all delivered")
    finally:
        hold.release()
    assert sent["one"] and sent["two"], sent
    assert registry.overlaps == 0
    delivered_once_each(registry, codes)
    if not failure_rate:
        assert sum(registry.calls_by_delivery.values()) == 80  # each sent exactly once


def forwarder_process(app, registry, log_path: Path, **extra: str) -> subprocess.Popen[bytes]:
    """``python -m gateway.cli forwarder`` on the test database, sending to ``registry``;
    ``extra``: ERX_* settings replacing the defaults here (timeouts as PATIENT)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ERX_")}
    settings = services(app).settings
    env.update({
        "ERX_ENV": "development", "ERX_MONGODB_URI": settings.mongodb_uri,
        "ERX_DB_NAME": settings.db_name, "ERX_VAR_DIR": settings.var_dir,
        "ERX_TOKEN_SECRET": settings.token_secret, "ERX_LOG_LEVEL": "warning",
        "ERX_REGISTRY_BASE_URL": registry.url, "ERX_REGISTRY_FACILITY_CODE": FACILITY,
        "ERX_REGISTRY_PASSWORD": REGISTRY_PASSWORD,
        "ERX_FORWARD_CONNECT_TIMEOUT_SECONDS": "5", "ERX_FORWARD_TIMEOUT_SECONDS": "30",
        "ERX_FORWARDER_LEASE_SECONDS": "70", "ERX_FORWARDER_POLL_SECONDS": "0.05",
        "ERX_FORWARD_BACKOFF_BASE_SECONDS": "0.05", "ERX_FORWARD_BACKOFF_CAP_SECONDS": "0.5",
        "ERX_FORWARDER_CONCURRENCY": "4", **extra})
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "gateway.cli", "forwarder"], env=env,
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


# The forwarder killed mid-send: the takeover waits for its lease, so the lease is short, and
# its read timeout with it (ForwardingPolicy: lease >= 2 * (connect + read)). The read timeout
# need only outlast an answer of the registry double and the moment between a send's arrival
# at the hold and the kill.
KILLED = {"ERX_FORWARD_CONNECT_TIMEOUT_SECONDS": "1", "ERX_FORWARD_TIMEOUT_SECONDS": "5",
          "ERX_FORWARDER_LEASE_SECONDS": "12"}


@pytest.mark.slow
def test_forwarder_killed_mid_send_loses_nothing(app, db, registry, tmp_path: Path) -> None:
    codes = insert_prescriptions(db, 40)
    hold = registry.hold_sends(after=5)  # five sends go through, every later one waits
    log = tmp_path / "forwarder.log"
    process = forwarder_process(app, registry, log, **KILLED)
    try:
        wait_until(hold.arrived.is_set, timeout=90, message=f"a send held (log: {log})")
        wait_until(lambda: len(registry.prescriptions) >= 5, message="the first five acted on")
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        assert registry.in_progress  # killed mid-send
        in_flight = {d["id"] for doc in db["prescriptions"].find({}, {"deliveries": 1})
                     for d in doc["deliveries"] if d["state"] == "in_flight"}
        assert 0 < len(in_flight) <= 4  # at most one per worker thread
        assert set(hold.held) <= in_flight  # the held sends were cut short
        # The registry acts on the held sends (their answers go nowhere), before any other
        # forwarder could send them again: the repeats come later, one at a time.
        hold.release()
        wait_until(lambda: not registry.in_progress, message="the held sends acted on")
        process = forwarder_process(app, registry, log)
        wait_until(lambda: states(db) == {"delivered": 40}, timeout=120,
                   message=f"all delivered after the restart (log: {log})")
    finally:
        hold.release()
        process.kill()
        process.wait(30)
    delivered_once_each(registry, codes)
    repeated = {delivery for delivery, calls in registry.calls_by_delivery.items() if calls > 1}
    # Only sends cut short by the kill were repeated, each with its same delivery id (the
    # registry's duplicate check saw one code under one id: delivered_once_each).
    assert repeated <= in_flight
    assert sum(registry.duplicates.values()) <= len(in_flight)
    print(f"\nforwarder SIGKILL mid-send: {len(in_flight)} sends cut short; acknowledged "
          f"{len(codes)}, found at the registry {len(registry.prescriptions)}, repeats "
          f"recognised by their delivery id {sum(registry.duplicates.values())}, "
          f"under two delivery ids "
          f"{sum(len(registry.delivery_of_code[f'{registry.SEND} {c}']) > 1 for c in codes)}")


@pytest.mark.slow
def test_sigterm_finishes_the_current_sends_and_releases(app, db, registry, tmp_path) -> None:
    insert_prescriptions(db, 200)
    hold = registry.hold_sends(after=5)  # five sends go through, every later one waits
    log = tmp_path / "forwarder.log"
    process = forwarder_process(app, registry, log)
    try:
        wait_until(hold.arrived.is_set, timeout=90, message=f"a send held (log: {log})")
        wait_until(lambda: len(registry.prescriptions) >= 5, message="the first five acted on")
        process.send_signal(signal.SIGTERM)  # while sends are held: mid-send
        hold.release()
        assert process.wait(30) == 0
    finally:
        hold.release()
        process.kill()
        process.wait(30)
    held = {d["id"]: d["state"] for doc in db["prescriptions"].find({}, {"deliveries": 1})
            for d in doc["deliveries"] if d["id"] in hold.held}
    assert held and set(held.values()) == {"delivered"}  # the sends under way were finished
    assert states(db).get("in_flight") is None  # nothing abandoned mid-send
    assert db["prescriptions"].count_documents({"forward_lease_owner": {"$ne": None}}) == 0
    delivered = states(db)["delivered"]
    assert delivered == len(registry.prescriptions) and delivered < 200


@pytest.mark.slow
def test_soak_with_a_registry_failing_a_fifth_of_calls(db, registry, make_forwarder) -> None:
    """ERX_SOAK_N prescriptions (default 1,000 here; `python -m bench forwarding` runs
    10,000) against a registry failing 20% of calls at random, half of those after acting."""
    count = int(os.environ.get("ERX_SOAK_N", "1000"))
    registry.failure_rate = 0.2
    codes = insert_prescriptions(db, count)
    started = time.monotonic()
    with running(make_forwarder(concurrency=8)):
        wait_until(lambda: len(registry.prescriptions) == count, timeout=600, interval=1,
                   message="every prescription at the registry")
        wait_until(lambda: states(db) == {"delivered": count}, timeout=120, interval=1,
                   message="every delivery recorded as delivered")
    elapsed = time.monotonic() - started
    delivered_once_each(registry, codes)
    assert registry.failures_injected > count * 0.1
    print(f"\nsoak: {count} prescriptions in {elapsed:.1f} s, "
          f"{registry.failures_injected} injected failures, "
          f"{sum(registry.duplicates.values())} repeats dropped by the registry")


def test_database_errors_mid_forwarding_lose_nothing(db, registry, make_forwarder,
                                                      mongo_client, caplog) -> None:
    """Writes refused by the database (a fail point) after sends: the claims run out and the
    deliveries are taken up again; the registry's duplicate check absorbs the repeats."""
    codes = insert_prescriptions(db, 20)
    # A lease longer than any send and write here takes, however busy the machine (a lease
    # running out mid-send would let a second worker send the same delivery), short enough
    # that a claim left by a refused release is soon taken up again.
    forwarder = make_forwarder(lease=timedelta(seconds=10))
    mongo_client.admin.command({"configureFailPoint": "failCommand", "mode": {"times": 6},
                                "data": {"failCommands": ["update"], "errorCode": 2}})
    try:
        with running(forwarder):
            wait_until(lambda: states(db) == {"delivered": 20}, timeout=90,
                       message="all delivered despite the refused writes")
    finally:
        off = mongo_client.admin.command({"configureFailPoint": "failCommand", "mode": "off"})
    assert off["ok"] == 1
    refused = [r for r in caplog.records if r.getMessage().startswith("database error")]
    assert len(refused) == 6  # every refused write was met, and recovered from
    delivered_once_each(registry, codes)
