"""``erx-gateway audit verify`` against a running gateway: an intact log passes; editing,
deleting or reordering one event directly in MongoDB fails and names that event."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.serving import make_server

from gateway.audit.verify import verify_log
from gateway.cli import main
from signing.jws import Signer, verify_detached
from signing.key_store import generate_private_key
from signing.merkle import InMemoryNodeStore, MerkleTree
from tests.support import audit

TAMPERED = (0, 1, 13, 33)  # first, second, middle, last sealed event


@pytest.fixture
def gateway_url(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def sealed_log(app: Flask, client: FlaskClient, make_party) -> str:
    """A regulator's token over a log of 34 sealed events (1 login + 33 actions)."""
    token = make_party("regulator", "SYT79").headers(client)["Authorization"].split()[1]
    with app.app_context():
        for i in range(33):
            audit.record("prescription.viewed" if i % 3 else "prescription.dispensed",
                         object_type="prescription", object_id=f"79001ABC{i:04d}-c",
                         patient_id="079190001234", actor="pharmacy-NT1",
                         details={"line": i})
        assert audit.seal_now().tree_size == 34
    return token


def verify(url: str, token: str, *extra: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["audit", "verify", "--from", url, "--token", token,
                                       *extra])
    try:
        return result.exit_code, json.loads(result.stdout)
    except ValueError:
        return result.exit_code, {"output": result.output}


def test_an_intact_log_verifies(gateway_url: str, sealed_log: str, app: Flask) -> None:
    with app.app_context():
        audit.record("prescription.viewed", object_type="prescription", object_id="LATE")
    code, report = verify(f"{gateway_url}/v2/audit/events", sealed_log)
    assert code == 0, report
    assert report["ok"] and report["tree_size"] == 34 and report["events"] == 35
    assert "not sealed yet" in report["message"]


@pytest.mark.parametrize("seq", TAMPERED)
def test_an_edited_event_is_named(gateway_url: str, sealed_log: str, app: Flask,
                                  seq: int) -> None:
    with app.app_context():
        audit.get_db()[audit.EVENTS].update_one({"_id": seq},
                                                {"$set": {"outcome": "failure"}})
    code, report = verify(gateway_url, sealed_log)
    assert code == 1, report
    assert report["first_bad_seq"] == seq and f"event {seq} " in report["message"]


@pytest.mark.parametrize("seq", TAMPERED)
def test_a_deleted_event_is_named(gateway_url: str, sealed_log: str, app: Flask,
                                  seq: int) -> None:
    with app.app_context():
        audit.get_db()[audit.EVENTS].delete_one({"_id": seq})
    code, report = verify(gateway_url, sealed_log)
    assert code == 1, report
    assert report["first_bad_seq"] == seq and "missing" in report["message"]


@pytest.mark.parametrize("seq", TAMPERED[:-1])
def test_reordered_events_are_named(gateway_url: str, sealed_log: str, app: Flask,
                                    seq: int) -> None:
    with app.app_context():
        events = audit.get_db()[audit.EVENTS]
        first, second = events.find_one({"_id": seq}), events.find_one({"_id": seq + 1})
        # Swap the two events' places: each keeps its content but takes the other's number
        # (the stored event ids stay where they are: they are unique, and not exported).
        events.replace_one({"_id": seq}, {**second, "_id": seq, "event_id": first["event_id"]})
        events.replace_one({"_id": seq + 1},
                           {**first, "_id": seq + 1, "event_id": second["event_id"]})
    code, report = verify(gateway_url, sealed_log)
    assert code == 1, report
    assert report["first_bad_seq"] == seq


def test_a_deleted_event_renumbered_away_is_named(gateway_url: str, sealed_log: str,
                                                  app: Flask) -> None:
    """Deleting event 5 and renumbering the rest (no hole left) still names event 5."""
    with app.app_context():
        events = audit.get_db()[audit.EVENTS]
        docs = list(events.find({"_id": {"$gte": 5}}).sort("_id", 1))
        events.delete_many({"_id": {"$gte": 5}})
        events.insert_many([{**doc, "_id": doc["_id"] - 1} for doc in docs[1:]])
    code, report = verify(gateway_url, sealed_log)
    assert code == 1 and report["first_bad_seq"] == 5, report


def test_an_export_file_is_checked_against_the_gateway(gateway_url: str, sealed_log: str,
                                                       client: FlaskClient,
                                                       tmp_path: Path) -> None:
    export = client.get("/v2/audit/events", headers={"Authorization": f"Bearer {sealed_log}",
                                                     "Accept": "application/x-ndjson"})
    good = tmp_path / "audit.ndjson"
    good.write_bytes(export.get_data())
    code, report = verify(str(good), sealed_log, "--gateway", gateway_url)
    assert code == 0, report
    lines = good.read_text().splitlines()
    edited = json.loads(lines[20])
    edited["actor"]["party_id"] = "pharmacy-OTHER"
    lines[20] = json.dumps(edited)
    bad = tmp_path / "edited.ndjson"
    bad.write_text("\n".join(lines) + "\n")
    code, report = verify(str(bad), sealed_log, "--gateway", gateway_url)
    assert code == 1 and report["first_bad_seq"] == 20, report
    no_gateway = CliRunner().invoke(main, ["audit", "verify", "--from", str(good),
                                           "--token", sealed_log])
    assert no_gateway.exit_code == 2 and "--gateway" in no_gateway.output
    not_json = tmp_path / "garbage.ndjson"
    not_json.write_text("{\"seq\": 0}\nnot json\n")
    code, report = verify(str(not_json), sealed_log, "--gateway", gateway_url)
    assert code == 2 and "line 2" in report["output"]


def test_a_forged_tree_head_or_saved_head_fails(gateway_url: str, sealed_log: str,
                                               app: Flask, client: FlaskClient,
                                               tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {sealed_log}"}
    saved = tmp_path / "head.json"
    saved.write_text(client.get("/v2/audit/tree-head", headers=headers).get_data(as_text=True))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(client.get("/.well-known/jwks.json").get_data(as_text=True))
    with app.app_context():
        audit.record("prescription.cancelled", object_type="prescription", object_id="P")
        audit.seal_now()
    code, report = verify(gateway_url, sealed_log, "--tree-head", str(saved),
                          "--jwks", str(jwks))
    assert code == 0, report
    forged = json.loads(saved.read_text())
    forged["root_hash"] = "00" * 32
    saved.write_text(json.dumps(forged))
    code, report = verify(gateway_url, sealed_log, "--tree-head", str(saved))
    assert code == 1 and "saved tree head" in report["message"], report
    with app.app_context():  # someone with database access rewrites the latest root
        audit.get_db()[audit.TREE_HEADS].update_one(
            {"_id": 35}, {"$set": {"root_hash": b"\x01" * 32}})
    code, report = verify(gateway_url, sealed_log)
    assert code == 1 and "signature" in report["message"], report


def test_verify_needs_a_token(gateway_url: str) -> None:
    result = CliRunner().invoke(main, ["audit", "verify", "--from", gateway_url],
                                env={"ERX_AUDIT_TOKEN": ""})
    assert result.exit_code == 2 and "--token" in result.output


def test_the_first_fault_is_named_when_there_are_several(gateway_url: str, sealed_log: str,
                                                        app: Flask) -> None:
    with app.app_context():
        events = audit.get_db()[audit.EVENTS]
        events.delete_one({"_id": 20})
        events.update_one({"_id": 7}, {"$set": {"details": {"line": 999}}})
    code, report = verify(gateway_url, sealed_log)
    assert code == 1 and report["first_bad_seq"] == 7, report


# --- the bisection, in process, for many log sizes ------------------------------------------------

SIGNER = Signer(private_key=generate_private_key("EdDSA"))
JWKS = {"keys": [SIGNER.public_jwk]}


def logged_events(count: int) -> list[dict]:
    return [{"seq": seq, "time": "2026-11-23T10:00:00.000+00:00",
             "actor": {"party_id": "pharmacy-NT1", "role": "pharmacy"},
             "action": "prescription.viewed", "object": {"type": "prescription",
                                                         "id": f"P{seq}"},
             "outcome": "success", "request_id": None, "client_address": None,
             "content_sha256": None, "patient_hash": None, "details": None}
            for seq in range(count)]


class LogSource:
    """The gateway's side over the true events: a signed head and consistency proofs."""

    def __init__(self, events: list[dict]) -> None:
        self.tree = MerkleTree(InMemoryNodeStore())
        self.tree.append(audit.event_leaf(event) for event in events)
        stamp = datetime(2026, 11, 23, tzinfo=UTC)
        root = self.tree.root()
        self.head = audit.TreeHead(
            tree_size=self.tree.size, root_hash=root, timestamp=stamp,
            signature=SIGNER.sign_detached(audit.TreeHead.signed_fields(self.tree.size, root,
                                                                        stamp))).to_json()

    def tree_head(self) -> dict:
        return self.head

    def consistency(self, first: int, second: int) -> list[str]:
        return [node.hex() for node in self.tree.consistency_proof(first, second)]


@settings(max_examples=60, deadline=None)
@given(data=st.data(), size=st.integers(min_value=1, max_value=400),
       kind=st.sampled_from(["edit", "delete", "swap", "renumber"]))
def test_the_first_tampered_event_is_named_for_any_size(data, size: int, kind: str) -> None:
    events = logged_events(size)
    source = LogSource(events)
    assert verify_log(events, source, JWKS, verify_signature=verify_detached).ok
    last = size - 2 if kind == "swap" else size - 1
    if last < 0:
        return
    bad = data.draw(st.integers(min_value=0, max_value=last))
    tampered = [dict(event) for event in events]
    if kind == "edit":
        tampered[bad]["outcome"] = "failure"
    elif kind == "delete":
        del tampered[bad]
    elif kind == "swap":
        tampered[bad], tampered[bad + 1] = ({**tampered[bad + 1], "seq": bad},
                                            {**tampered[bad], "seq": bad + 1})
    else:  # delete and renumber the rest: no hole left
        tampered = [{**event, "seq": seq} for seq, event in
                    enumerate(tampered[:bad] + tampered[bad + 1:])]
    report = verify_log(tampered, source, JWKS, verify_signature=verify_detached)
    assert not report.ok and report.first_bad_seq == bad, report
