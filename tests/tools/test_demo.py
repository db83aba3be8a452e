"""`make demo` runs from start to end against a gateway of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.environment import free_port
from tools import demo

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_demo_walks_the_whole_flow() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ERX_")}
    env.update({"ERX_DEMO_URL": f"http://127.0.0.1:{free_port()}",
                "ERX_SECRET_HASH_TIME_COST": "1", "ERX_SECRET_HASH_MEMORY_KIB": "1024"})
    done = subprocess.run([sys.executable, "-m", "tools.demo"], env=env, capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    statuses = [line for line in done.stdout.splitlines() if line.startswith("--> ")]
    assert statuses == ["--> 201", "--> 200", "--> 201", "--> 201", "--> 409", "--> 201",
                        "--> 200", "--> 409", "--> 200",
                        # the FHIR face: a transaction Bundle, its read, a MedicationDispense
                        "--> 200", "--> 200", "--> 201"]
    # The forwarder delivered everything to the registry double: 2 prescriptions, 2 dispense
    # reports, 1 cancellation.
    assert ("Received by the national-registry simulator: prescriptions 2, dispense reports 2, "
            "cancellations 1.") in done.stdout
    assert "dispense.over_quantity" in done.stdout or "dispense.state" in done.stdout
    assert '"resourceType": "MedicationRequest"' in done.stdout
    assert "Demo finished." in done.stdout


def test_the_demo_makes_parties_of_its_own_and_changes_no_one_elses(monkeypatch) -> None:
    calls: list[list[str]] = []

    def run(argv, **_):
        calls.append(argv[1:])
        code = argv[argv.index("--code") + 1]
        return subprocess.CompletedProcess(argv, 0, stdout=json.dumps({"client_id": code}),
                                           stderr="")

    monkeypatch.setattr(demo.subprocess, "run", run)
    facility, parties = demo.Demo("http://127.0.0.1:9", {}).own_parties()
    again, _ = demo.Demo("http://127.0.0.1:9", {}).own_parties()
    assert all(call[:2] == ["parties", "create"] for call in calls)  # no update, no rotation
    codes = [call[call.index("--code") + 1] for call in calls]
    assert len(set(codes)) == 8 and facility != again and len(facility) == 5
    assert not {"79001", "NT0001", "NT0002", "BS0001"} & set(codes)  # README's codes
    assert [party["client_id"] for party in parties] == codes[1:4]
