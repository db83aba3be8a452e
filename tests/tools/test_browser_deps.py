"""`make test` on a fresh machine: tools/browser-deps, run by `make test` and so by .ci/run,
installs Chromium and its driver when they are missing and it can (root with apt-get), or else
stops at once with one line saying how."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "browser-deps"


def _bin(tmp_path: Path, uid: int, apt: bool) -> Path:
    """A PATH of its own: bash, a fake `id` and, when asked, a fake apt-get that 'installs'
    chromium and chromedriver into it and records its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "bash").symlink_to(shutil.which("bash"))
    _script(bin_dir / "id", f"echo {uid}")
    (bin_dir / "mktemp").symlink_to(shutil.which("mktemp"))
    (bin_dir / "rm").symlink_to(shutil.which("rm"))
    (bin_dir / "cat").symlink_to(shutil.which("cat"))
    if apt:
        _script(bin_dir / "apt-get", f'echo "$*" >> {tmp_path}/apt.log\n'
                f'case "$*" in *install*) for p in chromium chromedriver; do '
                f'printf "#!/bin/sh\\n" > {bin_dir}/$p; {shutil.which("chmod")} +x {bin_dir}/$p; done;; esac')
    return bin_dir


def _script(path: Path, body: str) -> None:
    path.write_text(f"#!{shutil.which('bash')}\n{body}\n")
    path.chmod(0o755)


def _run(bin_dir: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ERX_")}
    return subprocess.run([shutil.which("bash"), str(SCRIPT)], capture_output=True, text=True,
                          timeout=30, env={**clean, "PATH": str(bin_dir), **env})


def test_without_root_it_stops_at_once_with_one_line_saying_how(tmp_path: Path) -> None:
    done = _run(_bin(tmp_path, uid=1000, apt=True))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "apt-get install chromium chromium-driver" in lines[0]
    assert "ERX_SKIP_BROWSER=1" in lines[0]
    assert not (tmp_path / "apt.log").exists()


def test_without_apt_it_stops_at_once_too(tmp_path: Path) -> None:
    done = _run(_bin(tmp_path, uid=0, apt=False))
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1


def test_as_root_with_apt_it_installs_chromium_and_its_driver(tmp_path: Path) -> None:
    bin_dir = _bin(tmp_path, uid=0, apt=True)
    done = _run(bin_dir)
    assert done.returncode == 0, done.stderr
    log = (tmp_path / "apt.log").read_text()
    assert "install" in log and "chromium chromium-driver" in log
    again = _run(bin_dir)  # installed now: nothing more to do
    assert again.returncode == 0 and log == (tmp_path / "apt.log").read_text()


def test_named_browsers_or_the_skip_switch_need_nothing(tmp_path: Path) -> None:
    bin_dir = _bin(tmp_path, uid=1000, apt=False)
    _script(tmp_path / "chrome", "true")
    assert _run(bin_dir, ERX_CHROMIUM=str(tmp_path / "chrome"),
                ERX_CHROMEDRIVER=str(tmp_path / "chrome")).returncode == 0
    assert _run(bin_dir, ERX_SKIP_BROWSER="1").returncode == 0


def test_make_test_and_ci_share_the_script() -> None:
    planned = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True,
                             timeout=60).stdout
    assert "tools/browser-deps" in planned
    assert planned.index("tools/browser-deps") < planned.index("pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "apt-get" not in ci
    readme = (ROOT / "README.md").read_text()
    head = readme[:readme.index("## What it is")]
    assert "Chromium" in head and "ERX_SKIP_BROWSER=1" in head
