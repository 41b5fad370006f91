"""Smoke test of bench/pairing.py: two runs in both layouts, every line of the report printed.

It checks that the benchmark works, not its figures (no timed assertions: the machine may be busy).
"""

from __future__ import annotations

import pytest

from ._bench import run_bench


@pytest.mark.timeout(90)
def test_pairing_bench_runs_in_both_layouts() -> None:
    out = run_bench("pairing.py", "--runs", "2", "--device-process", timeout=60).stdout
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
