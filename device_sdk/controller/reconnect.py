"""Staying connected to a paired device: a new connection whenever the last one is lost.

A device drops off the network (Wi-Fi, a reboot, a new DHCP address or port). The controller finds it
again by its pinned fingerprint over mDNS and dials with exponential backoff::

    async for conn in controller.connections("Thermo"):
        try:
            async for reading in conn.subscribe("temperature"):
                display.show(reading.value)
        except ChannelError:
            pass  # the connection was lost: the next one comes when the device is back

A connection is the caller's until it asks for the next one; asking closes it if it is still open.
A device that presents another fingerprint (:class:`~device_sdk.errors.FingerprintMismatch`) or that
is not paired (:class:`~device_sdk.errors.NotPaired`) ends the iteration with that error: retrying
cannot fix either.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeAlias

from ..discovery import DiscoveredDevice
from ..errors import ConfigError, DeviceNotFound, FingerprintMismatch, TransportError
from ..pairing.trust import PinnedDevice
from .connection import DeviceConnection
from .targets import DeviceTarget

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ReconnectPolicy:
    """How long to wait between attempts: ``first_delay_s``, then ``factor`` times more each time,
    at most ``max_delay_s``. A connection that was established resets the delay."""

    first_delay_s: float = 0.5
    max_delay_s: float = 30.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.first_delay_s <= self.max_delay_s:
            raise ConfigError("need 0 < first_delay_s <= max_delay_s")
        if self.factor < 1:
            raise ConfigError("factor must be at least 1")

    def delays(self) -> Iterator[float]:
        """The waits before the 2nd, 3rd, ... attempt."""
        delay = self.first_delay_s
        while True:
            yield delay
            delay = min(delay * self.factor, self.max_delay_s)


Target: TypeAlias = DiscoveredDevice | DeviceTarget | PinnedDevice
"""A device as :func:`connections` dials it: a pinned device is found again over mDNS each time."""


async def connections(
    connect: Callable[[Target], Awaitable[DeviceConnection]],
    device: Target,
    policy: ReconnectPolicy,
) -> AsyncGenerator[DeviceConnection, None]:
    """Connect to ``device`` with ``connect`` (the controller's), again whenever the last connection is
    given back; see the module docstring. :meth:`Controller.connections` is the public entry."""
    name = device.display_name if isinstance(device, DiscoveredDevice) else device.name
    delays = policy.delays()
    while True:
        try:
            conn = await connect(device)
        except FingerprintMismatch:
            raise
        except (DeviceNotFound, TransportError) as exc:
            delay = next(delays)
            log.info("%s is not reachable (%s); trying again in %.1f s", name, exc, delay)
            await asyncio.sleep(delay)
            continue
        delays = policy.delays()
        try:
            yield conn
        finally:
            if not conn.closed:
                await conn.close()
