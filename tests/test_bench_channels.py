"""Smoke test of bench/channels.py: ``--quick`` runs every part end to end and prints the summary.

It checks that the benchmark works, not its figures (no timed assertions: the machine may be busy).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "channels.py"


@pytest.mark.timeout(90)
def test_channels_bench_quick_runs_and_prints_the_summary() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    for title in ("(a) sensor readings", "(b) input states", "(c) 5 controllers", "(d) audio byte stream", "summary"):
        assert title in out
    summary = out[out.index("summary") :]
    for goal in ("(a) readings/s", "(b) input p99, idle", "(b) frames delivered after a newer one",
                 "(c) readings delivered", "(c) device CPU", "(d) audio stream"):  # fmt: skip
        assert goal in summary
    assert "Traceback" not in result.stderr
