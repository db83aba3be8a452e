"""README's "First prescription in five minutes" block, run twice with bash against a served
gateway: both runs issue, dispense and cancel, and the block writes nothing where it is run."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.support.cli import cli_env

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


def readme_block() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## First prescription in five minutes"):]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


@pytest.fixture
def served(app: Flask, demo_catalog) -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(30)


def test_the_first_prescription_block_runs_twice(served: str, app_config: dict,
                                                 tmp_path: Path) -> None:
    if not shutil.which("curl"):
        pytest.skip("the README block uses curl")
    block = readme_block().replace("localhost:8000", served)
    assert block != readme_block()
    here = tmp_path / "checkout"
    here.mkdir()
    (here / ".venv").symlink_to(ROOT / ".venv")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ERX_")},
           **cli_env(app_config)}
    for run in (1, 2):
        done = subprocess.run(["bash", "-c", block], cwd=here, env=env, capture_output=True,
                              text=True, timeout=240)
        out = done.stdout
        assert done.returncode == 0, (run, out[-2000:], done.stderr[-2000:])
        assert "Traceback" not in done.stderr, (run, done.stderr[-3000:])
        assert '"status":"issued"' in out.replace(" ", ""), (run, out[-3000:])
        assert '"remaining":10' in out.replace(" ", ""), (run, out[-3000:])
        assert '"status":"cancelled"' in out.replace(" ", ""), (run, out[-3000:])
        for refused in ('"status":401', '"status":404', '"status":405', '"status":409'):
            assert refused not in out.replace(" ", ""), (run, out[-3000:])
    assert sorted(p.name for p in here.iterdir()) == [".venv"]  # nothing left in the checkout
