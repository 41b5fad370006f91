"""The figures of bench/peers.py: what each one is, its goal from issue 15, the per-round values
collected for each stack, and the table and JSON made of them.

A figure's value for a stack is the median of its per-round values; the range printed beside it is
their minimum and maximum, so a reader sees at once how repeatable it is. The ratio is the median of
the per-round ratios device_sdk / HAP: the two values of a round were measured seconds apart, under
the same conditions, so on a machine shared with other work their ratio is steadier than either value
(and than the ratio of the medians). A goal is read either on that ratio or on device_sdk's own value.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from _util import print_table, verdict

SDK = "device_sdk"
HAP = "HAP"
STACKS = (SDK, HAP)
HAP_NAME = "HAP-python + aiohomekit"


@dataclass(frozen=True, kw_only=True)
class Goal:
    text: str
    """The goal as issue 15 states it."""
    on: Literal["ratio", "value"]
    """What it is read on: the ratio device_sdk / HAP, or device_sdk's own value."""
    op: Literal["<=", ">="]
    target: float

    def met(self, value: float, ratio: float) -> bool:
        x = ratio if self.on == "ratio" else value
        return x <= self.target if self.op == "<=" else x >= self.target


@dataclass(frozen=True, kw_only=True)
class Figure:
    key: str
    label: str
    unit: Literal["s", "/s", "MiB", "core", "fraction", "packets"]
    """The unit values are kept in (seconds, per second, MiB, cores, a fraction, packets per exchange)."""
    hap: str = ""
    """What HAP's side of the figure is, where it is not the same thing by another name."""
    goal: Goal | None = None


def _ratio_goal(op: Literal["<=", ">="], target: float, text: str = "") -> Goal:
    return Goal(text=text or f"{op} {target:g}x", on="ratio", op=op, target=target)


FIGURES: tuple[Figure, ...] = (
    Figure(key="pairing", label="pairing, device in its own process", unit="s", hap="pair-setup",
           goal=_ratio_goal("<=", 1 / 6, "6x faster (<= 0.167x)")),
    Figure(key="reconnect", label="reconnect + first reading", unit="s", hap="pair-verify + read",
           goal=_ratio_goal("<=", 1.5)),
    Figure(key="first_reading", label="  first reading alone", unit="s", hap="read"),
    Figure(key="close", label="closing a controller connection", unit="s"),
    Figure(key="set_p50", label="actuator set round trip p50", unit="s", hap="write", goal=_ratio_goal("<=", 1.0)),
    Figure(key="set_rate", label="actuator sets, one after another", unit="/s", hap="writes",
           goal=_ratio_goal(">=", 1.0)),
    Figure(key="packets_per_set", label="packets per set, both ways", unit="packets", hap="TCP segments",
           goal=Goal(text="one each way (<= 2.01: a rare lone ACK aside)", on="value", op="<=", target=2.01)),
    Figure(key="events", label="max events to one controller", unit="/s", hap="immediate events",
           goal=_ratio_goal(">=", 1.0)),
    Figure(key="latency_p50", label="1 kHz latency p50", unit="s", goal=_ratio_goal("<=", 1.5)),
    Figure(key="latency_p99", label="1 kHz latency p99", unit="s"),
    Figure(key="delivered", label="1 kHz values delivered", unit="fraction"),
    Figure(key="cpu_device", label="CPU at 1 kHz, device", unit="core"),
    Figure(key="cpu_controller", label="CPU at 1 kHz, controller", unit="core"),
    Figure(key="rss_script", label="idle RSS, device script (no board)", unit="MiB", hap="accessory script",
           goal=Goal(text="<= 48 MiB", on="value", op="<=", target=48.0)),
    Figure(key="rss_cli", label="idle RSS, device-sdk run --board sim", unit="MiB", hap="accessory script"),
    Figure(key="import_device", label="import time, device package", unit="s", hap="accessory script",
           goal=_ratio_goal("<=", 1.2)),
    Figure(key="import_floor", label="  floor: asyncio + aioquic + cbor2 alone", unit="s", hap="accessory script"),
    Figure(key="import_controller", label="import time, controller package", unit="s", hap="aiohomekit"),
    Figure(key="start_cli", label="start to serving, device-sdk run --board sim", unit="s",
           hap="accessory script", goal=Goal(text="<= 250 ms", on="value", op="<=", target=0.250)),
    Figure(key="start_script", label="start to serving, device script", unit="s", hap="accessory script"),
)  # fmt: skip
BY_KEY = {f.key: f for f in FIGURES}


def fmt(unit: str, value: float, *, bare: bool = False) -> str:
    """``value`` in ``unit`` for people: 3 significant figures for times, whole numbers for rates."""
    if unit == "s":
        v = value * 1000
        text = f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"
        return text if bare else f"{text} ms"
    if unit == "/s":
        return f"{value:,.0f}" if bare else f"{value:,.0f}/s"
    if unit == "MiB":
        return f"{value:.1f}" if bare else f"{value:.1f} MiB"
    if unit == "core":
        return f"{value:.3f}" if bare else f"{value:.3f} core"
    if unit == "fraction":
        return f"{100 * value:.1f}" if bare else f"{100 * value:.1f}%"
    return f"{value:.2f}"


@dataclass
class Results:
    """Per-round values of every figure for both stacks, and whatever else is worth keeping."""

    rounds: dict[str, dict[str, list[float]]] = field(
        default_factory=lambda: {f.key: {s: [] for s in STACKS} for f in FIGURES}
    )
    details: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    """Pooled raw samples and cross-checks, by name and stack (JSON only)."""

    def add(self, stack: str, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.rounds[key][stack].append(value)

    def detail(self, name: str, stack: str, *values: Any) -> None:
        self.details.setdefault(name, {s: [] for s in STACKS})[stack].extend(values)

    def summary(self, fig: Figure) -> dict[str, Any]:
        out: dict[str, Any] = {"key": fig.key, "label": fig.label.strip(), "unit": fig.unit}
        out["hap_is"] = fig.hap or None
        medians: dict[str, float | None] = {}
        for stack in STACKS:
            values = self.rounds[fig.key][stack]
            med = statistics.median(values) if values else None
            medians[stack] = med
            out[stack] = {"value": med, "min": min(values, default=None), "max": max(values, default=None),
                          "rounds": values}  # fmt: skip
        sdk = medians[SDK]
        ratios = [a / b for a, b in zip(self.rounds[fig.key][SDK], self.rounds[fig.key][HAP], strict=True) if b]
        ratio = statistics.median(ratios) if ratios else None
        out["ratio"] = ratio
        out["ratio_rounds"] = ratios
        out["goal"] = None if fig.goal is None else {"text": fig.goal.text, "on": fig.goal.on, "op": fig.goal.op,
                                                     "target": fig.goal.target}  # fmt: skip
        out["met"] = None if fig.goal is None or sdk is None or ratio is None else fig.goal.met(sdk, ratio)
        return out


def _cell(fig: Figure, part: dict[str, Any], prefix: str = "") -> str:
    if part["value"] is None:
        return "-"
    text = fmt(fig.unit, part["value"])
    if len(part["rounds"]) > 1:
        text += f" ({fmt(fig.unit, part['min'], bare=True)}-{fmt(fig.unit, part['max'], bare=True)})"
    return f"{prefix}{text}"


def print_report(results: Results, rounds: int) -> list[dict[str, Any]]:
    """Print the table; return the summaries (the JSON's ``figures``)."""
    summaries = [results.summary(f) for f in FIGURES]
    rows: list[Sequence[object]] = []
    for fig, s in zip(FIGURES, summaries, strict=True):
        ratio = "-" if s["ratio"] is None else f"{s['ratio']:.2f}x"
        met = "" if s["met"] is None else verdict(s["met"])
        hap = _cell(fig, s[HAP], f"{fig.hap}: " if fig.hap else "")
        rows.append([fig.label, _cell(fig, s[SDK]), hap, ratio, fig.goal.text if fig.goal else "", met])
    print_table(
        ("figure", SDK, HAP_NAME, "ratio", "goal", ""),
        rows,
        title=f"median of {rounds} round(s) (min-max of the per-round values); "
        "ratio: median of the per-round ratios device_sdk / HAP",
    )
    return summaries
