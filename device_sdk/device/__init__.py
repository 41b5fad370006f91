"""The device side: :class:`Device`, its configuration and the events it reports."""

from __future__ import annotations

from .config import DeviceConfig, device_config_from, load_config_file
from .device import Device
from .events import (
    ControllerRemoved,
    DeviceEvent,
    LockoutStarted,
    Paired,
    PairingFailed,
    PairingStarted,
    PairingWindowChanged,
    PinShown,
)
from .factory import FactoryData

__all__ = [
    "ControllerRemoved",
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
    "device_config_from",
    "load_config_file",
]
