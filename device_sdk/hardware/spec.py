"""Channel specs and the source/sink protocols that hardware parts implement.

A *source* produces values for one channel (a sensor reading, a button state); a *sink*
accepts values for one channel (an LED, a relay). Both carry a :class:`ChannelSpec`: the catalog
descriptor of the channel (profile section 6.1), so that a channel is described once from the board
profile to the catalog. Values are plain Python values (float, int, bool, str, bytes, dict).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from device_sdk.channels.descriptor import CHANNEL_KINDS, ChannelDescriptor, ChannelKind
from device_sdk.channels.values import VALUE_TYPES, ValueType, check_value
from device_sdk.errors import InvalidArgument

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


@dataclass(frozen=True, kw_only=True)
class ChannelSpec(ChannelDescriptor):
    """What a part's channel is: the catalog descriptor the device declares for it (profile section
    6.1), checked when the part is built. The kinds, the value types and :func:`check_value` are the
    channels layer's (one home for each)."""

    def __post_init__(self) -> None:
        if self.kind not in CHANNEL_KINDS:
            raise InvalidArgument(f"channel {self.name!r}: unknown kind {self.kind!r}")
        if self.type not in VALUE_TYPES:
            raise InvalidArgument(f"channel {self.name!r}: unknown type {self.type!r}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise InvalidArgument(f"channel {self.name!r}: min {self.min} is above max {self.max}")
        if self.rate_hz is not None and not self.rate_hz > 0:
            raise InvalidArgument(f"channel {self.name!r}: rate_hz must be positive")


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
