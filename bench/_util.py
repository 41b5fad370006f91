"""Small helpers shared by the benchmarks: order statistics, units and an aligned table."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0..100), linear between the closest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100.0
    lo, hi = math.floor(rank), math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def rate(per_second: float) -> str:
    return f"{per_second:,.0f}/s"


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, title: str = "") -> None:
    """Print ``rows`` under ``headers`` in aligned columns (the first left-aligned, the others right)."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))

    if title:
        print(title)
    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))
    print()


def comparison_rows(baseline: tuple[str, Sequence[float]], *others: tuple[str, Sequence[float]]) -> list[list[object]]:
    """Rows of name, n, median, p90 and the ratio of medians to ``baseline`` (for :func:`print_table`)."""
    base = median(baseline[1])
    rows: list[list[object]] = []
    for name, samples in (baseline, *others):
        m = median(samples)
        rows.append([name, len(samples), ms(m), ms(percentile(samples, 90)), f"{m / base:.2f}x"])
    return rows


COMPARISON_HEADERS = ("", "n", "median", "p90", "ratio")
