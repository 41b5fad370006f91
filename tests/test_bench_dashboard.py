"""Smoke test of bench/dashboard.py: a short run with two devices, every line of the report printed.

It checks that the benchmark works, not its figures (no timed assertions: the machine may be busy).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ._dashboard_helpers import chromium_path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "dashboard.py"


@pytest.mark.timeout(150)
def test_dashboard_bench_runs() -> None:
    if chromium_path() is None:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's chromium)")
    result = subprocess.run(
        [sys.executable, str(BENCH), "--seconds", "1", "--devices", "2", "--rate", "50"],
        capture_output=True,
        text=True,
        timeout=140,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for line in (
        "Latency at 50 Hz",
        "controller subscribe() (baseline)",
        "dashboard page DOM",
        "goal: page p99 <= 20 ms",
        "CPU with 2 devices x 10 Hz",
        "dashboard server, one page open",
        "goal: dashboard server < 20% of one core",
    ):
        assert line in out, out
    assert "Traceback" not in result.stderr
