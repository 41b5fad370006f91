"""Board profiles: the schema and its validation (pure; no gpiozero, no files).

A board profile names the pairing button, the status LED and the parts of a board, each part
becoming one channel. :func:`parse_profile` turns the parsed TOML table into a frozen
:class:`BoardProfile` or raises :class:`~device_sdk.errors.ConfigError` naming the file and
the part. The schema is documented in ``docs/boards.md``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, cast

from device_sdk.errors import ConfigError, UnknownName
from device_sdk.hardware.parttypes import COMMON_KEYS, PART_TYPES, REQUIRED, PartType
from device_sdk.hardware.spec import ChannelKind, ChannelSpec, ValueType

__all__ = [
    "DEFAULT_VALID_PINS",
    "PIN_FACTORY_NAMES",
    "SPI_PINS",
    "BoardProfile",
    "ButtonConfig",
    "LedConfig",
    "PartConfig",
    "parse_pin",
    "parse_profile",
]

DEFAULT_VALID_PINS: frozenset[int] = frozenset(range(2, 28))
"""BCM GPIO numbers on the 40-pin header (GPIO0/1 are the HAT ID EEPROM bus and excluded)."""
PIN_FACTORY_NAMES: tuple[str, ...] = ("mock", "lgpio", "rpigpio", "pigpio", "native")
SPI_PINS: Mapping[str, int] = MappingProxyType({"sclk": 11, "mosi": 10, "miso": 9, "ce0": 8, "ce1": 7})
_PIN_RE = re.compile(r"^(?:GPIO|BCM)?(\d{1,3})$", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class ButtonConfig:
    """The pairing button: a short press opens the pairing window, a long press resets."""

    pin: int
    """BCM GPIO number."""
    pull_up: bool | None = True
    """Internal pull resistor: up (button to ground), down, or None (external resistor)."""
    active_high: bool | None = None
    """Only with ``pull_up=None``: whether pressed reads high."""
    hold_s: float = 10.0
    """How long a press must last to count as a long press (factory reset)."""
    debounce_ms: float = 50.0
    """Software debounce: a level must be stable this long to count."""


@dataclass(frozen=True, kw_only=True)
class LedConfig:
    """The status LED that shows the pairing state."""

    pin: int
    """BCM GPIO number."""
    active_high: bool = True
    """Whether the LED lights when the pin is high."""


@dataclass(frozen=True, kw_only=True)
class PartConfig:
    """One ``[[parts]]`` entry of a profile, validated; it becomes one channel."""

    type: str
    """The part type (``button``, ``led``, ``pwm_led``, ``relay``, ``mcp3008``, ...)."""
    channel: str
    """The channel name."""
    kind: ChannelKind
    """The channel kind (defaulted per part type)."""
    value_type: ValueType
    """The channel's value type (fixed per part type; ``value_type`` key for custom parts)."""
    pins: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Role -> BCM GPIO number (``pin``, ``echo``/``trigger``; SPI pins for ``mcp3008``)."""
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    values: tuple[str, ...] = ()
    rate_hz: float | None = None
    """Sampling rate of sampled sources."""
    debounce_ms: float | None = None
    """Software debounce of event sources (buttons, motion sensors)."""
    description: str | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """The type-specific keys (``active_high``, ``scale``, ``driver``, ...), defaults filled in."""
    where: str = ""
    """Where the part is defined, for error messages: ``file: part N ('channel', type)``."""

    @property
    def spec(self) -> ChannelSpec:
        """The channel spec this part produces."""
        return ChannelSpec(
            name=self.channel,
            kind=self.kind,
            type=self.value_type,
            unit=self.unit,
            min=self.min,
            max=self.max,
            values=self.values,
            rate_hz=self.rate_hz,
            description=self.description,
        )


@dataclass(frozen=True, kw_only=True)
class BoardProfile:
    """A validated board profile."""

    name: str
    """The board name, e.g. ``pi-4b`` (shown as ``board`` in the catalog)."""
    model: str
    """The human model name, e.g. ``Raspberry Pi 4 Model B``."""
    source: str
    """The file (or plugin) the profile came from."""
    pin_factory: str | None = None
    """The preferred gpiozero pin factory (``lgpio``, ``mock``, ...); None to choose."""
    simulated: bool = False
    """True for the simulated board: always runs on gpiozero's MockFactory."""
    valid_pins: frozenset[int] = DEFAULT_VALID_PINS
    """The BCM GPIO numbers parts may use."""
    pairing_button: ButtonConfig | None = None
    status_led: LedConfig | None = None
    parts: tuple[PartConfig, ...] = ()

    @property
    def channels(self) -> tuple[ChannelSpec, ...]:
        """The specs of every part's channel, in profile order."""
        return tuple(p.spec for p in self.parts)

    def part(self, channel: str) -> PartConfig:
        """The part that becomes ``channel``; KeyError if there is none."""
        for p in self.parts:
            if p.channel == channel:
                return p
        raise UnknownName(channel)


def parse_pin(value: object, *, where: str, valid: frozenset[int] = DEFAULT_VALID_PINS) -> int:
    """A BCM GPIO number from ``17``, ``"GPIO17"`` or ``"BCM17"``; ConfigError if unknown."""
    num: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        num = value
    elif isinstance(value, str) and (m := _PIN_RE.match(value.strip())):
        num = int(m.group(1))
    if num is None:
        raise ConfigError(f"{where}: pin must be a BCM number like 17 or 'GPIO17', not {value!r}")
    if num not in valid:
        lo, hi = min(valid, default=0), max(valid, default=0)
        raise ConfigError(f"{where}: unknown pin GPIO{num} (this board has GPIO{lo}..GPIO{hi})")
    return num


class _PinMap:
    """Tracks which owner uses each pin; SPI bus pins may be shared by owners of one bus."""

    def __init__(self) -> None:
        self._owner: dict[int, str] = {}

    def claim(self, pin: int, owner: str, *, where: str, shared: str | None = None) -> None:
        key = shared or owner
        prev = self._owner.get(pin)
        if prev is not None and prev != key:
            raise ConfigError(f"{where}: pin GPIO{pin} is already used by {prev}")
        self._owner[pin] = key


def _check_keys(table: Mapping[str, Any], allowed: set[str] | frozenset[str], where: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _table(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: must be a table")
    return cast(Mapping[str, Any], value)


def _opt(table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """table[key] checked against ``kind`` (bool is not a number), or None when absent."""
    if key not in table:
        return None
    value = table[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    numeric = any(k in (int, float) for k in kinds)
    bad = not isinstance(value, kinds) or (numeric and bool not in kinds and isinstance(value, bool))
    if bad:
        names = " or ".join("number" if k in (int, float) else k.__name__ for k in kinds)
        raise ConfigError(f"{where}: {key!r} must be a {names}, not {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: {key!r} must be finite")
    return value


def _num(table: Mapping[str, Any], key: str, where: str) -> float | None:
    v = _opt(table, key, (int, float), where)
    return None if v is None else float(v)


def _pull(table: Mapping[str, Any], where: str, *, default_up: bool) -> tuple[bool | None, bool | None]:
    """(pull_up, active_high) from the ``pull_up``/``active_high`` keys (see docs/boards.md)."""
    pull_up = _opt(table, "pull_up", bool, where)
    active_high = _opt(table, "active_high", bool, where)
    if active_high is None:
        return (default_up if pull_up is None else pull_up), None
    if pull_up is None:
        return None, active_high  # external resistor: the pin floats, active level given
    if pull_up == active_high:
        raise ConfigError(
            f"{where}: pull_up = {str(pull_up).lower()} with active_high = {str(active_high).lower()} "
            "can never read as pressed; leave out active_high (it follows from pull_up)"
        )
    return pull_up, None


def parse_profile(data: Mapping[str, Any], *, source: str) -> BoardProfile:
    """Validate a parsed profile table; ``source`` (a file name) prefixes every error message."""
    _check_keys(data, {"board", "pairing_button", "status_led", "parts"}, source)
    board = _table(data.get("board"), f"{source}: [board]") if "board" in data else None
    if board is None:
        raise ConfigError(f"{source}: missing [board] table")
    bwhere = f"{source}: [board]"
    _check_keys(board, {"name", "model", "pin_factory", "simulated", "valid_pins", "description"}, bwhere)
    name = _opt(board, "name", str, bwhere)
    if not name:
        raise ConfigError(f"{bwhere}: missing 'name'")
    model = _opt(board, "model", str, bwhere) or name
    pin_factory = _opt(board, "pin_factory", str, bwhere)
    if pin_factory is not None and pin_factory not in PIN_FACTORY_NAMES:
        raise ConfigError(f"{bwhere}: unknown pin_factory {pin_factory!r} (one of {PIN_FACTORY_NAMES})")
    simulated = bool(_opt(board, "simulated", bool, bwhere))
    valid = DEFAULT_VALID_PINS
    if "valid_pins" in board:
        raw = _opt(board, "valid_pins", list, bwhere)
        if not raw or not all(isinstance(p, int) and not isinstance(p, bool) and 0 <= p < 64 for p in raw):
            raise ConfigError(f"{bwhere}: valid_pins must be a list of BCM numbers 0..63")
        valid = frozenset(raw)

    pins = _PinMap()
    button = None
    if "pairing_button" in data:
        where = f"{source}: [pairing_button]"
        t = _table(data["pairing_button"], where)
        _check_keys(t, {"pin", "pull_up", "active_high", "hold_s", "debounce_ms"}, where)
        if "pin" not in t:
            raise ConfigError(f"{where}: missing 'pin'")
        pin = parse_pin(t["pin"], where=where, valid=valid)
        pins.claim(pin, "the pairing button", where=where)
        pull_up, active_high = _pull(t, where, default_up=True)
        hold_s = _num(t, "hold_s", where)
        debounce = _num(t, "debounce_ms", where)
        if (hold_s is not None and hold_s <= 0) or (debounce is not None and debounce < 0):
            raise ConfigError(f"{where}: hold_s must be positive and debounce_ms not negative")
        button = ButtonConfig(
            pin=pin,
            pull_up=pull_up,
            active_high=active_high,
            hold_s=10.0 if hold_s is None else hold_s,
            debounce_ms=50.0 if debounce is None else debounce,
        )
    led = None
    if "status_led" in data:
        where = f"{source}: [status_led]"
        t = _table(data["status_led"], where)
        _check_keys(t, {"pin", "active_high"}, where)
        if "pin" not in t:
            raise ConfigError(f"{where}: missing 'pin'")
        pin = parse_pin(t["pin"], where=where, valid=valid)
        pins.claim(pin, "the status LED", where=where)
        active = _opt(t, "active_high", bool, where)
        led = LedConfig(pin=pin, active_high=True if active is None else active)

    raw_parts = data.get("parts", [])
    if not isinstance(raw_parts, list):
        raise ConfigError(f"{source}: 'parts' must be an array of tables ([[parts]])")
    parts: list[PartConfig] = []
    seen: dict[str, str] = {}
    adc_inputs: set[tuple[int, int]] = set()
    for i, raw in enumerate(raw_parts, start=1):
        part = _parse_part(raw, i, source=source, valid=valid, simulated=simulated)
        if part.channel in seen:
            raise ConfigError(f"{part.where}: duplicate channel name {part.channel!r} (also {seen[part.channel]})")
        seen[part.channel] = part.where
        owner = f"part {i} ({part.channel!r}, {part.type})"
        for role, pin in part.pins.items():
            shared = None
            if part.type == "mcp3008":
                bus_role = role in ("sclk", "mosi", "miso")
                shared = "the SPI bus (mcp3008)" if bus_role else f"the mcp3008 on {role.upper()}"
            pins.claim(pin, owner, where=part.where, shared=shared)
        if part.type == "mcp3008":
            key = (int(part.options["device"]), int(part.options["adc_channel"]))
            if key in adc_inputs:
                raise ConfigError(f"{part.where}: mcp3008 CE{key[0]} input {key[1]} is already used")
            adc_inputs.add(key)
        parts.append(part)
    return BoardProfile(
        name=name,
        model=model,
        source=source,
        pin_factory=pin_factory,
        simulated=simulated,
        valid_pins=valid,
        pairing_button=button,
        status_led=led,
        parts=tuple(parts),
    )


def _parse_part(raw: object, index: int, *, source: str, valid: frozenset[int], simulated: bool) -> PartConfig:
    where = f"{source}: part {index}"
    t = _table(raw, where)
    ptype = t.get("type")
    channel = t.get("channel")
    if isinstance(channel, str) and channel:
        what = f"{channel!r}, {ptype}" if isinstance(ptype, str) else repr(channel)
        where = f"{source}: part {index} ({what})"
    if ptype is None:
        raise ConfigError(f"{where}: missing 'type' (one of {', '.join(PART_TYPES)})")
    if not isinstance(ptype, str) or ptype not in PART_TYPES:
        raise ConfigError(f"{where}: unknown part type {ptype!r} (one of {', '.join(PART_TYPES)})")
    pt: PartType = PART_TYPES[ptype]
    if not isinstance(channel, str) or not channel:
        raise ConfigError(f"{where}: missing 'channel' (the channel name the part becomes)")
    if ptype != "custom":
        _check_keys(t, COMMON_KEYS | set(pt.pin_roles) | set(pt.options), where)

    kind = _opt(t, "kind", str, where) or pt.kinds[0]
    if kind not in pt.kinds:
        raise ConfigError(f"{where}: kind {kind!r} is not allowed for {ptype} (one of {', '.join(pt.kinds)})")
    value_type: str = pt.value_type
    if ptype == "custom":
        value_type = _opt(t, "value_type", str, where) or "float"
        if value_type not in ("float", "int", "bool", "text", "enum", "bytes", "map"):
            raise ConfigError(f"{where}: unknown value_type {value_type!r}")

    pins: dict[str, int] = {}
    for role in pt.pin_roles:
        if role not in t:
            raise ConfigError(f"{where}: missing {role!r} (a BCM GPIO number)")
        pins[role] = parse_pin(t[role], where=f"{where} {role}", valid=valid)
    if ptype == "custom":
        extra = _opt(t, "pins", list, where) or []
        if "pin" in t:
            extra = [t["pin"], *extra]
        for n, p in enumerate(extra):
            pins[f"pin{n}" if n else "pin"] = parse_pin(p, where=where, valid=valid)

    options: dict[str, Any] = {}
    for key, (kinds, default) in pt.options.items():
        value = _opt(t, key, kinds, where)
        if value is None and default is REQUIRED:
            raise ConfigError(f"{where}: missing {key!r}")
        options[key] = default if value is None else value
    if ptype == "custom":
        options.update({k: v for k, v in t.items() if k not in COMMON_KEYS and k not in ("pin", "pins")})
        driver = options.get("driver")
        if not isinstance(driver, str) or ":" not in driver:
            raise ConfigError(f"{where}: custom parts need driver = 'module:factory'")
    if ptype in ("button", "motion_sensor"):
        options["pull_up"], options["active_high"] = _pull(t, where, default_up=ptype == "button")
    if ptype == "mcp3008":
        adc, dev = options["adc_channel"], options["device"]
        if not 0 <= adc <= 7 or dev not in (0, 1):
            raise ConfigError(f"{where}: adc_channel must be 0..7 and device 0 (CE0) or 1 (CE1)")
        ce = "ce0" if dev == 0 else "ce1"
        for role in ("sclk", "mosi", "miso", ce):
            pins[role] = parse_pin(SPI_PINS[role], where=f"{where} SPI {role}", valid=valid)
    if ptype == "simulated" and options["signal"] not in ("drift", "noise"):
        raise ConfigError(f"{where}: signal must be 'drift' or 'noise', not {options['signal']!r}")

    lo, hi = _num(t, "min", where), _num(t, "max", where)
    lo = pt.min if lo is None else lo
    hi = pt.max if hi is None else hi
    if ptype == "distance_sensor":
        lo, hi = (0.0 if lo is None else lo), (float(options["max_distance"]) if hi is None else hi)
    if ptype == "simulated" and (lo is None or hi is None):
        raise ConfigError(f"{where}: simulated parts need 'min' and 'max'")
    if lo is not None and hi is not None and lo > hi:
        raise ConfigError(f"{where}: min {lo} is above max {hi}")
    rate = _num(t, "rate_hz", where)
    debounce = _num(t, "debounce_ms", where)
    sampled = pt.sampled and kind != "actuator"
    if rate is not None and (not sampled or rate <= 0):
        raise ConfigError(f"{where}: rate_hz applies to sampled sensors only and must be positive")
    if debounce is not None and (not pt.event or debounce < 0):
        raise ConfigError(f"{where}: debounce_ms applies to buttons and motion sensors only (>= 0)")
    if sampled:
        rate = pt.rate_hz if rate is None else rate
    if pt.event:
        debounce = pt.debounce_ms if debounce is None else debounce
    values = _opt(t, "values", list, where) or []
    if not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{where}: values must be a list of strings")
    unit = _opt(t, "unit", str, where) or pt.unit
    return PartConfig(
        type=ptype,
        channel=channel,
        kind=cast(ChannelKind, kind),
        value_type=cast(ValueType, value_type),
        pins=MappingProxyType(pins),
        unit=unit,
        min=lo,
        max=hi,
        values=tuple(values),
        rate_hz=rate,
        debounce_ms=debounce,
        description=_opt(t, "description", str, where),
        options=MappingProxyType(options),
        where=where,
    )
