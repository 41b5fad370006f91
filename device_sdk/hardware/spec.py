"""Channel specs and the source/sink protocols that hardware parts implement.

A *source* produces values for one channel (a sensor reading, a button state); a *sink*
accepts values for one channel (an LED, a relay). Both carry a :class:`ChannelSpec` that says
what the channel is, in the words of the catalog (profile section 6.1). Values are plain Python
values (float, int, bool, str, bytes, dict); nothing here knows about the wire.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from device_sdk.errors import ActuatorError

__all__ = [
    "CHANNEL_KINDS",
    "VALUE_TYPES",
    "ChannelKind",
    "ChannelSpec",
    "EventSource",
    "SampledSource",
    "Sink",
    "Source",
    "ValueType",
    "check_value",
    "is_sink",
    "is_source",
]

ChannelKind = Literal["sensor", "input", "actuator", "stream"]
ValueType = Literal["float", "int", "bool", "text", "enum", "bytes", "map"]
CHANNEL_KINDS: tuple[str, ...] = ("sensor", "input", "actuator", "stream")
VALUE_TYPES: tuple[str, ...] = ("float", "int", "bool", "text", "enum", "bytes", "map")


@dataclass(frozen=True, kw_only=True)
class ChannelSpec:
    """What a channel is: the fields of a catalog descriptor (profile section 6.1)."""

    name: str
    """The channel name (and the label of its data channel)."""
    kind: ChannelKind
    """``sensor``, ``input`` (sources), ``actuator`` (sinks) or ``stream``."""
    type: ValueType
    """The value type: ``float``, ``int``, ``bool``, ``text``, ``enum``, ``bytes`` or ``map``."""
    unit: str | None = None
    """The unit of the values, e.g. ``"C"`` or ``"dB"``."""
    min: float | None = None
    """The smallest value (numbers only)."""
    max: float | None = None
    """The largest value (numbers only)."""
    values: tuple[str, ...] = ()
    """The allowed values of an ``enum`` channel."""
    rate_hz: float | None = None
    """The highest rate the device produces readings at (sampled sources)."""
    description: str | None = None
    """A human-readable description."""

    def __post_init__(self) -> None:
        if self.kind not in CHANNEL_KINDS:
            raise ValueError(f"channel {self.name!r}: unknown kind {self.kind!r}")
        if self.type not in VALUE_TYPES:
            raise ValueError(f"channel {self.name!r}: unknown type {self.type!r}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"channel {self.name!r}: min {self.min} is above max {self.max}")
        if self.rate_hz is not None and not self.rate_hz > 0:
            raise ValueError(f"channel {self.name!r}: rate_hz must be positive")


@runtime_checkable
class SampledSource(Protocol):
    """A source the runtime polls at ``spec.rate_hz`` by calling :meth:`read`.

    A source whose ``read`` blocks (a slow bus, a DHT22) sets ``blocking_read = True`` and is
    read in a worker thread.
    """

    spec: ChannelSpec

    def read(self) -> object:
        """The current value."""
        ...

    def close(self) -> None:
        """Release the pins."""
        ...


@runtime_checkable
class EventSource(Protocol):
    """A source that reports changes itself (buttons, motion sensors).

    ``start(emit)`` hands it a callable it may call from any thread (gpiozero's callback
    threads included) with the new raw value; the runtime debounces by ``debounce_s`` and
    brings the value into the event loop. ``read`` returns the current raw value.
    """

    spec: ChannelSpec
    debounce_s: float

    def read(self) -> object:
        """The current value."""
        ...

    def start(self, emit: Callable[[object], None]) -> None:
        """Begin reporting changes to ``emit`` (callable from any thread)."""
        ...

    def stop(self) -> None:
        """Stop reporting changes."""
        ...

    def close(self) -> None:
        """Release the pins."""
        ...


Source = SampledSource | EventSource


@runtime_checkable
class Sink(Protocol):
    """An output: :meth:`set` validates a value, drives the hardware and returns the new state.

    ``set`` raises :class:`~device_sdk.errors.ActuatorError` with code ``bad-type`` or
    ``out-of-range`` for a value the spec does not allow, and ``failed`` when the hardware fails.
    """

    spec: ChannelSpec

    @property
    def state(self) -> object:
        """The current state."""
        ...

    def set(self, value: object) -> object:
        """Drive the output to ``value``; return the new state."""
        ...

    def close(self) -> None:
        """Release the pins."""
        ...


def is_source(obj: object) -> bool:
    """Whether ``obj`` implements one of the source protocols."""
    return isinstance(obj, EventSource | SampledSource) and hasattr(obj, "spec")


def is_sink(obj: object) -> bool:
    """Whether ``obj`` implements the sink protocol."""
    return isinstance(obj, Sink) and callable(getattr(obj, "set", None))


def check_value(spec: ChannelSpec, value: object) -> object:
    """Validate ``value`` against ``spec`` and return it normalised (ints become floats for float).

    Raises :class:`ActuatorError` ``bad-type`` or ``out-of-range``.
    """
    t = spec.type
    if t == "bool":
        if not isinstance(value, bool):
            raise ActuatorError("bad-type", f"{spec.name} takes a bool, not {type(value).__name__}")
        return value
    if t in ("float", "int"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ActuatorError("bad-type", f"{spec.name} takes a number, not {type(value).__name__}")
        if t == "int" and not isinstance(value, int):
            raise ActuatorError("bad-type", f"{spec.name} takes an integer")
        if isinstance(value, float) and not math.isfinite(value):
            raise ActuatorError("out-of-range", f"{spec.name} takes a finite number")
        if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
            raise ActuatorError("out-of-range", f"{spec.name} takes {spec.min}..{spec.max}, not {value}")
        return float(value) if t == "float" else value
    if t in ("text", "enum"):
        if not isinstance(value, str):
            raise ActuatorError("bad-type", f"{spec.name} takes text, not {type(value).__name__}")
        if t == "enum" and value not in spec.values:
            raise ActuatorError("out-of-range", f"{spec.name} takes one of {', '.join(spec.values)}")
        return value
    if t == "bytes":
        if not isinstance(value, bytes):
            raise ActuatorError("bad-type", f"{spec.name} takes bytes, not {type(value).__name__}")
        return value
    if not isinstance(value, dict):
        raise ActuatorError("bad-type", f"{spec.name} takes a map, not {type(value).__name__}")
    return value
