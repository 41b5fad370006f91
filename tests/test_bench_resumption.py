"""Smoke test of bench/resumption.py: a few runs of each handshake, every row printed, 0-RTT really used.

It checks that the benchmark works, not its figures (no timed assertions: the machine may be busy).
"""

from __future__ import annotations

import re

import pytest

from ._bench import run_bench


@pytest.mark.timeout(90)
def test_resumption_bench_runs_and_uses_early_data() -> None:
    out = run_bench("resumption.py", "--runs", "2", timeout=60).stdout
    for line in (
        "full handshake, mutual TLS (device_sdk)",
        "full handshake, server certificate only",
        "resumed (PSK + ECDHE), no certificates",
        "resumed + the request as 0-RTT data",
        "resumed / full mutual",
    ):
        assert line in out
    accepted = re.search(r"0-RTT data accepted by the server: (\d+) of (\d+)", out)
    assert accepted is not None
    assert int(accepted.group(2)) > 0
    assert accepted.group(1) == accepted.group(2), "the 0-RTT row measured handshakes without early data"
