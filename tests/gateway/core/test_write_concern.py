"""Every write the gateway sends asks for ``w: majority, j: true`` (the write is in the
journal on disk before it is acknowledged), even when ``ERX_MONGODB_URI`` asks for less."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pymongo.monitoring import CommandListener

from gateway import create_app
from gateway.core import config
from gateway.core.db import connect
from gateway.web.context import services
from schemas import examples

WRITES = frozenset({"insert", "update", "delete", "findAndModify"})


class WriteConcerns(CommandListener):
    """The write concern of every write command sent: (command, collection, concern)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, Any]] = []
        self._lock = threading.Lock()

    def started(self, event: Any) -> None:
        if event.command_name in WRITES:
            with self._lock:
                self.seen.append((event.command_name, event.command[event.command_name],
                                  event.command.get("writeConcern")))

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


def test_a_uri_asking_for_less_does_not_weaken_the_write_concern() -> None:
    weak = "mongodb://127.0.0.1:1/?w=1&journal=false"
    client = connect(config.load({"MONGODB_URI": weak}, environ={}))
    try:
        assert client.write_concern.document == {"w": "majority", "j": True}
    finally:
        client.close()


def test_submit_dispense_and_cancel_write_with_majority_and_journal(
        app_config: dict[str, Any], demo_catalog_into) -> None:
    concerns = WriteConcerns()
    app = create_app({**app_config, "MONGODB_URI": app_config["MONGODB_URI"]
                      + "&w=1&journal=false"}, listeners=[concerns])
    try:
        assert services(app).wait_ready()
        demo_catalog_into(app)
        client = app.test_client()
        headers = {}
        with app.app_context():
            for role, code in (("clinic", "79001"), ("pharmacy", "NT0001")):
                party, secret = services().parties.create(
                    role=role, code=code, name=f"Test {code}",
                    address="1 Lê Lợi, Quận 1, TP. Hồ Chí Minh", phone="02838221234")
                token = client.post("/v2/auth/token", json={
                    "grant_type": "client_credentials", "client_id": party.client_id,
                    "client_secret": secret}).get_json()["access_token"]
                headers[role] = {"Authorization": f"Bearer {token}"}
        concerns.seen.clear()
        issued = client.post("/v2/prescriptions", headers={**headers["clinic"],
                             "Idempotency-Key": "wc-1"},
                             json=examples.basic_prescription(datetime.now(
                                 ZoneInfo("Asia/Ho_Chi_Minh"))))
        assert issued.status_code == 201, issued.get_json()
        code = issued.get_json()["ma_don_thuoc"]
        sold = client.post(f"/v2/prescriptions/{code}/dispenses", headers=headers["pharmacy"],
                           json={"ma_hoa_don": "HD1", "items": [{"line": 0, "so_luong_ban": 5}]})
        assert sold.status_code == 201, sold.get_json()
        cancelled = client.post(f"/v2/prescriptions/{code}/cancel", headers=headers["clinic"],
                                json=examples.cancel())
        assert cancelled.status_code == 200, cancelled.get_json()
    finally:
        services(app).close()
    written = {(name, collection) for name, collection, _ in concerns.seen}
    assert {("insert", "prescriptions"), ("update", "prescriptions")} <= written, written
    # pymongo's key vault writes the data key (once) with its own ``w: majority``: journaled on
    # a majority by a replica set's default (writeConcernMajorityJournalDefault), and by the
    # embedded server's --sync-on-commit (test_durability.py).
    weaker = [seen for seen in concerns.seen if seen[2] != {"w": "majority", "j": True}
              and (seen[1], seen[2]) != ("data_keys", {"w": "majority"})]
    assert not weaker, weaker
