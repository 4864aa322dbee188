"""The engine benchmark's CPU smoke run: the script works end to end (its numbers mean nothing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_engine_benchmark_smoke_run_prints_its_table() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "engine_bench.py"),
            "--smoke",
            "--tokens",
            "4",
            "--concurrency",
            "1,2",
            "--profile-follow-up",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "time to first token" in out and "ms/token" in out
    rows = [
        line for line in out.splitlines() if line.startswith("| 1 |") or line.startswith("| 2 |")
    ]
    assert {row.split("|")[2].strip() for row in rows} == {"each its own", "2 shared"}
    assert {row.split("|")[3].strip() for row in rows} == {"naive", "engine"}
    assert len(rows) == 8  # two levels x two kinds of screenshots x two paths
    # the follow-up's split, and its prefill's operators
    held = next(line for line in out.splitlines() if line.startswith("| prompt tokens held"))
    reused, total = (int(n) for n in held.split("|")[2].split(" of "))
    assert 0 < reused < total
    assert "| follow-up prefill alone, this thread | ms |" in out and "aten::" in out
