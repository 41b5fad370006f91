"""Frames of the channel protocols as typed values, with builders and parsers (profile section 6).

A frame is the one CBOR item carried in a data-frame payload; here it is the decoded Python object
(``dict`` for every frame of this profile). Builders produce exactly what ``device-channels.cddl``
describes (``"t"`` always a float, ``"v"`` never None). Parsers are lenient as section 3 asks: unknown
text keys are ignored, an int where a float is expected is accepted; a missing or mistyped key raises
:class:`~device_sdk.channels.descriptor.FrameError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeGuard

from device_sdk.errors import ActuatorError, InvalidArgument
from device_sdk.wire.cbor import WIRE_INT_MAX, WIRE_INT_MIN

from .descriptor import FrameError
from .values import ERROR_CODES, is_wire_value


def _is_uint(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_map(frame: object, what: str) -> Mapping[Any, Any]:
    if type(frame) is dict:  # every decoded frame; skips the slower ABC check
        return frame
    if not isinstance(frame, Mapping):
        raise FrameError(f"a {what} frame must be a map, not {type(frame).__name__}")
    return frame


def _time(frame: Mapping[Any, Any], what: str, *, required: bool = True) -> float | None:
    t = frame.get("t")
    if t is None and not required:
        return None
    if not _is_number(t):
        raise FrameError(f"a {what} frame needs a number 't'")
    return float(t)


# -- sensor and input ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reading:
    """One value of a sensor or input channel: sequence number, Unix time in seconds, value."""

    seq: int
    t: float
    value: Any

    def to_frame(self) -> dict[str, Any]:
        """The reading frame ``{"s", "t", "v"}``."""
        return {"s": self.seq, "t": float(self.t), "v": self.value}


_SCALARS: frozenset[type] = frozenset({float, int, bool, str, bytes})
"""Value types that are wire values whatever they hold (exact types: subclasses take the slow path)."""


def parse_reading(frame: object) -> Reading:
    """Parse a reading frame (sensor or input)."""
    if type(frame) is dict:
        # The fast path for what the decoder produces; anything unusual goes to the checks below,
        # which accept and reject exactly what they would without it.
        seq, t = frame.get("s"), frame.get("t")
        value: Any = frame.get("v")
        if type(seq) is int and seq >= 0 and type(t) is float:
            kind = type(value)
            if kind in _SCALARS or kind is list or (kind is dict and all(type(k) is str for k in value)):
                return Reading(seq, t, value)
    m = _as_map(frame, "reading")
    seq, value = m.get("s"), m.get("v")
    if not _is_uint(seq):
        raise FrameError("a reading frame needs an unsigned integer 's'")
    if value is None or not is_wire_value(value):
        raise FrameError("a reading frame needs a value 'v'")
    t = _time(m, "reading")
    assert t is not None
    return Reading(seq, t, value)


@dataclass(frozen=True, slots=True)
class Subscription:
    """A controller's subscription to a sensor: rate limit and dead band; None means no limit."""

    min_interval_ms: int | None = None
    """Send at most one reading per this many milliseconds (by the readings' timestamps)."""
    change: float | None = None
    """Send a reading only when it differs by at least this much from the last one sent."""

    def to_frame(self) -> dict[str, Any]:
        """The subscription frame ``{? "min_interval_ms", ? "change"}``."""
        out: dict[str, Any] = {}
        if self.min_interval_ms is not None:
            out["min_interval_ms"] = self.min_interval_ms
        if self.change is not None:
            out["change"] = self.change
        return out


def parse_subscription(frame: object) -> Subscription:
    """Parse a subscription frame; keys that are absent mean "no limit".

    Numbers beyond what CBOR carries without a tag (an integer above 2^64 - 1) are refused, so that
    what the sensor computes with them cannot overflow.
    """
    m = _as_map(frame, "subscription")
    interval, change = m.get("min_interval_ms"), m.get("change")
    if interval is not None and not (_is_uint(interval) and interval <= WIRE_INT_MAX):
        raise FrameError("'min_interval_ms' must be an unsigned integer of at most 64 bits")
    if change is not None and (
        not _is_number(change) or (isinstance(change, int) and not WIRE_INT_MIN <= change <= WIRE_INT_MAX)
    ):
        raise FrameError("'change' must be a number")
    if change is not None and not change >= 0:
        raise FrameError("'change' must be a non-negative number")
    return Subscription(interval, None if change is None else float(change))


# -- actuator and admin ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActuatorState:
    """A state frame: the actuator's state and when it took it (None when the device sent no time)."""

    value: Any
    t: float | None = None

    def to_frame(self) -> dict[str, Any]:
        """The state frame ``{"v", ? "t"}``."""
        out: dict[str, Any] = {"v": self.value}
        if self.t is not None:
            out["t"] = float(self.t)
        return out


def parse_state(frame: object) -> ActuatorState:
    """Parse a state frame."""
    m = _as_map(frame, "state")
    value = m.get("v")
    if value is None or not is_wire_value(value):
        raise FrameError("a state frame needs a value 'v'")
    return ActuatorState(value, _time(m, "state", required=False))


_NO_VALUE: Any = object()


@dataclass(frozen=True, slots=True)
class ActuatorAnswer:
    """The device's answer to request ``id``: success (with the new state when there is one) or error."""

    id: int
    ok: bool
    value: Any = None
    """The new state (None when the answer carries none)."""
    has_value: bool = False
    code: str | None = None
    """The error code when not ``ok``."""
    message: str = ""

    def result(self) -> Any:
        """The new state (or None) on success; raise :class:`~device_sdk.errors.ActuatorError` otherwise."""
        if not self.ok:
            raise ActuatorError(self.code or "failed", self.message)
        return self.value

    def to_frame(self) -> dict[str, Any]:
        """The answer frame (``actuator-ok`` or ``actuator-error``)."""
        if self.ok:
            return ok_answer(self.id, self.value if self.has_value else _NO_VALUE)
        return error_answer(self.id, self.code or "failed", self.message)


def ok_answer(request_id: int, value: Any = _NO_VALUE) -> dict[str, Any]:
    """``{"id", "ok": true, ? "v"}``; pass no value (or None) for an answer without state."""
    out: dict[str, Any] = {"id": request_id, "ok": True}
    if value is not _NO_VALUE and value is not None:
        out["v"] = value
    return out


def error_answer(request_id: int, code: str, message: str = "") -> dict[str, Any]:
    """``{"id", "ok": false, "error", "message"}``."""
    if code not in ERROR_CODES:
        raise InvalidArgument(f"unknown error code {code!r}")
    return {"id": request_id, "ok": False, "error": code, "message": message}


def parse_answer(frame: object) -> ActuatorAnswer:
    """Parse an actuator or admin answer (a frame with ``"id"`` and ``"ok"``).

    An unknown error code is kept as it is (a newer device may send one); a missing one reads as
    ``"failed"``.
    """
    m = _as_map(frame, "answer")
    request_id, ok = m.get("id"), m.get("ok")
    if not _is_uint(request_id):
        raise FrameError("an answer needs an unsigned integer 'id'")
    if not isinstance(ok, bool):
        raise FrameError("an answer needs a boolean 'ok'")
    if ok:
        value = m.get("v")
        if value is not None and not is_wire_value(value):
            raise FrameError("the answer's 'v' is not a value")
        return ActuatorAnswer(request_id, True, value, value is not None)
    code, message = m.get("error", "failed"), m.get("message", "")
    if not isinstance(code, str) or not isinstance(message, str):
        raise FrameError("an error answer needs text 'error' and 'message'")
    return ActuatorAnswer(request_id, False, None, False, code, message)


def is_answer(frame: object) -> bool:
    """Whether ``frame`` looks like an answer (has ``"id"`` and ``"ok"``) rather than a state frame."""
    return isinstance(frame, Mapping) and "id" in frame and "ok" in frame


def set_request(request_id: int, value: Any) -> dict[str, Any]:
    """``{"id", "set": value}``."""
    return {"id": request_id, "set": value}


def do_request(request_id: int, action: str) -> dict[str, Any]:
    """``{"id", "do": action}``."""
    return {"id": request_id, "do": action}


def admin_request(request_id: int, op: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``{"id", "op", ...params}``."""
    out: dict[str, Any] = {"id": request_id, "op": op}
    for key, value in (params or {}).items():
        if key in ("id", "op"):
            raise InvalidArgument(f"parameter name {key!r} is reserved")
        out[key] = value
    return out


# -- byte streams ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamFormat:
    """The first frame of a byte stream: ``codec`` and its parameters (``rate``, ``channels``...)."""

    codec: str
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def to_frame(self) -> dict[str, Any]:
        """The format frame ``{"format": {"codec", ...}}``."""
        return {"format": {"codec": self.codec, **{k: v for k, v in self.params.items() if k != "codec"}}}


def parse_format(frame: object) -> StreamFormat:
    """Parse a stream format frame."""
    m = _as_map(frame, "format")
    fmt = m.get("format")
    if not isinstance(fmt, Mapping) or not isinstance(fmt.get("codec"), str):
        raise FrameError("a format frame needs a 'format' map with a text 'codec'")
    params = {k: v for k, v in fmt.items() if isinstance(k, str) and k != "codec"}
    return StreamFormat(fmt["codec"], MappingProxyType(params))


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """One chunk of a byte stream: sequence number (one per chunk produced), Unix time, bytes."""

    seq: int
    t: float
    data: bytes

    def to_frame(self) -> dict[str, Any]:
        """The chunk frame ``{"s", "t", "d"}``."""
        return {"s": self.seq, "t": float(self.t), "d": self.data}


def parse_chunk(frame: object) -> StreamChunk:
    """Parse a stream chunk frame."""
    m = _as_map(frame, "chunk")
    seq, data = m.get("s"), m.get("d")
    if not _is_uint(seq):
        raise FrameError("a chunk frame needs an unsigned integer 's'")
    if not isinstance(data, bytes | bytearray):
        raise FrameError("a chunk frame needs a byte string 'd'")
    t = _time(m, "chunk")
    assert t is not None
    return StreamChunk(seq, t, bytes(data))
