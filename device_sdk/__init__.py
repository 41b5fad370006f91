"""device_sdk: local network devices over Open Screen Protocol, SPAKE2 pairing and QUIC channels.

The public API. Device side: :class:`Device` with a :class:`DeviceConfig` (package ``device_sdk.device``);
controller side: :class:`Controller` with a :class:`ControllerConfig`, giving :class:`DeviceConnection`
objects (package ``device_sdk.controller``). Errors derive from :class:`DeviceSDKError`. The layers under
them are described in docs/architecture.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._version import __version__
from .errors import (
    ActuatorError,
    AmbiguousDevice,
    ChannelError,
    ChannelOpenFailed,
    ConfigError,
    ConnectionClosed,
    ConnectionLost,
    ConnectTimeout,
    DeviceNotFound,
    DeviceSDKError,
    DeviceUnreachable,
    DiscoveryError,
    FingerprintMismatch,
    HardwareError,
    InvalidArgument,
    InvalidSetupCode,
    InvalidType,
    LocalProtocolError,
    LockedOut,
    NotPaired,
    NotRunning,
    PairingAborted,
    PairingError,
    PairingTimeout,
    PairingWindowClosed,
    ProtocolError,
    RemoteProtocolError,
    StateError,
    TransportError,
    UnknownName,
    WrongSetupCode,
)

if TYPE_CHECKING:
    from .channels import ActuatorBusy, Catalog, ChannelDescriptor, Reading, StreamChunk, StreamFormat, ValueRejected
    from .controller import Controller, ControllerConfig, DeviceConnection, DeviceTarget, PinnedDevice, ReconnectPolicy
    from .device import (
        ControllerRemoved,
        Device,
        DeviceConfig,
        DeviceEvent,
        FactoryData,
        LockoutStarted,
        Paired,
        PairingFailed,
        PairingStarted,
        PairingWindowChanged,
        PinShown,
    )
    from .identity import AgentIdentity
    from .pairing.setup_code import SetupPayload, encode_manual, encode_qr, parse_setup_code
    from .pairing.window import PairingMode
else:  # each name is imported when first read: a device script loads no controller, a controller no device
    from ._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            ".channels": (
                "ActuatorBusy", "Catalog", "ChannelDescriptor", "Reading", "StreamChunk", "StreamFormat",
                "ValueRejected",
            ),
            ".controller": (
                "Controller", "ControllerConfig", "DeviceConnection", "DeviceTarget", "PinnedDevice", "ReconnectPolicy",
            ),
            ".device": (
                "ControllerRemoved", "Device", "DeviceConfig", "DeviceEvent", "FactoryData", "LockoutStarted", "Paired",
                "PairingFailed", "PairingStarted", "PairingWindowChanged", "PinShown",
            ),
            ".identity": ("AgentIdentity",),
            ".pairing.setup_code": ("SetupPayload", "encode_manual", "encode_qr", "parse_setup_code"),
            ".pairing.window": ("PairingMode",),
        },
    )  # fmt: skip

__all__ = [
    "ActuatorBusy",
    "ActuatorError",
    "AgentIdentity",
    "AmbiguousDevice",
    "Catalog",
    "ChannelDescriptor",
    "ChannelError",
    "ChannelOpenFailed",
    "ConfigError",
    "ConnectTimeout",
    "ConnectionClosed",
    "ConnectionLost",
    "Controller",
    "ControllerConfig",
    "ControllerRemoved",
    "Device",
    "DeviceConfig",
    "DeviceConnection",
    "DeviceEvent",
    "DeviceNotFound",
    "DeviceSDKError",
    "DeviceTarget",
    "DeviceUnreachable",
    "DiscoveryError",
    "FactoryData",
    "FingerprintMismatch",
    "HardwareError",
    "InvalidArgument",
    "InvalidSetupCode",
    "InvalidType",
    "LocalProtocolError",
    "LockedOut",
    "LockoutStarted",
    "NotPaired",
    "NotRunning",
    "Paired",
    "PairingAborted",
    "PairingError",
    "PairingFailed",
    "PairingMode",
    "PairingStarted",
    "PairingTimeout",
    "PairingWindowChanged",
    "PairingWindowClosed",
    "PinShown",
    "PinnedDevice",
    "ProtocolError",
    "Reading",
    "ReconnectPolicy",
    "RemoteProtocolError",
    "SetupPayload",
    "StateError",
    "StreamChunk",
    "StreamFormat",
    "TransportError",
    "UnknownName",
    "ValueRejected",
    "WrongSetupCode",
    "__version__",
    "encode_manual",
    "encode_qr",
    "parse_setup_code",
]
