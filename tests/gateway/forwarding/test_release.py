"""The forwarder's release (gateway/prescriptions/outbox_store.py, ``OutboxStore.release``).

The due time the forwarder computes from the outbox it holds (``outbox.earliest_due``) must be
the one the database computes from the array (``RECOMPUTE_DUE``), and the plain ``$set`` that
carries it may land only while nothing was added to the outbox or made due again since the
forwarder's snapshot; otherwise the database recomputes it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.prescriptions.model import DeliveryState
from gateway.prescriptions.outbox import REVISION, earliest_due
from gateway.prescriptions.outbox_store import RELEASE, OutboxStore
from gateway.prescriptions.store import PRESCRIPTIONS, outbox_update

BASE = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
OWNER = "forwarder-test"


def _store(database: Any) -> OutboxStore:
    return OutboxStore(database, cipher=None)  # type: ignore[arg-type]  # release needs none


@st.composite
def outboxes(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(0, 5))
    order = draw(st.permutations(list(range(count))))
    return [{"id": f"d{index}", "seq": order[index],
             "target": draw(st.sampled_from(["registry", "pharmacy:NT0001"])),
             "state": draw(st.sampled_from([DeliveryState.PENDING, DeliveryState.IN_FLIGHT,
                                            DeliveryState.DELIVERED,
                                            DeliveryState.FAILED_PERMANENT, DeliveryState.DEAD])),
             "next_attempt_at": draw(st.one_of(st.none(), st.integers(0, 90).map(
                 lambda minutes: BASE + timedelta(minutes=minutes))))}
            for index in range(count)]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(deliveries=outboxes())
def test_the_due_time_computed_by_the_forwarder_is_the_databases(database, deliveries) -> None:
    collection = database[PRESCRIPTIONS]
    collection.delete_many({})
    collection.insert_one({"_id": "RX1", "deliveries": deliveries, "forward_lease_owner": OWNER})
    collection.update_one({"_id": "RX1"}, RELEASE)
    stored = collection.find_one({"_id": "RX1"})
    expected = earliest_due(deliveries)
    assert stored["forward_due_at"] == expected
    assert stored["forward_open"] is (expected is not None)


def _held(database: Any, deliveries: list[dict[str, Any]]) -> None:
    database[PRESCRIPTIONS].insert_one({
        "_id": "RX1", "version": 1, "deliveries": deliveries, "forward_open": True,
        "forward_due_at": BASE, "forward_lease_owner": OWNER,
        "forward_lease_until": BASE + timedelta(minutes=5)})


def test_an_unchanged_outbox_is_released_with_the_due_time_the_forwarder_computed(
        database) -> None:
    # The stored array still says pending; the forwarder knows it delivered it (its outcome
    # is written by this release): the due time comes from what it knows.
    _held(database, [{"id": "d0", "seq": 0, "target": "registry", "state": DeliveryState.IN_FLIGHT,
                      "next_attempt_at": BASE}])
    known = [{"id": "d0", "seq": 0, "target": "registry", "state": DeliveryState.DELIVERED,
              "next_attempt_at": BASE}]
    released = _store(database).release("RX1", owner=OWNER, outcomes={0: {"state": DeliveryState.DELIVERED}},
                                         known={"revision": None, "deliveries": known})
    stored = database[PRESCRIPTIONS].find_one({"_id": "RX1"})
    assert released
    assert stored["deliveries"][0]["state"] == DeliveryState.DELIVERED
    assert (stored["forward_due_at"], stored["forward_open"]) == (None, False)
    assert stored["forward_lease_owner"] is None and stored["forward_lease_until"] is None


def test_a_delivery_added_since_the_snapshot_is_not_lost(database) -> None:
    _held(database, [{"id": "d0", "seq": 0, "target": "registry", "state": DeliveryState.IN_FLIGHT,
                      "next_attempt_at": BASE}])
    known = [{"id": "d0", "seq": 0, "target": "registry", "state": DeliveryState.DELIVERED,
              "next_attempt_at": BASE}]
    # a dispense appends its report while the forwarder holds the prescription
    later = BASE + timedelta(minutes=3)
    report = {"id": "d1", "seq": 1, "target": "registry", "state": DeliveryState.PENDING,
              "next_attempt_at": later}
    database[PRESCRIPTIONS].update_one({"_id": "RX1"}, outbox_update([report], later))
    released = _store(database).release("RX1", owner=OWNER, outcomes={0: {"state": DeliveryState.DELIVERED}},
                                        known={"revision": None, "deliveries": known})
    stored = database[PRESCRIPTIONS].find_one({"_id": "RX1"})
    assert released
    assert stored[REVISION] == 1
    assert [entry["state"] for entry in stored["deliveries"]] == [DeliveryState.DELIVERED, DeliveryState.PENDING]
    assert (stored["forward_due_at"], stored["forward_open"]) == (later, True)


def test_a_parked_delivery_made_due_meanwhile_is_not_lost(database) -> None:
    # the forwarder parked the registry delivery (no registry configured) while another
    # forwarder, configured, unparked it
    _held(database, [{"id": "d0", "seq": 0, "target": "registry", "state": DeliveryState.PENDING,
                      "next_attempt_at": None}])
    known = [{"id": "d0", "seq": 0, "target": "registry", "state": DeliveryState.PENDING,
              "next_attempt_at": None}]
    store = _store(database)
    assert store.unpark(BASE) == 1
    assert store.release("RX1", owner=OWNER, outcomes={},
                         known={"revision": None, "deliveries": known})
    stored = database[PRESCRIPTIONS].find_one({"_id": "RX1"})
    assert (stored["forward_due_at"], stored["forward_open"]) == (BASE, True)


def test_another_holder_releases_nothing(database) -> None:
    _held(database, [{"id": "d0", "seq": 0, "target": "registry", "state": DeliveryState.IN_FLIGHT,
                      "next_attempt_at": BASE}])
    released = _store(database).release("RX1", owner="someone-else", outcomes={},
                                        known={"revision": None, "deliveries": []})
    assert not released
    assert database[PRESCRIPTIONS].find_one({"_id": "RX1"})["forward_lease_owner"] == OWNER
