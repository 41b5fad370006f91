"""The device side: :class:`Device`, its configuration and the events it reports."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
else:  # each name is imported when first read (device_sdk/_lazy.py)
    from .._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            ".config": ("DeviceConfig", "device_config_from", "load_config_file"),
            ".device": ("Device",),
            ".events": (
                "DeviceEvent", "LockoutStarted", "Paired", "PairingFailed", "PairingStarted", "PairingWindowChanged",
                "PinShown", "ShowPin",
            ),
            ".factory": ("FactoryData",),
        },
    )  # fmt: skip

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
