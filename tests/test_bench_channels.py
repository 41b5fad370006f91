"""Smoke test of bench/channels.py: ``--quick`` runs every part end to end and prints the summary.

It checks that the benchmark works, not its figures (no timed assertions: the machine may be busy).
"""

from __future__ import annotations

import pytest

from ._bench import run_bench


@pytest.mark.timeout(90)
def test_channels_bench_quick_runs_and_prints_the_summary() -> None:
    out = run_bench("channels.py", "--quick", timeout=60).stdout
    for title in ("(a) sensor readings", "(b) input states", "(c) 5 controllers", "(d) audio byte stream", "summary"):
        assert title in out
    summary = out[out.index("summary") :]
    for goal in ("(a) readings/s", "(b) input p99, idle", "(b) frames delivered after a newer one",
                 "(c) readings delivered", "(c) device CPU", "(d) audio stream"):  # fmt: skip
        assert goal in summary
