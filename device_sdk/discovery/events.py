"""What a browser reports: discovered devices, the events about them, and filters over them."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from device_sdk.identity.names import ELLIPSIS

from ..errors import InvalidArgument, InvalidType
from .txt import MAX_DISCRIMINATOR, DeviceTxt

__all__ = [
    "DeviceAdded",
    "DeviceFilter",
    "DeviceRemoved",
    "DeviceUpdated",
    "DiscoveredDevice",
    "DiscoveryEvent",
]


@dataclass(frozen=True, kw_only=True)
class DiscoveredDevice:
    """A resolved device: where it listens and what its TXT record says."""

    instance_name: str
    """The mDNS instance name (may end with ``…`` when truncated; see :attr:`truncated`)."""
    display_name: str
    """``instance_name`` with control and bidi-override characters removed: safe to show."""
    addresses: tuple[str, ...]
    """IPv4 and IPv6 addresses from the A/AAAA records (``%zone`` on link-local IPv6 only when the
    record arrived over IPv6; otherwise connect over the interface the device was found on)."""
    port: int
    """The QUIC port from the SRV record."""
    txt: DeviceTxt
    """The validated TXT values."""
    host: str
    """The SRV target host name."""

    @property
    def truncated(self) -> bool:
        """True when the instance name was cut: take the full name from agent-info."""
        return self.instance_name.endswith(ELLIPSIS)

    @property
    def fingerprint(self) -> str:
        """The ``fp`` value: base64 SHA-256 of the device's SubjectPublicKeyInfo."""
        return self.txt.fp

    @property
    def commissionable(self) -> bool:
        """True while the device's pairing window is open (``cm=1``)."""
        return self.txt.cm


@dataclass(frozen=True)
class DiscoveryEvent:
    """Base of the browser's events; ``device`` is the device as it is now (or was, if removed)."""

    device: DiscoveredDevice

    @property
    def instance_name(self) -> str:
        """The instance name the event is about."""
        return self.device.instance_name


@dataclass(frozen=True)
class DeviceAdded(DiscoveryEvent):
    """A device appeared (or started to match the browser's filter)."""


@dataclass(frozen=True)
class DeviceUpdated(DiscoveryEvent):
    """A known device changed: TXT values, addresses, port or host (e.g. after a restart)."""

    previous: DiscoveredDevice = field(kw_only=True)
    """The device before the change."""


@dataclass(frozen=True)
class DeviceRemoved(DiscoveryEvent):
    """A device left (goodbye, expiry, invalid TXT, or no longer matching the filter)."""


@dataclass(frozen=True, kw_only=True)
class DeviceFilter:
    """Which devices to report. Every given criterion must hold; the default matches everything.

    Usable as a predicate: ``DeviceFilter(commissionable=True)(device)``.
    """

    fingerprints: Collection[str] | None = None
    """Only devices whose ``fp`` is one of these (pinned devices)."""
    commissionable: bool = False
    """Only devices with an open pairing window (``cm=1``)."""
    discriminator: int | None = None
    """Only devices whose 12-bit ``d`` equals this (from a QR code)."""
    short_discriminator: int | None = None
    """Only devices whose ``d`` has these top 4 bits (from an 11-digit manual code)."""
    instance_name: str | None = None
    """Only the device with this instance name (compared case-insensitively, as DNS does)."""

    def __post_init__(self) -> None:
        if self.discriminator is not None and not 0 <= self.discriminator <= MAX_DISCRIMINATOR:
            raise InvalidArgument(f"discriminator {self.discriminator} is not in 0..4095")
        if self.short_discriminator is not None and not 0 <= self.short_discriminator <= 15:
            raise InvalidArgument(f"short discriminator {self.short_discriminator} is not in 0..15")
        if isinstance(self.fingerprints, str):
            raise InvalidType("fingerprints must be a collection of fingerprints, not one string")

    def __call__(self, device: DiscoveredDevice) -> bool:
        txt = device.txt
        if self.fingerprints is not None and txt.fp not in self.fingerprints:
            return False
        if self.commissionable and not txt.cm:
            return False
        if self.discriminator is not None and txt.d != self.discriminator:
            return False
        if self.short_discriminator is not None and txt.short_discriminator != self.short_discriminator:
            return False
        return self.instance_name is None or device.instance_name.casefold() == self.instance_name.casefold()
