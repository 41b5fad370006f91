"""Discovery (profile section 1): the TXT codec, the mDNS advertiser and the browser."""

from __future__ import annotations

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
