"""device_sdk: local network devices over Open Screen Protocol, SPAKE2 pairing and QUIC channels.

Device side: :class:`Device` with a :class:`DeviceConfig`; controller side: :class:`Controller` with a
:class:`ControllerConfig`, giving :class:`DeviceConnection` objects. Errors derive from
:class:`DeviceSDKError`.
"""

from __future__ import annotations

from ._version import __version__
from .channels import ActuatorBusy, Catalog, ChannelDescriptor, Reading, StreamChunk, StreamFormat
from .controller import Controller, ControllerConfig, DeviceConnection, DeviceTarget, ReconnectPolicy
from .device import Device, DeviceConfig, DeviceEvent, FactoryData, Paired, PairingFailed, PairingWindowChanged, ShowPin
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
    InvalidSetupCode,
    LocalProtocolError,
    LockedOut,
    NotPaired,
    PairingAborted,
    PairingError,
    PairingTimeout,
    PairingWindowClosed,
    ProtocolError,
    RemoteProtocolError,
    StateError,
    TransportError,
    WrongSetupCode,
)
from .identity import AgentIdentity
from .pairing.setup_code import SetupPayload, encode_manual, encode_qr, parse_setup_code
from .pairing.window import PairingMode

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
    "InvalidSetupCode",
    "LocalProtocolError",
    "LockedOut",
    "NotPaired",
    "Paired",
    "PairingAborted",
    "PairingError",
    "PairingFailed",
    "PairingMode",
    "PairingTimeout",
    "PairingWindowChanged",
    "PairingWindowClosed",
    "ProtocolError",
    "Reading",
    "ReconnectPolicy",
    "RemoteProtocolError",
    "SetupPayload",
    "ShowPin",
    "StateError",
    "StreamChunk",
    "StreamFormat",
    "TransportError",
    "WrongSetupCode",
    "__version__",
    "encode_manual",
    "encode_qr",
    "parse_setup_code",
]
