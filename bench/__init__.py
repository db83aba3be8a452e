"""Benchmarks: ``make bench`` (or ``python -m bench [AREA ...]``).

Each module ``bench/<area>.py`` defines ``run() -> str`` returning a Markdown section (figures
and the command that produced them). The runner writes each section between markers in
BENCHMARKS.md, so one area can be re-run without touching the others' figures.
"""
