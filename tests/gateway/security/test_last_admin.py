"""Attack class: disabling admins at the same moment until none is enabled.

The last enabled admin cannot be disabled (409 over HTTP, exit 1 on the command line). When
that rule was a read followed by a write, two admins disabled at the same moment could each
see the other still enabled and both be disabled. The decision is now one conditional write
on the count of enabled admins (gateway/parties/store.py), so such disables are decided one
after the other.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from flask import Flask

from gateway.parties.model import LastAdmin
from gateway.parties.store import COUNTS, PartyStore
from gateway.web.context import services

ROUNDS = 50
#: the whole loop's bound; a round takes a few milliseconds
DEADLINE_SECONDS = 120


def _enabled(parties: PartyStore) -> set[str]:
    return {doc["_id"] for doc in parties.collection.find({"role": "admin", "status": "active"})}


def _race(calls: list[Callable[[], None]]) -> list[str]:
    """Run the calls at the same moment (threads behind a barrier); each one's outcome."""
    barrier = threading.Barrier(len(calls), timeout=30)
    outcomes = ["unfinished"] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            calls[index]()
            outcomes[index] = "done"
        except LastAdmin:
            outcomes[index] = "last_admin"

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_two_admins_disabled_at_the_same_moment_leave_one_enabled(app: Flask, make_party) -> None:
    admins = [make_party("admin", "ops1").client_id, make_party("admin", "ops2").client_id]
    parties = services(app).parties
    deadline = time.monotonic() + DEADLINE_SECONDS
    for round_ in range(ROUNDS):
        assert time.monotonic() < deadline, f"round {round_} past the deadline"
        outcomes = _race([lambda admin=admin: parties.set_status(admin, "disabled")
                          for admin in admins])
        enabled = _enabled(parties)
        assert sorted(outcomes) == ["done", "last_admin"], (round_, outcomes)
        assert len(enabled) == 1, (round_, enabled)
        assert parties.enabled_admins() == 1
        parties.set_status(next(a for a in admins if a not in enabled), "active")
    assert _enabled(parties) == set(admins) and parties.enabled_admins() == 2


def test_one_admin_disabled_twice_at_the_same_moment_is_counted_once(app: Flask,
                                                                     make_party) -> None:
    admins = [make_party("admin", f"ops{n}").client_id for n in range(3)]
    parties = services(app).parties
    for round_ in range(10):
        outcomes = _race([lambda: parties.set_status(admins[0], "disabled")] * 2
                         + [lambda: parties.set_status(admins[1], "active")])
        assert outcomes == ["done"] * 3, (round_, outcomes)
        assert parties.enabled_admins() == len(_enabled(parties)) == 2
        parties.set_status(admins[0], "active")
        assert parties.enabled_admins() == 3
    # one left: the other two go, the last one stays
    parties.set_status(admins[0], "disabled")
    parties.set_status(admins[1], "disabled")
    with pytest.raises(LastAdmin):
        parties.set_status(admins[2], "disabled")
    assert _enabled(parties) == {admins[2]} and parties.enabled_admins() == 1


def test_the_count_starts_from_the_stored_admins(app: Flask, make_party) -> None:
    """A database from before the count: it is counted from the parties at first use."""
    first, second = make_party("admin", "a1"), make_party("admin", "a2")
    make_party("pharmacy", "NT1")
    parties = services(app).parties
    parties.set_status(second.client_id, "disabled")
    parties.counts.database[COUNTS].drop()
    assert parties.enabled_admins() == 1
    with pytest.raises(LastAdmin):
        parties.set_status(first.client_id, "disabled")
    parties.set_status(second.client_id, "active")
    assert parties.enabled_admins() == 2
    parties.set_status(first.client_id, "disabled")
    assert _enabled(parties) == {second.client_id}
