"""Running a benchmark script of bench/ from its test (the tests check that it runs and prints every
figure, never what the figures are)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"


def run_bench(script: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``bench/<script>`` with ``args`` in this interpreter; it must exit 0 without a traceback."""
    result = subprocess.run(
        [sys.executable, str(BENCH_DIR / script), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return result
