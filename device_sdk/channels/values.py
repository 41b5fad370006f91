"""Channel value types and their validation (profile section 6).

A channel carries values of one of seven types. :func:`check_value` turns a value received from a
controller (or produced by the application, or set on a hardware output) into the canonical Python value
for its type, or raises :class:`ValueRejected` with the profile's error code: ``"bad-type"`` for a value
of the wrong type and ``"out-of-range"`` for a value of the right type outside ``min``/``max`` or outside
the enum's values. It is the one value check of the SDK: the channels and the hardware parts use it.

An ``int`` channel takes a float with an integral value (``3.0``, as a browser's JSON or a CBOR encoder
that writes every number as a float sends it) and converts it; ``1.5`` is ``"bad-type"``.

Wire values (``value`` in ``device-channels.cddl``) are floats, ints, bools, text, byte strings, maps with
text keys and arrays; ``None`` is never a value. Numbers are what CBOR carries without a tag (profile
section 3): integers in -2^64 .. 2^64-1 and finite or infinite floats; an integer beyond that range, or
one too large for a float channel, is ``"out-of-range"``, and a map holding anything that would need a
tag is ``"bad-type"``, so nothing accepted can fail to encode when it is sent back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol, get_args

from device_sdk.errors import ActuatorError, InvalidArgument
from device_sdk.wire.cbor import WIRE_INT_MAX, WIRE_INT_MIN, unencodable

ValueType = Literal["float", "int", "bool", "text", "enum", "bytes", "map"]
"""The value type of a channel, as in the catalog's ``"type"``."""

VALUE_TYPES: Final[frozenset[str]] = frozenset(get_args(ValueType))

ERROR_CODES: Final[frozenset[str]] = frozenset(
    {"out-of-range", "bad-type", "busy", "forbidden", "failed", "unknown-op"}
)
"""The error codes of actuator and admin answers (profile section 6.3)."""


class ValueRejected(ActuatorError, ValueError):
    """A value does not fit its channel: ``code`` is ``"bad-type"`` or ``"out-of-range"``.

    An :class:`~device_sdk.errors.ActuatorError` (a handler or a hardware output that raises it answers
    with its code) and, as before, a ``ValueError``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


class ValueRules(Protocol):
    """What :func:`check_value` reads of a spec: a :class:`ValueSpec`, a channel descriptor, or a hardware
    part's :class:`~device_sdk.hardware.spec.ChannelSpec` (whose ``name`` then names the channel in the
    message)."""

    @property
    def type(self) -> ValueType: ...

    @property
    def min(self) -> float | None: ...

    @property
    def max(self) -> float | None: ...

    @property
    def values(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, kw_only=True)
class ValueSpec:
    """What values a channel accepts.

    ``min``/``max`` apply to ``float`` and ``int`` only; ``values`` lists the members of an ``enum``.
    """

    type: ValueType
    """The value type."""
    min: float | None = None
    """Smallest allowed number (inclusive), for ``float`` and ``int``."""
    max: float | None = None
    """Largest allowed number (inclusive), for ``float`` and ``int``."""
    values: tuple[str, ...] = ()
    """The allowed texts of an ``enum``."""

    def __post_init__(self) -> None:
        if self.type not in VALUE_TYPES:
            raise InvalidArgument(f"unknown value type {self.type!r}; use one of {sorted(VALUE_TYPES)}")
        if (self.min is not None or self.max is not None) and self.type not in ("float", "int"):
            raise InvalidArgument(f"min/max apply only to float and int, not {self.type}")
        for bound in (self.min, self.max):
            if bound is not None and (isinstance(bound, bool) or not _is_number(bound)):
                raise InvalidArgument(f"min/max must be numbers, not {bound!r}")
            if bound is not None and unencodable(bound) is not None:  # the catalog carries them
                raise InvalidArgument(f"min/max must fit in 64 bits, not {bound!r}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise InvalidArgument(f"min {self.min} is larger than max {self.max}")
        if self.type == "enum":
            if not self.values or not all(isinstance(v, str) for v in self.values):
                raise InvalidArgument("an enum needs a non-empty list of text values")
            if len(set(self.values)) != len(self.values):
                raise InvalidArgument("enum values must be unique")
        elif self.values:
            raise InvalidArgument("values apply only to enum")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_KIND_OF_VALUE = {bool: "true or false", int: "an integer", float: "a number", str: "text", bytes: "bytes"}


def _describe(value: object) -> str:
    """What ``value`` is, in words (for the messages below)."""
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a map"
    if isinstance(value, list | tuple):
        return "a list"
    return _KIND_OF_VALUE.get(type(value), type(value).__name__)


def check_value(spec: ValueRules, value: object, *, check_range: bool = True) -> Any:
    """Return ``value`` as the canonical value of ``spec.type`` or raise :class:`ValueRejected`.

    ``float`` accepts ints (converted); ``int`` accepts floats with an integral value (converted). With
    ``check_range=False`` only the type is checked (sensors report what they measure). The message names
    the channel when ``spec`` has a ``name``.
    """
    kind = spec.type
    if kind == "float":
        if not _is_number(value):
            raise ValueRejected("bad-type", f"{_who(spec)} takes a number, not {_describe(value)}")
        _check_wire_int(spec, value)
        try:
            number = float(value)  # type: ignore[arg-type]
        except OverflowError:
            raise ValueRejected("out-of-range", f"{_who(spec)} takes a number that fits in 64 bits") from None
        if not math.isfinite(number):
            raise ValueRejected("out-of-range", f"{_who(spec)} takes a finite number")
        return _check_range(spec, number, check_range)
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueRejected("bad-type", f"{_who(spec)} takes an integer, not {_describe(value)}")
        _check_wire_int(spec, value)
        return _check_range(spec, value, check_range)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueRejected("bad-type", f"{_who(spec)} takes true or false, not {_describe(value)}")
        return value
    if kind in ("text", "enum"):
        if not isinstance(value, str):
            raise ValueRejected("bad-type", f"{_who(spec)} takes text, not {_describe(value)}")
        if kind == "enum" and check_range and value not in spec.values:
            raise ValueRejected("out-of-range", f"{_who(spec)} takes one of {', '.join(spec.values)}, not {value!r}")
        return value
    if kind == "bytes":
        if not isinstance(value, bytes | bytearray | memoryview):
            raise ValueRejected("bad-type", f"{_who(spec)} takes bytes, not {_describe(value)}")
        return bytes(value)
    # map
    if not isinstance(value, Mapping):
        raise ValueRejected("bad-type", f"{_who(spec)} takes a map, not {_describe(value)}")
    if not all(isinstance(key, str) for key in value):
        raise ValueRejected("bad-type", f"{_who(spec)} takes a map whose keys are text")
    why = unencodable(value)
    if why is not None:
        raise ValueRejected("bad-type", f"{_who(spec)} takes a map of plain values; this one holds {why}")
    return dict(value)


def _who(spec: ValueRules) -> str:
    """The channel a message is about (looked up only when a value is refused: checks are on the hot path
    of every reading)."""
    return getattr(spec, "name", None) or "the channel"


def _check_wire_int(spec: ValueRules, value: object) -> None:
    if isinstance(value, int) and not WIRE_INT_MIN <= value <= WIRE_INT_MAX:
        raise ValueRejected("out-of-range", f"{_who(spec)} takes an integer that fits in 64 bits")


def _check_range(spec: ValueRules, number: Any, check_range: bool) -> Any:
    if not check_range:
        return number
    low, high = spec.min, spec.max
    if (low is not None and number < low) or (high is not None and number > high):
        if low is not None and high is not None:
            bounds = f"{low}..{high}"
        else:
            bounds = f"at least {low}" if low is not None else f"at most {high}"
        raise ValueRejected("out-of-range", f"{_who(spec)} takes {bounds}, not {number}")
    return number


def is_wire_value(value: object) -> bool:
    """Whether ``value`` is a ``value`` of ``device-channels.cddl`` (top level only for maps/arrays)."""
    if isinstance(value, bool | int | float | str | bytes):
        return True
    if type(value) is dict or isinstance(value, Mapping):  # the exact type first: ABC checks are slow
        return all(isinstance(key, str) for key in value)
    return type(value) is list or isinstance(value, Sequence)
