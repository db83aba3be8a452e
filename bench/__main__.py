"""Run benchmarks and record their figures in BENCHMARKS.md (see bench/__init__.py)."""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "BENCHMARKS.md"
AREAS = ("catalog", "validation", "signing", "lifecycle", "overlaps", "forwarding", "audit",
         "journaling", "sustained")
HEADER = """# Benchmarks

Produced by `make bench` (all areas) or `.venv/bin/python -m bench AREA`; each section says
the machine, the date and the exact command. Figures are measurements, not assertions: no
unit test checks wall-clock time.
"""


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{cpu}, {os.cpu_count()} cores{memory}; Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def write_section(area: str, body: str) -> None:
    text = OUTPUT.read_text() if OUTPUT.exists() else HEADER
    start, end = f"<!-- bench:{area}:start -->", f"<!-- bench:{area}:end -->"
    stamp = (f"_Machine: {machine()}. Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with "
             f"`.venv/bin/python -m bench {area}`._\n\n")
    block = f"{start}\n{stamp}{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    OUTPUT.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("areas", nargs="*", help=f"some of {', '.join(AREAS)} (default: all)")
    args = parser.parse_args()
    areas = args.areas or [a for a in AREAS if (ROOT / "bench" / f"{a}.py").exists()]
    for area in areas:
        module = importlib.import_module(f"bench.{area}")
        print(f"== bench {area}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        write_section(area, module.run())
        print(f"   {area}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
