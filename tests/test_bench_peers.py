"""Smoke test of bench/peers.py: ``--quick`` measures every figure for both stacks, device_sdk and
HAP-python + aiohomekit (the ``bench`` extra, part of ``dev``), and prints the table and the JSON.

It checks that the benchmark works, not its figures (no timed assertions: the machine may be busy).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ._bench import run_bench

ISSUE_FIGURES = {
    "pairing": "pairing, device in its own process",
    "reconnect": "reconnect + first reading",
    "first_reading": "first reading alone",
    "close": "closing a controller connection",
    "set_p50": "actuator set round trip p50",
    "set_rate": "actuator sets, one after another",
    "packets_per_set": "packets per set, both ways",
    "events": "max events to one controller",
    "latency_p50": "1 kHz latency p50",
    "latency_p99": "1 kHz latency p99",
    "cpu_device": "CPU at 1 kHz, device",
    "cpu_controller": "CPU at 1 kHz, controller",
    "rss_script": "idle RSS, device script (no board)",
    "import_device": "import time, device package",
    "start_cli": "start to serving, device-sdk run --board sim",
}
GOALS = {"pairing", "reconnect", "set_p50", "set_rate", "packets_per_set", "events", "latency_p50", "rss_script",
         "import_device", "start_cli"}  # fmt: skip


@pytest.mark.timeout(150)
def test_peers_bench_quick_measures_every_figure_for_both_stacks(tmp_path: Path) -> None:
    out_json = tmp_path / "peers.json"
    out = run_bench("peers.py", "--quick", "--json", str(out_json), timeout=140).stdout
    assert "machine: " in out and "packages: " in out and "HAP-python 5" in out
    doc = json.loads(out_json.read_text())
    assert doc["plan"]["rounds"] == 2
    figures = {f["key"]: f for f in doc["figures"]}
    assert ISSUE_FIGURES.keys() <= figures.keys()
    for key, label in ISSUE_FIGURES.items():
        assert figures[key]["label"] == label
    for key, fig in figures.items():
        assert fig["label"] in out
        for stack in ("device_sdk", "HAP"):
            assert len(fig[stack]["rounds"]) == 2, (key, stack)
            assert fig[stack]["value"] > 0, (key, stack)
        assert fig["ratio"] is not None
        assert (fig["goal"] is not None) == (key in GOALS), key
        assert (fig["met"] is None) == (fig["goal"] is None), key
