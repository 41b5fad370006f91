"""The table of part types a board profile may use: their channel defaults, pins and options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["COMMON_KEYS", "PART_TYPES", "REQUIRED", "PartType"]

REQUIRED: Any = object()
"""Marks an option without a default."""

COMMON_KEYS: frozenset[str] = frozenset(
    {"type", "channel", "kind", "rate_hz", "debounce_ms", "unit", "min", "max", "values", "description"}
)
"""Keys every ``[[parts]]`` entry may carry."""

_BOOL = (bool,)
_NUM = (int, float)
_INT = (int,)
_STR = (str,)


@dataclass(frozen=True, kw_only=True)
class PartType:
    """What a part type becomes: value type, allowed kinds (first is the default), pins, options."""

    value_type: str
    kinds: tuple[str, ...]
    pin_roles: tuple[str, ...] = ()
    options: Mapping[str, tuple[tuple[type, ...], Any]] = field(default_factory=lambda: MappingProxyType({}))
    sampled: bool = False
    """Polled at ``rate_hz`` (default :attr:`rate_hz`)."""
    event: bool = False
    """Reports changes itself, debounced by ``debounce_ms`` (default :attr:`debounce_ms`)."""
    rate_hz: float | None = None
    debounce_ms: float | None = None
    unit: str | None = None
    min: float | None = None
    max: float | None = None


def _opts(**kw: tuple[tuple[type, ...], Any]) -> Mapping[str, tuple[tuple[type, ...], Any]]:
    return MappingProxyType(kw)


PART_TYPES: Mapping[str, PartType] = MappingProxyType(
    {
        "button": PartType(
            value_type="bool",
            kinds=("input", "sensor"),
            pin_roles=("pin",),
            options=_opts(pull_up=(_BOOL, None), active_high=(_BOOL, None)),
            event=True,
            debounce_ms=50.0,
        ),
        "motion_sensor": PartType(
            value_type="bool",
            kinds=("sensor", "input"),
            pin_roles=("pin",),
            options=_opts(pull_up=(_BOOL, None), active_high=(_BOOL, None)),
            event=True,
            debounce_ms=50.0,
        ),
        "led": PartType(
            value_type="bool",
            kinds=("actuator",),
            pin_roles=("pin",),
            options=_opts(active_high=(_BOOL, True), initial=(_BOOL, False)),
        ),
        "pwm_led": PartType(
            value_type="float",
            kinds=("actuator",),
            pin_roles=("pin",),
            options=_opts(active_high=(_BOOL, True), initial=(_NUM, 0.0), frequency=(_NUM, 100.0)),
            min=0.0,
            max=1.0,
        ),
        "relay": PartType(
            value_type="bool",
            kinds=("actuator",),
            pin_roles=("pin",),
            options=_opts(active_high=(_BOOL, True), initial=(_BOOL, False)),
        ),
        "mcp3008": PartType(
            value_type="float",
            kinds=("sensor", "input"),
            options=_opts(adc_channel=(_INT, REQUIRED), device=(_INT, 0), scale=(_NUM, 1.0), offset=(_NUM, 0.0)),
            sampled=True,
            rate_hz=1.0,
        ),
        "distance_sensor": PartType(
            value_type="float",
            kinds=("sensor", "input"),
            pin_roles=("echo", "trigger"),
            options=_opts(max_distance=(_NUM, 1.0)),
            sampled=True,
            rate_hz=2.0,
            unit="m",
        ),
        "simulated": PartType(
            value_type="float",
            kinds=("sensor", "input"),
            options=_opts(
                signal=(_STR, REQUIRED),
                start=(_NUM, None),
                step=(_NUM, 0.05),
                noise=(_NUM, 1.0),
                burst_level=(_NUM, None),
                burst_chance=(_NUM, 0.02),
                burst_s=(_NUM, 0.5),
                seed=(_INT, None),
            ),
            sampled=True,
            rate_hz=1.0,
        ),
        "custom": PartType(
            value_type="float",
            kinds=("sensor", "input", "actuator"),
            options=_opts(driver=(_STR, REQUIRED), value_type=(_STR, "float")),
            sampled=True,
            event=True,
            rate_hz=1.0,
        ),
    }
)
