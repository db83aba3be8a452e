"""The cross-facility check under concurrency (issue 23 §2): two overlapping submissions for the
same person are decided one after the other, whatever their timing, in one process (threads
behind a barrier) or in two (two app processes against one database); the later one is
refused (narcotic) or warned (psychotropic), and every overlap is in the regulators' report
once. A submission that dies holding a claim does not block the person for longer than the
claim's lease; a refused one leaves nothing behind; a replayed Idempotency-Key answers the
first result."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.web.context import services
from tests.support.audit import audit_log
from tests.support.overlaps import DIAZEPAM, MORPHINE_INJ, MORPHINE_ORAL, SEDUXEN, day, rx
from tests.support.prescriptions import PARACETAMOL, PARACETAMOL_TWIN, submit

PAIRS = 100
REPORT = "/v2/reports/controlled-overlaps"


def cccd(person: int) -> str:
    return f"079090{person:06d}"


def narcotic_pair(world: dict[str, Any], person: int) -> tuple[dict, dict]:
    """Two overlapping narcotic prescriptions (days 0-6 and 3-9) for one person."""
    return (rx(world, "n", [MORPHINE_ORAL], [(0, 6)], cccd=cccd(person)),
            rx(world, "n", [MORPHINE_INJ], [(3, 9)], cccd=cccd(person)))


def outcome(answer: Any) -> tuple[int, list[str], list[str]]:
    """(status, error codes, overlap warning codes) of a submit answer."""
    body = answer.get_json() or {}
    errors = [e["code"] for e in body.get("errors", [])]
    warnings = [w["code"] for w in body.get("warnings", [])
                if w["code"] in ("control.overlap", "drug.duplicate_therapy")]
    return answer.status_code, errors, warnings


def side_by_side(app: Flask, sends: list[Callable[[FlaskClient], Any]]) -> list[Any]:
    """Run the ``sends`` in threads of their own, released together; their answers."""
    barrier = threading.Barrier(len(sends))
    answers: list[Any] = [None] * len(sends)

    def run(index: int) -> None:
        local = app.test_client()
        barrier.wait(timeout=60)
        answers[index] = sends[index](local)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(sends))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(answer is not None for answer in answers), "a submission did not finish"
    return answers


def from_both_facilities(app: Flask, world: dict[str, Any], first: dict[str, Any],
                         second: dict[str, Any]) -> list[Any]:
    """``first`` from the first facility's doctor and ``second`` from the other's, at once."""
    return side_by_side(app, [lambda c: submit(c, world["h"]["doctor_1"], first),
                              lambda c: submit(c, world["h"]["doctor_2"], second)])


def both_accepted(answers: list[Any], code: str) -> tuple[list[dict], list[dict]]:
    """The resources of two accepted submissions: those warned ``code``, and the others."""
    assert [a.status_code for a in answers] == [201, 201], [outcome(a) for a in answers]
    warned = [a.get_json() for a in answers if outcome(a)[2] == [code]]
    return warned, [a.get_json() for a in answers if outcome(a)[2] == []]


@pytest.fixture
def stale_reads(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worst timing, every time: each thread's first read of the person's prescriptions is
    made before any of the two submissions stores anything."""
    store = services(app).prescription_store
    read = store.overlap_candidates
    barrier = threading.Barrier(2)
    seen = threading.local()

    def stale(*args: Any, **kwargs: Any) -> Any:
        found = read(*args, **kwargs)
        if not getattr(seen, "once", False):
            seen.once = True
            barrier.wait(timeout=30)
        return found

    monkeypatch.setattr(store, "overlap_candidates", stale)


def report_items(client: FlaskClient, regulator: dict[str, str]) -> list[dict[str, Any]]:
    answer = client.get(REPORT, query_string={"limit": 1000}, headers=regulator)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["items"]


# --- the worst interleaving, made certain ------------------------------------------------------
def test_two_narcotics_read_before_either_is_stored_one_is_refused(
        app: Flask, client: FlaskClient, two: dict, stale_reads: None, database) -> None:
    first, second = narcotic_pair(two, 1)
    answers = from_both_facilities(app, two, first, second)
    outcomes = sorted(outcome(answer) for answer in answers)
    assert [status for status, _, _ in outcomes] == [201, 422], outcomes
    assert outcomes[1][1] == ["control.overlap"]
    assert database["prescriptions"].count_documents({}) == 1
    # the refusal is in the report, once, naming the accepted one
    [item] = report_items(client, two["h"]["regulator"])
    winner = next(a.get_json() for a in answers if a.status_code == 201)
    assert (item["outcome"], item["accepted"]) == ("refused", False)
    assert item["other"]["ma_don_thuoc"] == winner["ma_don_thuoc"]


def test_two_psychotropics_read_before_either_is_stored_the_later_is_warned(
        app: Flask, client: FlaskClient, two: dict, stale_reads: None) -> None:
    first = rx(two, "h", [DIAZEPAM], [(0, 9)], cccd=cccd(2))
    second = rx(two, "h", [SEDUXEN], [(5, 14)], cccd=cccd(2))
    warned, calm = both_accepted(from_both_facilities(app, two, first, second),
                                 "control.overlap")
    assert len(warned) == len(calm) == 1
    [item] = report_items(client, two["h"]["regulator"])
    assert (item["outcome"], item["accepted"]) == ("warned", True)
    assert item["prescription"]["ma_don_thuoc"] == warned[0]["ma_don_thuoc"]
    assert item["other"]["ma_don_thuoc"] == calm[0]["ma_don_thuoc"]


# --- 100 pairs released together ---------------------------------------------------------------
def test_a_hundred_concurrent_narcotic_pairs_never_both_accepted(
        app: Flask, client: FlaskClient, two: dict, database,
        monkeypatch: pytest.MonkeyPatch) -> None:
    statuses: dict[int, list[tuple[int, list[str]]]] = {person: [] for person in range(PAIRS)}
    barrier = threading.Barrier(2)
    lock = threading.Lock()
    records = services(app).overlaps
    claim, refused_claims = records.claim, []

    def counted(*args: Any, **kwargs: Any) -> bool:
        taken = claim(*args, **kwargs)
        if not taken:
            refused_claims.append(args[0])
        return taken

    monkeypatch.setattr(records, "claim", counted)

    def clinic(side: int, doctor: str) -> None:
        local = app.test_client()
        for person in range(PAIRS):
            body = narcotic_pair(two, 100 + person)[side]
            barrier.wait(timeout=60)
            status, errors, _ = outcome(submit(local, two["h"][doctor], body))
            with lock:
                statuses[person].append((status, errors))

    threads = [threading.Thread(target=clinic, args=(0, "doctor_1")),
               threading.Thread(target=clinic, args=(1, "doctor_2"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    both = [person for person, pair in statuses.items() if [s for s, _ in pair] == [201, 201]]
    assert both == []
    for person, pair in statuses.items():
        assert sorted(pair) == [(201, []), (422, ["control.overlap"])], (person, pair)
    assert database["prescriptions"].count_documents({}) == PAIRS
    refused = Counter(item["prescription"]["ma_don_thuoc"]
                      for item in report_items(client, two["h"]["regulator"]))
    assert len(refused) == PAIRS and set(refused.values()) == {1}
    # the pairs did meet: in many, the second read before the first was stored
    print(f"pairs whose second submission read too early: {len(set(refused_claims))}")
    assert refused_claims


def _clinic_process(config: dict[str, Any], headers: dict[str, str], bodies: list[dict],
                    barrier: Any, results: Any) -> None:
    """One app process of its own: submits its side of every pair, in step with the other."""
    from gateway import create_app  # a spawned process imports afresh

    application = create_app(config)
    application.config["TESTING"] = True
    try:
        assert services(application).wait_ready()
        local = application.test_client()
        barrier.wait(timeout=120)                      # both processes are up
        for person, body in enumerate(bodies):
            barrier.wait(timeout=60)
            status, errors, _ = outcome(submit(local, headers, body))
            results.put((person, status, errors))
    finally:
        services(application).close()


def test_a_hundred_pairs_from_two_processes_never_both_accepted(
        app_config: dict[str, Any], client: FlaskClient, two: dict, database) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    pairs = [narcotic_pair(two, 1000 + person) for person in range(PAIRS)]
    processes = [context.Process(target=_clinic_process, args=(
        app_config, two["h"][doctor], [pair[side] for pair in pairs], barrier, results))
        for side, doctor in enumerate(("doctor_1", "doctor_2"))]
    for process in processes:
        process.start()
    try:
        got: dict[int, list[tuple[int, list[str]]]] = {}
        for _ in range(2 * PAIRS):
            person, status, errors = results.get(timeout=120)
            got.setdefault(person, []).append((status, errors))
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
    assert [process.exitcode for process in processes] == [0, 0]
    both = [person for person, pair in got.items() if [s for s, _ in pair] == [201, 201]]
    assert both == []
    assert all(sorted(pair) == [(201, []), (422, ["control.overlap"])] for pair in got.values())
    assert database["prescriptions"].count_documents({}) == PAIRS
    assert len(report_items(client, two["h"]["regulator"])) == PAIRS


# --- what a claim leaves behind -----------------------------------------------------------------
def claims(app: Flask, database: Any, person: int) -> list[dict[str, Any]]:
    """The person's claims as stored (by the app's keyed hash of the CCCD)."""
    found = database["overlap_claims"].find_one(
        {"_id": services(app).audit.patient_hash(cccd(person))})
    return list(found["claims"]) if found else []


def stale_claim(app: Flask, database: Any, person: int, code: str, *, live_for: float) -> None:
    """A claim of a prescription never stored: its submitter died after claiming."""
    now = datetime.now(UTC)
    database["overlap_claims"].update_one(
        {"_id": services(app).audit.patient_hash(cccd(person))},
        {"$push": {"claims": {"code": code, "first": "2000-01-01", "last": "2999-12-31",
                              "until": now + timedelta(seconds=live_for)}}}, upsert=True)


def test_a_refused_submission_leaves_no_claim_and_the_winner_one(
        app: Flask, client: FlaskClient, two: dict, database: Any) -> None:
    first, second = narcotic_pair(two, 3)
    kept = submit(client, two["h"]["doctor_1"], first)
    assert kept.status_code == 201
    assert submit(client, two["h"]["doctor_2"], second).status_code == 422
    assert [c["code"] for c in claims(app, database, 3)] == [kept.get_json()["ma_don_thuoc"]]
    assert database["prescriptions"].count_documents({}) == 1


def test_a_claim_whose_submitter_died_blocks_only_until_it_expires(
        app: Flask, client: FlaskClient, two: dict, make_app, database: Any) -> None:
    body = narcotic_pair(two, 4)[0]
    stale_claim(app, database, 4, "79011DIED0001-n", live_for=60)
    impatient = make_app(RX_OVERLAP_WAIT_SECONDS=0.3).test_client()
    busy = submit(impatient, two["h"]["doctor_1"], body)
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "1", busy.get_json()
    assert database["prescriptions"].count_documents({}) == 0
    # a claim that lapses while the submission waits lets it through
    database["overlap_claims"].delete_many({})
    stale_claim(app, database, 4, "79011DIED0002-n", live_for=1)
    assert submit(client, two["h"]["doctor_1"], body).status_code == 201
    assert database["prescriptions"].count_documents({}) == 1


def test_a_stale_claim_never_refuses_it_only_delays(
        app: Flask, client: FlaskClient, two: dict, database: Any) -> None:
    """A claim is no prescription: once it lapsed, the check reads the real ones (none)."""
    stale_claim(app, database, 5, "79011DIED0003-n", live_for=-1)
    first, second = narcotic_pair(two, 5)
    assert submit(client, two["h"]["doctor_1"], first).status_code == 201
    refused = submit(client, two["h"]["doctor_2"], second)
    assert outcome(refused)[:2] == (422, ["control.overlap"])


def test_a_full_claims_document_drops_its_expired_claims(
        app: Flask, client: FlaskClient, two: dict, database: Any) -> None:
    for number in range(64):
        stale_claim(app, database, 6, f"79011OLD{number:04d}-n", live_for=-1)
    first = narcotic_pair(two, 6)[0]
    stored = submit(client, two["h"]["doctor_1"], first)
    assert stored.status_code == 201, stored.get_json()
    assert [c["code"] for c in claims(app, database, 6)] == [stored.get_json()["ma_don_thuoc"]]


def test_an_insert_that_stores_nothing_releases_its_claim(
        app: Flask, client: FlaskClient, two: dict, database: Any) -> None:
    first = narcotic_pair(two, 7)[0]
    kept = submit(client, two["h"]["doctor_1"], first).get_json()
    # the same code with other content (days 20-26, overlapping nothing): 409, no claim kept
    clash = rx(two, "n", [MORPHINE_ORAL], [(20, 26)], cccd=cccd(7),
               ma_don_thuoc=kept["ma_don_thuoc"])
    assert submit(client, two["h"]["doctor_1"], clash).status_code == 409
    assert [(c["code"], c["first"]) for c in claims(app, database, 7)] == [
        (kept["ma_don_thuoc"], day(0).isoformat())]


def test_a_claim_that_lapsed_before_the_insert_stores_nothing(
        app: Flask, two: dict, make_app, database: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    slow = make_app(RX_OVERLAP_CLAIM_SECONDS=1)
    submission = services(slow).submission
    sign = submission.sign
    lapse = threading.Event()

    def stalled(document: Any) -> Any:
        lapse.wait(1.5)                       # a process stalled longer than its claim lives
        return sign(document)

    monkeypatch.setattr(submission, "sign", stalled)
    answer = submit(slow.test_client(), two["h"]["doctor_1"], narcotic_pair(two, 8)[0])
    assert answer.status_code == 503, answer.get_json()
    assert database["prescriptions"].count_documents({}) == 0
    assert claims(app, database, 8) == []


def test_replays_of_a_concurrent_pair_answer_the_first_results(
        app: Flask, two: dict, stale_reads: None, database: Any) -> None:
    first, second = narcotic_pair(two, 9)
    keys = [{"Idempotency-Key": "race-pair-1"}, {"Idempotency-Key": "race-pair-2"}]
    sends = [lambda c: submit(c, two["h"]["doctor_1"], first, **keys[0]),
             lambda c: submit(c, two["h"]["doctor_2"], second, **keys[1])]
    answers = side_by_side(app, sends)
    assert sorted(a.status_code for a in answers) == [201, 422]
    replays = [send(app.test_client()) for send in sends]
    for answer, replay in zip(answers, replays, strict=True):
        assert (replay.status_code, replay.get_json()) == (answer.status_code,
                                                           answer.get_json())
        assert replay.headers["Idempotent-Replayed"] == "true"
    assert database["prescriptions"].count_documents({}) == 1


@pytest.fixture
def stale_inserts(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both submissions are valid and about to be stored before either is."""
    store = services(app).prescription_store
    insert = store.insert
    barrier = threading.Barrier(2)

    def together(stored: Any) -> bool:
        barrier.wait(timeout=30)
        return insert(stored)

    monkeypatch.setattr(store, "insert", together)


def test_two_duplicate_therapies_stored_at_once_the_later_is_warned(
        app: Flask, two: dict, stale_inserts: None, database: Any) -> None:
    first = rx(two, "c", [PARACETAMOL], [(0, 9)], cccd=cccd(10))
    second = rx(two, "c", [PARACETAMOL_TWIN], [(5, 12)], cccd=cccd(10))
    warned, _ = both_accepted(from_both_facilities(app, two, first, second),
                              "drug.duplicate_therapy")
    assert warned
    # what the answer said is what the prescription keeps, and is audited
    for resource in warned:
        stored = database["prescriptions"].find_one({"_id": resource["ma_don_thuoc"]})
        assert [w["code"] for w in stored["warnings"]
                if w["code"] == "drug.duplicate_therapy"] == ["drug.duplicate_therapy"]
    audited = audit_log(database).count_documents({"action": "prescription.overlap_warned"})
    assert audited == len(warned)
