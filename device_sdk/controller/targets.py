"""Where a device is and who it claims to be (:class:`DeviceTarget`), and finding devices over mDNS
(:class:`DeviceFinder`: discovery, a query by name, fingerprint or discriminator, a setup code's
device, a pinned device found again by its fingerprint)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zeroconf.asyncio import AsyncZeroconf

from ..discovery import Browser, DiscoveredDevice
from ..errors import AmbiguousDevice, DeviceNotFound
from ..identity import agent_hostname, fingerprint_from_text, fingerprint_text
from ..pairing.setup_code import parse_setup_code
from ..pairing.trust import PinnedDevice

__all__ = ["DISCOVERY_SETTLE_S", "DeviceFinder", "DeviceTarget"]

DISCOVERY_SETTLE_S = 1.0
"""How long after the browser starts :meth:`DeviceFinder.find` waits for other matching devices to answer."""


@dataclass(frozen=True, kw_only=True)
class DeviceTarget:
    """Where a device is and who it claims to be: from discovery, a ready file or the pin store."""

    name: str
    addresses: tuple[str, ...]
    port: int
    fingerprint: bytes
    sn: str
    token: str | None = None
    discriminator: int | None = None

    @classmethod
    def from_discovered(cls, device: DiscoveredDevice) -> DeviceTarget:
        return cls(
            name=device.instance_name,
            addresses=device.addresses,
            port=device.port,
            fingerprint=fingerprint_from_text(device.txt.fp),
            sn=device.txt.sn,
            token=device.txt.at,
            discriminator=device.txt.d,
        )

    @classmethod
    def from_ready_file(cls, path: Path, host: str = "127.0.0.1") -> DeviceTarget:
        """A device started with ``--ready-file`` (tests and tools without mDNS)."""
        data = json.loads(Path(path).read_text())
        return cls(
            name=data["name"],
            addresses=(host,),
            port=int(data["port"]),
            fingerprint=fingerprint_from_text(data["fp"]),
            sn=data["sn"],
            token=data.get("at"),
            discriminator=data.get("d"),
        )

    @property
    def server_name(self) -> str:
        return agent_hostname(self.sn, self.name)


class DeviceFinder:
    """A controller's mDNS browser (started on first use) and the queries on it.

    ``zeroconf`` is a shared :class:`~zeroconf.asyncio.AsyncZeroconf` (None: the browser makes its own),
    ``interfaces`` the interfaces to browse on (None: all).
    """

    def __init__(self, *, zeroconf: AsyncZeroconf | None, interfaces: tuple[str, ...] | None) -> None:
        self._zeroconf = zeroconf
        self._interfaces = interfaces
        self._browser: Browser | None = None
        self._started = 0.0

    async def close(self) -> None:
        """Stop browsing."""
        if self._browser is not None:
            await self._browser.stop()
            self._browser = None

    async def browser(self) -> Browser:
        """The controller's mDNS browser, started on first use."""
        if self._browser is None:
            self._browser = Browser(zeroconf=self._zeroconf, interfaces=self._interfaces)
            await self._browser.start()
            self._started = asyncio.get_running_loop().time()
        return self._browser

    async def discover(self, timeout: float = 3.0, *, pairable_only: bool = False) -> list[DiscoveredDevice]:
        """Devices seen within ``timeout`` seconds (only those with an open window if asked)."""
        browser = await self.browser()
        await asyncio.sleep(timeout)
        found = list(browser.devices.values())
        if pairable_only:
            found = [d for d in found if d.commissionable]
        return sorted(found, key=lambda d: d.instance_name)

    async def find(self, query: str, timeout: float = 5.0) -> DiscoveredDevice:
        """A device by name, fingerprint prefix (>= 4 characters) or discriminator.

        Raises :class:`~device_sdk.errors.AmbiguousDevice` when the query matches more than one device
        (a shared discriminator, a short fingerprint prefix, two devices showing the same name).
        """

        def match(d: DiscoveredDevice) -> bool:
            if query in (d.instance_name, d.display_name) or d.instance_name.lower() == query.lower():
                return True
            if len(query) >= 4 and d.txt.fp.startswith(query):
                return True
            return query.isdigit() and d.txt.d is not None and int(query) == d.txt.d

        return await self._find_unique(match, timeout, f"{query!r}", exact_name=query)

    async def find_for_code(self, code: str, timeout: float = 5.0) -> DiscoveredDevice:
        """The device with an open pairing window whose discriminator matches a setup code.

        Raises :class:`~device_sdk.errors.AmbiguousDevice` when two or more such devices are on the
        network, rather than pairing with whichever answered first: one of them may be an impostor.
        """
        parsed = parse_setup_code(code)

        def match(d: DiscoveredDevice) -> bool:
            return d.commissionable and (d.txt.d is None or parsed.matches_discriminator(d.txt.d))

        return await self._find_unique(match, timeout, "the setup code's discriminator")

    async def _find_unique(
        self,
        match: Callable[[DiscoveredDevice], bool],
        timeout: float,
        what: str,
        *,
        exact_name: str | None = None,
    ) -> DiscoveredDevice:
        browser = await self.browser()
        first = await browser.find(match, timeout)
        if exact_name is not None and first.instance_name.lower() == exact_name.lower():
            return first  # an instance name is unique on the link (mDNS renames on conflict)
        # Other devices answer the same query within ~120 ms (RFC 6762 section 6); allow for resolving and load.
        wait = self._started + DISCOVERY_SETTLE_S - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)
        matches = {d.txt.fp: d for d in browser.devices.values() if match(d)}
        if len(matches) > 1:
            found = tuple(sorted(matches.values(), key=lambda d: d.display_name))
            names = ", ".join(d.display_name for d in found)
            raise AmbiguousDevice(f"{len(found)} devices match {what}: {names}; name one of them", found)
        return next(iter(matches.values()), first)

    def freshest(self, device: DiscoveredDevice) -> DiscoveredDevice:
        """The browser's current record of ``device``: its ``at`` rotates with every window opening
        and failed attempt, and pairing with an old one would cost an attempt (secret-unknown)."""
        if self._browser is not None:
            for record in self._browser.devices.values():
                if record.txt.fp == device.txt.fp:
                    return record
        return device

    async def locate(self, pinned: PinnedDevice) -> DeviceTarget:
        """Where a pinned device is now: its mDNS record, found by its fingerprint."""
        text = fingerprint_text(pinned.fingerprint)
        try:
            found = await (await self.browser()).find(lambda d: d.txt.fp == text, timeout=3.0)
        except DeviceNotFound:
            raise DeviceNotFound(f"{pinned.name} is paired but not advertised on the network") from None
        return DeviceTarget.from_discovered(found)

    def target(self, device: DiscoveredDevice) -> DeviceTarget:
        """The target of ``device`` as the browser sees it now (:meth:`freshest`)."""
        return DeviceTarget.from_discovered(self.freshest(device))
