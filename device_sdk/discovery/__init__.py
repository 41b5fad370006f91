"""Discovery (profile section 1): the TXT codec, the mDNS advertiser and the browser."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .advertiser import Advertiser, AdvertiserConfig
    from .browser import Browser
    from .events import (
        DeviceAdded,
        DeviceFilter,
        DeviceRemoved,
        DeviceUpdated,
        DiscoveredDevice,
        DiscoveryEvent,
    )
    from .interfaces import ResolvedInterfaces, resolve_interfaces
    from .txt import (
        SERVICE_TYPE,
        DeviceRecord,
        DeviceTxt,
        InvalidTxt,
        encode_txt,
        parse_txt,
        sanitize_display_name,
        short_discriminator,
    )
else:  # each name is imported when first read (device_sdk/_lazy.py)
    from .._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            ".advertiser": ("Advertiser", "AdvertiserConfig"),
            ".browser": ("Browser",),
            ".events": (
                "DeviceAdded", "DeviceFilter", "DeviceRemoved", "DeviceUpdated", "DiscoveredDevice", "DiscoveryEvent",
            ),
            ".interfaces": ("ResolvedInterfaces", "resolve_interfaces"),
            ".txt": (
                "SERVICE_TYPE", "DeviceRecord", "DeviceTxt", "InvalidTxt", "encode_txt", "parse_txt",
                "sanitize_display_name", "short_discriminator",
            ),
        },
    )  # fmt: skip

__all__ = [
    "SERVICE_TYPE",
    "Advertiser",
    "AdvertiserConfig",
    "Browser",
    "DeviceAdded",
    "DeviceFilter",
    "DeviceRecord",
    "DeviceRemoved",
    "DeviceTxt",
    "DeviceUpdated",
    "DiscoveredDevice",
    "DiscoveryEvent",
    "InvalidTxt",
    "ResolvedInterfaces",
    "encode_txt",
    "parse_txt",
    "resolve_interfaces",
    "sanitize_display_name",
    "short_discriminator",
]
