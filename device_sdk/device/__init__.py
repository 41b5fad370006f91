"""The device side: :class:`Device`, its configuration and the events it reports."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
else:  # each name is imported when first read (device_sdk/_lazy.py)
    from .._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            ".config": ("DeviceConfig", "device_config_from", "load_config_file"),
            ".device": ("Device",),
            ".events": (
                "ControllerRemoved", "DeviceEvent", "LockoutStarted", "Paired", "PairingFailed", "PairingStarted",
                "PairingWindowChanged", "PinShown",
            ),
            ".factory": ("FactoryData",),
        },
    )  # fmt: skip

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
