"""Smoke test of bench/dashboard.py: a short run with two devices, every line of the report printed.

It checks that the benchmark works, not its figures (no timed assertions: the machine may be busy).
"""

from __future__ import annotations

import pytest

from ._bench import run_bench
from ._dashboard_helpers import chromium_path


@pytest.mark.timeout(150)
def test_dashboard_bench_runs() -> None:
    if chromium_path() is None:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's chromium)")
    out = run_bench("dashboard.py", "--seconds", "1", "--devices", "2", "--rate", "50", timeout=140).stdout
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
