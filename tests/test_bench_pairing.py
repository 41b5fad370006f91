"""Smoke test of bench/pairing.py: two runs in both layouts, every line of the report printed.

It checks that the benchmark works, not its figures (no timed assertions: the machine may be busy).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "pairing.py"


@pytest.mark.timeout(90)
def test_pairing_bench_runs_in_both_layouts() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--runs", "2", "--device-process"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    for line in (
        "bare aioquic handshake",
        "pairing to key confirmation",
        "pair() (device committed)",
        "reconnect + agent-info",
        "pairing (connect, SPAKE2, confirmation) / bare",
        "reconnect / bare",
        "the device in its own process",
        "SPAKE2 per side",
    ):
        assert line in out
    assert "Traceback" not in result.stderr
