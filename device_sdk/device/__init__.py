"""The device side: :class:`Device`, its configuration and the events it reports."""

from __future__ import annotations

from .config import DeviceConfig, device_config_from, load_config_file
from .device import Device
from .events import (
    DeviceEvent,
    LockoutStarted,
    Paired,
    PairingFailed,
    PairingStarted,
    PairingWindowChanged,
    PinShown,
    ShowPin,
)
from .factory import FactoryData

__all__ = [
    "Device",
    "DeviceConfig",
    "DeviceEvent",
    "FactoryData",
    "LockoutStarted",
    "Paired",
    "PairingFailed",
    "PairingStarted",
    "PairingWindowChanged",
    "PinShown",
    "ShowPin",
    "device_config_from",
    "load_config_file",
]
