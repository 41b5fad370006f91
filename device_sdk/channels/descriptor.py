"""Channel labels, protocol names and catalog descriptors (profile sections 6 and 6.1).

Shared by both sides: the device builds :class:`ChannelDescriptor` objects from its declarations and
sends them in catalog frames, the controller parses catalog frames back into them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal, get_args

from device_sdk.errors import ChannelError, UnknownName

from .values import VALUE_TYPES, ValueType

ChannelKind = Literal["sensor", "actuator", "stream", "input"]
"""The kind of a catalog channel."""

CHANNEL_KINDS: Final[frozenset[str]] = frozenset(get_args(ChannelKind))

CATALOG_LABEL: Final = "catalog"
ADMIN_LABEL: Final = "admin"
CATALOG_PROTOCOL: Final = "device-sdk.catalog.v1"
SENSOR_PROTOCOL: Final = "device-sdk.sensor.v1"
ACTUATOR_PROTOCOL: Final = "device-sdk.actuator.v1"
STREAM_PROTOCOL: Final = "device-sdk.stream.v1"
INPUT_PROTOCOL: Final = "device-sdk.input.v1"
ADMIN_PROTOCOL: Final = "device-sdk.admin.v1"

PROTOCOL_BY_KIND: Final[Mapping[str, str]] = MappingProxyType(
    {
        "sensor": SENSOR_PROTOCOL,
        "actuator": ACTUATOR_PROTOCOL,
        "stream": STREAM_PROTOCOL,
        "input": INPUT_PROTOCOL,
    }
)
"""The protocol a controller names when it opens a catalog channel of each kind."""

RESERVED_LABELS: Final[frozenset[str]] = frozenset({CATALOG_LABEL, ADMIN_LABEL})

_DESCRIPTOR_KEYS: Final = frozenset({"name", "kind", "type", "unit", "min", "max", "values", "rate_hz", "description"})


class FrameError(ChannelError, ValueError):
    """A frame (or input datagram) from the peer is malformed or does not have the shape its protocol
    requires; ``reason`` says how.

    Raised by the parsers. The profile does not close the connection for a frame of the wrong shape (it
    is ignored or answered), so this is deliberately not a protocol error.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True, kw_only=True)
class ChannelDescriptor:
    """One channel of the catalog: ``name`` is also the label to open it with."""

    name: str
    kind: ChannelKind
    type: ValueType
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    values: tuple[str, ...] = ()
    rate_hz: float | None = None
    """The highest rate at which the device produces values."""
    description: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Extension keys (text keys this profile does not define), for example ``"actions"`` of an
    actuator or ``"format"`` of a stream."""

    @property
    def protocol(self) -> str:
        """The protocol name to open this channel with."""
        return PROTOCOL_BY_KIND[self.kind]

    @property
    def actions(self) -> tuple[str, ...]:
        """The actions of an actuator (the ``"actions"`` extension key), else empty."""
        raw = self.extra.get("actions")
        if isinstance(raw, list | tuple) and all(isinstance(a, str) for a in raw):
            return tuple(raw)
        return ()

    def to_frame(self) -> dict[str, Any]:
        """The descriptor as it appears in a catalog frame."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "type": self.type}
        if self.unit is not None:
            out["unit"] = self.unit
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        if self.values:
            out["values"] = list(self.values)
        if self.rate_hz is not None:
            out["rate_hz"] = self.rate_hz
        if self.description is not None:
            out["description"] = self.description
        for key, value in self.extra.items():
            if key not in out:
                out[key] = value
        return out

    @classmethod
    def from_frame(cls, frame: object) -> ChannelDescriptor:
        """Parse one descriptor of a catalog frame; :class:`FrameError` when it is malformed.

        A kind or type this profile does not know is an error; unknown text keys land in ``extra``.
        """
        if not isinstance(frame, Mapping):
            raise FrameError("a channel descriptor must be a map")
        name, kind, vtype = frame.get("name"), frame.get("kind"), frame.get("type")
        if not isinstance(name, str) or not name:
            raise FrameError("a channel descriptor needs a non-empty text 'name'")
        if kind not in CHANNEL_KINDS:
            raise FrameError(f"channel {name!r}: unknown kind {kind!r}")
        if vtype not in VALUE_TYPES:
            raise FrameError(f"channel {name!r}: unknown type {vtype!r}")
        unit, description = frame.get("unit"), frame.get("description")
        for key, text in (("unit", unit), ("description", description)):
            if text is not None and not isinstance(text, str):
                raise FrameError(f"channel {name!r}: {key!r} must be text")
        numbers: dict[str, float | None] = {}
        for key in ("min", "max", "rate_hz"):
            number = frame.get(key)
            if number is not None and not _is_number(number):
                raise FrameError(f"channel {name!r}: {key!r} must be a number")
            numbers[key] = number
        values = frame.get("values", [])
        if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
            raise FrameError(f"channel {name!r}: 'values' must be a list of texts")
        extra = {k: v for k, v in frame.items() if isinstance(k, str) and k not in _DESCRIPTOR_KEYS}
        return cls(
            name=name,
            kind=kind,
            type=vtype,
            unit=unit,
            min=numbers["min"],
            max=numbers["max"],
            values=tuple(values),
            rate_hz=numbers["rate_hz"],
            description=description,
            extra=MappingProxyType(extra),
        )


@dataclass(frozen=True, kw_only=True)
class DeviceInfo:
    """The ``"device"`` part of a catalog frame."""

    name: str
    model: str
    board: str | None = None
    sdk: str | None = None

    def to_frame(self) -> dict[str, str]:
        """The ``"device"`` map of a catalog frame."""
        out = {"name": self.name, "model": self.model}
        if self.board is not None:
            out["board"] = self.board
        if self.sdk is not None:
            out["sdk"] = self.sdk
        return out


@dataclass(frozen=True, kw_only=True)
class Catalog:
    """A parsed catalog frame: the device and its channels in the device's order."""

    device: DeviceInfo
    channels: tuple[ChannelDescriptor, ...]

    def __getitem__(self, name: str) -> ChannelDescriptor:
        for descriptor in self.channels:
            if descriptor.name == name:
                return descriptor
        raise UnknownName(name)

    def get(self, name: str) -> ChannelDescriptor | None:
        """The descriptor of channel ``name``, or None."""
        try:
            return self[name]
        except KeyError:
            return None

    def to_frame(self) -> dict[str, Any]:
        """The catalog frame (``catalog-frame`` in ``device-channels.cddl``)."""
        return {
            "device": self.device.to_frame(),
            "channels": [descriptor.to_frame() for descriptor in self.channels],
        }


def parse_catalog(frame: object) -> Catalog:
    """Parse a catalog frame; raise :class:`FrameError` when it is malformed.

    Descriptors that fail to parse make the whole frame an error: a controller must not silently act
    on a partial catalog.
    """
    if not isinstance(frame, Mapping):
        raise FrameError("a catalog frame must be a map")
    device, channels = frame.get("device"), frame.get("channels")
    if not isinstance(device, Mapping):
        raise FrameError("a catalog frame needs a 'device' map")
    name, model = device.get("name"), device.get("model")
    board, sdk = device.get("board"), device.get("sdk")
    if not isinstance(name, str) or not isinstance(model, str):
        raise FrameError("the catalog's device needs text 'name' and 'model'")
    if not all(v is None or isinstance(v, str) for v in (board, sdk)):
        raise FrameError("the catalog's device 'board' and 'sdk' must be text")
    if not isinstance(channels, list | tuple):
        raise FrameError("a catalog frame needs a 'channels' list")
    descriptors = tuple(ChannelDescriptor.from_frame(item) for item in channels)
    return Catalog(device=DeviceInfo(name=name, model=model, board=board, sdk=sdk), channels=descriptors)
