"""The audit log: recording, sequence numbers (queued events numbered by the sequencer),
sealing, the regulator's endpoints and proofs."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from gateway.cli import main
from gateway.web.context import services
from signing import merkle
from tests.support import audit
from tests.support.cli import cli_env
from tests.support.merkle import rfc_verify_consistency, rfc_verify_inclusion

EVENTS = audit.EVENTS


def events(app: Flask, **query) -> list[dict]:
    with app.app_context():
        return [audit.event_from_document(doc)
                for doc in audit.audit_log(audit.get_db()).find(query).sort("_id", 1)]


def record_some(app: Flask, count: int, **kwargs) -> list[str]:
    with app.app_context():
        return [audit.record("prescription.viewed", object_type="prescription",
                             object_id=f"79001ABCD{i:03d}-c", **kwargs) for i in range(count)]


def seal(app: Flask) -> audit.TreeHead:
    with app.app_context():
        return audit.seal_now()


@pytest.fixture
def regulator(auth_headers) -> dict[str, str]:
    return auth_headers("regulator", "SYT79")


# --- recording -----------------------------------------------------------------------------------

def test_an_event_has_every_field_and_no_plain_patient_id(app: Flask) -> None:
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "10.1.2.3"}):
        from flask import g

        from gateway.parties.model import Party
        g.party = Party("pharmacy-NT1", "pharmacy", "NT1", "Nhà thuốc 1", None, "active")
        g.request_id = "req-1"
        event_id = audit.record("prescription.viewed", object_type="prescription",
                                object_id="79001A1B2C3D-c", content_sha256="ab" * 32,
                                patient_id="079190001234", details={"via": "national"})
    [event] = events(app)
    assert event["seq"] == 0
    with app.app_context():
        assert audit.get_db()[EVENTS].find_one({"_id": 0})["event_id"] == event_id
    assert event["actor"] == {"party_id": "pharmacy-NT1", "role": "pharmacy"}
    assert event["object"] == {"type": "prescription", "id": "79001A1B2C3D-c"}
    assert (event["request_id"], event["client_address"]) == ("req-1", "10.1.2.3")
    assert event["outcome"] == "success" and event["content_sha256"] == "ab" * 32
    assert event["details"] == {"via": "national"}
    with app.app_context():
        assert event["patient_hash"] == audit.patient_hash(" 079190001234 ")
    assert "079190001234" not in json.dumps(event)
    assert datetime.fromisoformat(event["time"]).tzinfo is not None


def test_outside_a_request_the_actor_is_the_cli_or_the_named_process(app: Flask) -> None:
    with app.app_context():
        audit.record("catalog.imported", details={"added": 3})
        audit.record("delivery.delivered", object_type="prescription", object_id="X",
                     actor="forwarder")
    first, second = events(app)
    assert first["actor"] == {"party_id": "cli", "role": "system"}
    assert second["actor"] == {"party_id": "forwarder", "role": "system"}
    assert first["request_id"] is None and first["object"] is None


@pytest.mark.parametrize("kwargs", [
    {"action": "prescription.looked_at"},
    {"action": "prescription.viewed", "outcome": "maybe"},
    {"action": "prescription.viewed", "object_type": "patient", "object_id": "1"},
    {"action": "prescription.viewed", "object_id": "1"},
    {"action": "prescription.viewed", "content_sha256": "XYZ"},
    {"action": "prescription.viewed", "details": {"x": float("nan")}},
])
def test_bad_events_are_refused_before_anything_is_stored(app: Flask, kwargs) -> None:
    action = kwargs.pop("action")
    with app.app_context(), pytest.raises(ValueError):
        audit.record(action, **kwargs)
    assert events(app) == []


def test_concurrent_writers_get_unique_gap_free_numbers(app: Flask) -> None:
    ids: list[str] = []
    lock = threading.Lock()

    def write() -> None:
        got = record_some(app, 10)
        with lock:
            ids.extend(got)

    threads = [threading.Thread(target=write) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 60
    assert [event["seq"] for event in events(app)] == list(range(60))
    with app.app_context():
        stored = [doc["event_id"] for doc in audit.get_db()[EVENTS].find({}, {"event_id": 1})]
    assert sorted(stored) == sorted(ids)


def _record_from_another_process(uri: str, db_name: str, count: int) -> list[str]:
    import pymongo

    from gateway.audit.log import AuditLog

    client = pymongo.MongoClient(uri, tz_aware=True)
    try:
        log = AuditLog(client[db_name], patient_key=b"k" * 32)
        return [log.record("prescription.viewed", object_type="prescription", object_id="X",
                           actor="worker") for _ in range(count)]
    finally:
        client.close()


def _sequence_from_another_process(uri: str, db_name: str) -> int:
    import pymongo

    from gateway.audit.tree import sequence_all
    from tests.support.audit import sources

    client = pymongo.MongoClient(uri, tz_aware=True)
    try:
        return sequence_all(client[db_name], sources(client[db_name]), batch_size=7)
    finally:
        client.close()


def test_writers_in_several_processes_get_unique_gap_free_numbers(app: Flask,
                                                                  app_config: dict) -> None:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        results = pool.starmap(_record_from_another_process,
                               [(app_config["MONGODB_URI"], app_config["DB_NAME"], 15)] * 3)
        # Three sequencers in three processes race for the numbers of the 45 queued events.
        numbered = pool.starmap(_sequence_from_another_process,
                                [(app_config["MONGODB_URI"], app_config["DB_NAME"])] * 3)
    ids = [event_id for result in results for event_id in result]
    assert len(set(ids)) == 45 and sum(numbered) <= 45
    assert [event["seq"] for event in events(app)] == list(range(45))
    with app.app_context():
        database = audit.get_db()
        assert sorted(doc["event_id"] for doc in database[EVENTS].find()) == sorted(ids)
        assert database[audit.QUEUE].count_documents({}) == 0


def test_recording_is_one_insert_and_no_counter(app: Flask) -> None:
    """Trillian-style: an event is queued without a sequence number; the sequencer numbers
    queued events in batches."""
    with app.app_context():
        database = audit.get_db()
        record_some(app, 3)
        assert database[EVENTS].count_documents({}) == 0
        assert database[audit.QUEUE].count_documents({}) == 3
        assert "audit_counters" not in database.list_collection_names()
    assert [event["seq"] for event in events(app)] == [0, 1, 2]
    with app.app_context():
        assert audit.get_db()[audit.QUEUE].count_documents({}) == 0


def test_a_sequencer_that_died_before_removing_its_events_never_numbers_them_twice(
        app: Flask) -> None:
    from gateway.audit import store

    ids = record_some(app, 4)
    with app.app_context():
        database = audit.get_db()
        queued = [doc["event"] for doc in database[audit.QUEUE].find().sort("_id", 1)]
        # A sequencer stored the first two under 0 and 1, then died before removing them.
        database[EVENTS].insert_many([{**event, "_id": n} for n, event in enumerate(queued[:2])])
        stored = store.sequence(database, audit.sources(database))
    assert [doc["event_id"] for doc in stored] == ids[2:]
    assert [(e["seq"], e["object"]["id"]) for e in events(app)] == [
        (n, f"79001ABCD{n:03d}-c") for n in range(4)]
    with app.app_context():
        assert audit.get_db()[audit.QUEUE].count_documents({}) == 0


@pytest.mark.parametrize("size_read", [0, 6, 5_000],
                         ids=["size-read-before", "size-read-after", "log-grown-since"])
def test_a_sequencer_that_raced_another_over_the_same_events_removes_them_with_one_read(
        app: Flask, size_read: int) -> None:
    """Two sequencers read the same waiting events (the forwarder's sealer and a reader of the
    log, say) and the other stored them all first: this one's first insert is refused, and one
    read finds every event already in the log, so it removes them from the queue at once, not
    with one refused insert, one read and one removal per event."""
    import pymongo

    from gateway.audit import store
    from tests.support.commands import Commands

    record_some(app, 6)
    with app.app_context():
        database = audit.get_db()
        queued = [doc["event"] for doc in database[audit.QUEUE].find().sort("_id", 1)]
        database[EVENTS].insert_many([{**event, "_id": n} for n, event in enumerate(queued)])
        listener = Commands()
        host, port = database.client.address
        client: pymongo.MongoClient = pymongo.MongoClient(host, port, tz_aware=True,
                                                          event_listeners=[listener])
        try:
            loser = client[database.name]
            # It read the log's size before the other stored the events (its numbers are
            # taken), or after (its numbers are free, the events are not), or much later (other
            # batches were numbered since: the winner's batch is far behind its numbers)
            with listener.everywhere() as sent:
                stored = store.sequence(loser, audit.sources(loser), limit=6, start=size_read)
        finally:
            client.close()
        assert stored == []
        assert database[audit.QUEUE].count_documents({}) == 0
    assert [(name, target) for name, target in sent if target == EVENTS] == [
        ("insert", EVENTS), ("find", EVENTS)]
    assert [event["seq"] for event in events(app)] == list(range(6))


def test_a_sequencer_that_loses_the_race_for_a_number_leaves_its_events_queued(
        app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.audit import store

    record_some(app, 3)
    with app.app_context():
        database = audit.get_db()
        queue = store.QueueSource(database)
        first_number = store.next_number

        def raced(database_):  # another sequencer takes the end right after we read it
            end = first_number(database_)
            [first] = queue.pending(1)
            database_[EVENTS].insert_one({**first, "_id": end})
            queue.acknowledge([first])
            return end

        monkeypatch.setattr(store, "next_number", raced)
        assert store.sequence(database, [queue]) == []
        monkeypatch.setattr(store, "next_number", first_number)
        assert database[audit.QUEUE].count_documents({}) == 2  # nothing lost, nothing numbered
    assert [event["seq"] for event in events(app)] == [0, 1, 2]


def test_a_hole_left_by_an_earlier_version_is_explained_and_the_log_seals_past_it(
        app: Flask) -> None:
    """Databases written by the counter of earlier versions may hold a number whose writer
    died: the sealer still waits the grace period, then records audit.sequence_lost."""
    record_some(app, 2)
    events(app)  # numbers 0 and 1
    with app.app_context():
        database = audit.get_db()
        later = dict(database[EVENTS].find_one({"_id": 1}), _id=3, event_id="legacy-3")
        database[EVENTS].insert_one(later)  # number 2 was taken, never stored
        head = audit.seal(database, audit.gateway_signer(), gap_grace_seconds=3600)
        assert head.tree_size == 2  # a young hole: seal up to it and wait
        old = datetime.now(UTC) - timedelta(hours=2)
        database[EVENTS].update_one({"_id": 3}, {"$set": {"time": old}})
        head = audit.seal(database, audit.gateway_signer(), gap_grace_seconds=3600)
    assert head.tree_size == 4
    lost = events(app, _id=2)[0]
    assert lost["action"] == "audit.sequence_lost" and lost["outcome"] == "failure"


# --- sealing -------------------------------------------------------------------------------------

def test_sealing_commits_every_event_and_signs_the_head(app: Flask, client: FlaskClient) -> None:
    from signing.jws import verify_detached

    with app.app_context():
        empty = audit.seal_now()
    assert (empty.tree_size, empty.root_hash) == (0, merkle.EMPTY_ROOT)
    record_some(app, 5)
    head = seal(app)
    assert head.tree_size == 5
    leaves = [audit.event_leaf(event) for event in events(app)]
    reference = merkle.MerkleTree(merkle.InMemoryNodeStore())
    reference.append(leaves)
    assert head.root_hash == reference.root()
    jwks = client.get("/.well-known/jwks.json").get_json()
    verify_detached(head.payload(), head.signature, jwks)
    assert seal(app) == head  # nothing new: the same head
    record_some(app, 3)
    with app.app_context():
        bigger = audit.seal(audit.get_db(), audit.gateway_signer(), batch_size=2)
    assert bigger.tree_size == 8


def test_two_sealers_racing_agree(app: Flask) -> None:
    record_some(app, 40)
    heads: list[audit.TreeHead] = []

    def run() -> None:
        with app.app_context():
            heads.append(audit.seal(audit.get_db(), audit.gateway_signer(), batch_size=7))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with app.app_context():
        final = audit.latest_tree_head(audit.get_db())
        assert audit.sealed_size(audit.get_db()) == 40
    reference = merkle.MerkleTree(merkle.InMemoryNodeStore())
    reference.append(audit.event_leaf(event) for event in events(app))
    assert final.tree_size == 40 and final.root_hash == reference.root()


def test_the_cli_seals(app: Flask, app_config: dict) -> None:
    record_some(app, 3)
    result = CliRunner().invoke(main, ["audit", "seal"], env=cli_env(app_config))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tree_size"] == 3


# --- events endpoint -----------------------------------------------------------------------------

def test_only_regulators_read_events(client: FlaskClient, auth_headers) -> None:
    assert client.get("/v2/audit/events").status_code == 401
    for role, code in (("clinic", "79001"), ("pharmacy", "NT1"), ("admin", "ops")):
        assert client.get("/v2/audit/events", headers=auth_headers(role, code)).status_code == 403


def test_filters_and_cursor_pagination(app: Flask, client: FlaskClient, regulator) -> None:
    with app.app_context():
        for i in range(5):
            audit.record("prescription.viewed", object_type="prescription",
                         object_id="P1" if i % 2 else "P2", patient_id="079190001234",
                         actor="someone")
        audit.record("prescription.cancelled", object_type="prescription", object_id="P1")
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "prescription": "P1", **({"cursor": cursor} if cursor else {})}
        page = client.get("/v2/audit/events", query_string=params, headers=regulator)
        assert page.status_code == 200, page.get_json()
        body = page.get_json()
        seen += [item["seq"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [e["seq"] for e in events(app, **{"object.id": "P1"})] == seen
    by_patient = client.get("/v2/audit/events", query_string={"patient": "079190001234"},
                            headers=regulator).get_json()["items"]
    assert len(by_patient) == 5
    family = client.get("/v2/audit/events", query_string={"action": "prescription.*",
                                                          "actor": "cli"},
                        headers=regulator).get_json()["items"]
    assert [item["action"] for item in family] == ["prescription.cancelled"]
    now = datetime.now(UTC)
    window = client.get("/v2/audit/events", query_string={
        "from": (now - timedelta(minutes=5)).isoformat(), "to": now.isoformat(),
        "action": "prescription.viewed"}, headers=regulator).get_json()["items"]
    assert len(window) == 5
    later = client.get("/v2/audit/events", query_string={"from": now.isoformat()},
                       headers=regulator).get_json()["items"]
    assert all(item["action"] == "auth.login" for item in later)


@pytest.mark.parametrize("params, parameter", [
    ({"from": "yesterday"}, "from"),
    ({"from": "2026-01-01T00:00:00"}, "from"),  # no offset
    ({"from": "2026-02-01T00:00:00+07:00", "to": "2026-01-01T00:00:00+07:00"}, "to"),
    ({"limit": "0"}, "limit"),
    ({"cursor": "abc"}, "cursor"),
    ({"action": "prescription.eaten"}, "action"),
    ({"patient": "07919<script>"}, "patient"),
    ({"colour": "red"}, "colour"),
])
def test_bad_query_parameters_are_422_naming_the_parameter(client: FlaskClient, regulator,
                                                           params, parameter) -> None:
    answer = client.get("/v2/audit/events", query_string=params, headers=regulator)
    assert answer.status_code == 422
    assert answer.mimetype == "application/problem+json"
    assert parameter in [item.get("parameter") for item in answer.get_json()["errors"]]


def test_csv_and_ndjson_exports(app: Flask, client: FlaskClient, regulator) -> None:
    record_some(app, 3, patient_id="079190001234")
    ndjson = client.get("/v2/audit/events", headers={**regulator,
                                                      "Accept": "application/x-ndjson"})
    assert ndjson.mimetype == "application/x-ndjson"
    lines = [json.loads(line) for line in ndjson.get_data(as_text=True).splitlines()]
    assert lines == events(app)
    exported = client.get("/v2/audit/events", query_string={"action": "prescription.viewed"},
                          headers={**regulator, "Accept": "text/csv"})
    assert exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [int(row["seq"]) for row in rows] == [
        e["seq"] for e in events(app, action="prescription.viewed")]
    assert rows[0]["object_id"] == "79001ABCD000-c" and len(rows[0]["patient_hash"]) == 64
    refused = client.get("/v2/audit/events", headers={**regulator, "Accept": "text/html"})
    assert refused.status_code == 406


# --- logins and parties --------------------------------------------------------------------------

def test_logins_leave_events(app: Flask, client: FlaskClient, make_party) -> None:
    clinic = make_party("clinic", "79001")
    doctor = make_party("doctor", "BS01", "79001")
    clinic.headers(client)
    client.post("/v2/auth/token", json={"grant_type": "client_credentials",
                                        "client_id": clinic.client_id, "client_secret": "no"})
    client.post("/api/auth/dang-nhap-bac-si", json={
        "ma_lien_thong_co_so_kham_chua_benh": "79001", "ma_lien_thong_bac_si": "BS01",
        "password": doctor.client_secret})
    client.post("/api/auth/dang-nhap-co-so-kham-chua-benh", json={
        "ma_lien_thong_co_so_kham_chua_benh": "79999", "password": "guess"})
    logins = [(e["actor"]["party_id"], e["object"]["id"], e["outcome"], e["details"]["method"])
              for e in events(app, action="auth.login")]
    assert logins == [
        ("clinic-79001", "clinic-79001", "success", "client_credentials"),
        (None, "clinic-79001", "failure", "client_credentials"),
        ("doctor-79001-BS01", "doctor-79001-BS01", "success", "national_doctor"),
        (None, "79999", "failure", "national_facility"),
    ]
    assert all(json.dumps(e) != "no" and "guess" not in json.dumps(e) for e in events(app))


def test_party_changes_from_the_cli_leave_events(app: Flask, app_config: dict) -> None:
    env = cli_env(app_config)
    runner = CliRunner()
    for args in (["parties", "create", "--role", "pharmacy", "--code", "NT9", "--name", "NT"],
                 ["parties", "disable", "pharmacy-NT9"], ["parties", "enable", "pharmacy-NT9"],
                 ["parties", "rotate-secret", "pharmacy-NT9"]):
        assert runner.invoke(main, args, env=env).exit_code == 0
    changes = [(e["action"], e["object"]["id"], e["actor"]["party_id"]) for e in events(app)]
    assert changes == [("party.created", "pharmacy-NT9", "cli"),
                       ("party.disabled", "pharmacy-NT9", "cli"),
                       ("party.enabled", "pharmacy-NT9", "cli"),
                       ("party.secret_rotated", "pharmacy-NT9", "cli")]


# --- tree head and proofs ------------------------------------------------------------------------

def test_tree_head_and_proofs_verify(app: Flask, client: FlaskClient, auth_headers) -> None:
    headers = auth_headers("pharmacy", "NT1")  # hashes only: any party may monitor the log
    assert client.get("/v2/audit/tree-head", headers=headers).status_code == 404
    assert client.get("/v2/audit/proofs/inclusion?index=0", headers=headers).status_code == 404
    assert client.get("/v2/audit/proofs/consistency?first=1",
                      headers=headers).status_code == 404
    record_some(app, 6)
    first = seal(app)
    record_some(app, 7)
    second = seal(app)
    head = client.get("/v2/audit/tree-head", headers=headers).get_json()
    assert head == second.to_json() and head["tree_size"] == second.tree_size
    older = client.get("/v2/audit/tree-head", query_string={"tree_size": first.tree_size},
                       headers=headers).get_json()
    assert older == first.to_json()
    for index in range(second.tree_size):
        proof = client.get("/v2/audit/proofs/inclusion",
                           query_string={"index": index}, headers=headers).get_json()
        leaf = merkle.leaf_hash(audit.event_leaf(events(app, _id=index)[0]))
        assert proof["leaf_hash"] == leaf.hex()
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        assert rfc_verify_inclusion(index, second.tree_size, leaf, path, second.root_hash)
        merkle.verify_inclusion(leaf, index, second.tree_size, path, second.root_hash)
    consistency = client.get("/v2/audit/proofs/consistency", query_string={
        "first": first.tree_size, "second": second.tree_size}, headers=headers).get_json()
    path = [bytes.fromhex(h) for h in consistency["consistency_path"]]
    assert rfc_verify_consistency(first.tree_size, second.tree_size, first.root_hash,
                                  second.root_hash, path)
    merkle.verify_consistency(first.tree_size, second.tree_size, first.root_hash,
                              second.root_hash, path)


@pytest.mark.parametrize("path, params, parameter", [
    ("/v2/audit/proofs/inclusion", {"index": "3", "tree_size": "3"}, "index"),
    ("/v2/audit/proofs/inclusion", {"index": "0", "tree_size": "99"}, "tree_size"),
    ("/v2/audit/proofs/inclusion", {}, "index"),
    ("/v2/audit/proofs/inclusion", {"index": "-1"}, "index"),
    ("/v2/audit/proofs/consistency", {"first": "4", "second": "3"}, "first"),
    ("/v2/audit/proofs/consistency", {"first": "0"}, "first"),
    ("/v2/audit/proofs/consistency", {"first": "1", "second": "99"}, "second"),
    ("/v2/audit/tree-head", {"tree_size": "x"}, "tree_size"),
])
def test_bad_proof_parameters_are_422_naming_them(app: Flask, client: FlaskClient, regulator,
                                                  path, params, parameter) -> None:
    record_some(app, 4)
    seal(app)
    answer = client.get(path, query_string=params, headers=regulator)
    assert answer.status_code == 422, answer.get_json()
    assert parameter in [item.get("parameter") for item in answer.get_json()["errors"]]


# --- the patient's access log --------------------------------------------------------------------

def test_access_log_lists_who_read_a_persons_prescriptions(app: Flask, client: FlaskClient,
                                                          make_party, regulator) -> None:
    pharmacy = make_party("pharmacy", "NT1", name="Nhà thuốc Long Châu 1")
    pharmacy_headers = pharmacy.headers(client)
    with app.test_request_context("/"):
        from flask import g

        from gateway.web.context import services
        g.party = services().parties.get(pharmacy.client_id)
        audit.record("prescription.viewed", object_type="prescription",
                     object_id="79001A1B2C3D-c", patient_id="079190001234")
        audit.record("prescription.viewed", object_type="prescription",
                     object_id="79001ZZZZZZZ-c", patient_id="001203000999")  # someone else
        audit.record("prescription.dispensed", object_type="prescription",
                     object_id="79001A1B2C3D-c", patient_id="079190001234")
    answer = client.get("/v2/patients/079190001234/access-log", headers=regulator)
    assert answer.status_code == 200, answer.get_json()
    items = answer.get_json()["items"]
    assert [(i["party_id"], i["party_name"], i["action"], i["ma_don_thuoc"]) for i in items] == [
        ("pharmacy-NT1", "Nhà thuốc Long Châu 1", "prescription.viewed", "79001A1B2C3D-c"),
        ("pharmacy-NT1", "Nhà thuốc Long Châu 1", "prescription.dispensed", "79001A1B2C3D-c")]
    # Reading someone's access log is itself recorded, under their keyed hash.
    [viewed] = events(app, action="patient.access_log_viewed")
    with app.app_context():
        assert viewed["patient_hash"] == audit.patient_hash("079190001234")
    assert client.get("/v2/patients/079190001234/access-log",
                      headers=pharmacy_headers).status_code == 403
    bad = client.get("/v2/patients/07919/access-log", headers=regulator)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["parameter"] == "cccd"


def test_production_requires_a_patient_key(app_config: dict) -> None:
    from gateway import create_app
    from gateway.core.config import ConfigError

    with pytest.raises(ConfigError, match="AUDIT_PATIENT_KEY"):
        create_app({**app_config, "ENV": "production", "AUDIT_PATIENT_KEY": ""})
    with pytest.raises(ConfigError, match="32"):
        create_app({**app_config, "AUDIT_PATIENT_KEY": "short"})


def test_a_catalog_import_leaves_an_event(app: Flask, app_config: dict) -> None:
    import hashlib

    from tests.support.environment import DAV_SAMPLE

    result = CliRunner().invoke(main, ["catalog", "import", str(DAV_SAMPLE)],
                                env=cli_env(app_config))
    assert result.exit_code in (0, 1), result.output
    [event] = events(app, action="catalog.imported")
    assert event["object"] == {"type": "catalog", "id": DAV_SAMPLE.name}
    assert event["content_sha256"] == hashlib.sha256(DAV_SAMPLE.read_bytes()).hexdigest()
    assert event["details"]["added"] + event["details"]["rejected"] > 0


def test_key_generation_and_rotation_leave_events(app: Flask, app_config: dict) -> None:
    env = cli_env(app_config)
    generated = CliRunner().invoke(main, ["keys", "generate"], env=env)
    assert generated.exit_code == 0, generated.output
    rotated = CliRunner().invoke(main, ["keys", "rotate"], env=env)
    assert rotated.exit_code == 0, rotated.output
    keys = [(e["action"], e["object"]["id"]) for e in events(app) if e["action"].startswith("key.")]
    assert keys == [("key.generated", json.loads(generated.stdout)["kid"]),
                    ("key.rotated", json.loads(rotated.stdout)["kid"])]


def test_the_periodic_sealer_seals_new_events(app: Flask) -> None:
    import time

    record_some(app, 3)
    sealer = audit.periodic_sealer(app, interval=0.05)
    sealer.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with app.app_context():
                head = audit.latest_tree_head(audit.get_db())
            if head is not None and head.tree_size == 3:
                break
            time.sleep(0.05)
        record_some(app, 2)
        while time.monotonic() < deadline:
            with app.app_context():
                head = audit.latest_tree_head(audit.get_db())
            if head.tree_size == 5:
                break
            time.sleep(0.05)
    finally:
        sealer.stop()
    assert head is not None and head.tree_size == 5
    assert not sealer.thread.is_alive()


def test_sealing_without_a_usable_key_is_a_clear_error(app: Flask, app_config: dict) -> None:
    record_some(app, 1)
    env = {**cli_env(app_config), "ERX_ENV": "production",
           "ERX_AUDIT_PATIENT_KEY": "p" * 40, "ERX_SIGNING_KEY_PASSPHRASE": "k" * 40}
    result = CliRunner().invoke(main, ["audit", "seal"], env=env)
    assert result.exit_code == 1 and "keys generate" in result.output
    assert "Traceback" not in result.output


def test_first_events_of_a_new_database_recorded_at_once_all_get_numbers(app) -> None:
    """Regression: eight writers racing on a new database (the forwarder's threads) once got
    no counter document back and failed; now they share nothing but the queue."""
    log = services(app).audit
    database = log.database
    for round_number in range(5):
        database[audit.QUEUE].delete_many({})
        database[EVENTS].delete_many({})
        barrier = threading.Barrier(8)
        ids: list[str] = []
        failures: list[BaseException] = []

        def writer(barrier: threading.Barrier = barrier, ids: list[str] = ids,
                   failures: list[BaseException] = failures) -> None:
            barrier.wait()
            try:
                ids.append(log.record("delivery.delivered", actor="forwarder",
                                      object_type="prescription", object_id="79001X"))
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=writer) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == [], f"round {round_number}: {failures!r}"
        assert len(set(ids)) == 8
        assert [doc["_id"] for doc in audit.audit_log(database).find().sort("_id", 1)] == \
            list(range(8))
