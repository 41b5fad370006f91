"""Smoke tests of bench/abuse.py and bench/liveness.py: ``--quick`` runs them end to end and they print
their summaries. They check that the benchmarks work, not their figures (no timed assertions: the
machine may be busy)."""

from __future__ import annotations

import pytest

from ._bench import run_bench


def run_quick(script: str) -> str:
    return run_bench(script, "--quick", timeout=100).stdout


@pytest.mark.timeout(120)
def test_abuse_bench_quick_runs_and_prints_the_summary() -> None:
    out = run_quick("abuse.py")
    for title in ("the honest controller", "the device under 20 unauthenticated connections", "summary"):
        assert title in out
    summary = out[out.index("summary") :]
    for goal in ("readings/s under attack / idle", "pairing time under attack / idle", "device peak RSS"):
        assert goal in summary
    assert "gap bytes the filler could place" in out


@pytest.mark.timeout(120)
def test_liveness_bench_quick_runs_and_prints_the_summary() -> None:
    out = run_quick("liveness.py")
    assert "lost contact with Bench" in out
    summary = out[out.index("summary") :]
    for case in ("5 s (default), watching", "2 s, watching", "5 s (default), idle", "2 s, idle"):
        assert f"liveness_timeout {case}" in summary
