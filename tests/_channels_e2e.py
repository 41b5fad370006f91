"""Helpers of the loopback end-to-end channel tests: a real Device, real Controllers paired over QUIC."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeVar

from device_sdk.controller import Controller, ControllerConfig, DeviceConnection
from device_sdk.device import Device, DeviceConfig
from device_sdk.transport import TransportConfig

from .test_e2e_pairing import target

SETUP_CODE = 20202021
T = TypeVar("T")

__all__ = ["SETUP_CODE", "close_all", "make_device", "next_within", "pair", "pair_many", "target", "wait_for_session"]


def make_device(tmp_path: Path, *, name: str = "Bench", transport: TransportConfig | None = None) -> Device:
    """A device on 127.0.0.1 without mDNS, its pairing window open at start (no peers yet)."""
    return Device(
        DeviceConfig(
            state_dir=tmp_path / "device",
            name=name,
            advertise=False,
            host="127.0.0.1",
            setup_code=SETUP_CODE,
            transport=transport or TransportConfig(),
        )
    )


async def pair(
    device: Device, tmp_path: Path, name: str, *, transport: TransportConfig | None = None
) -> DeviceConnection:
    """Pair a new controller (own state directory) through the pairing window, reopened if needed."""
    if not device.window.is_open:
        device.open_pairing_window("admin")
    ctl = Controller(ControllerConfig(state_dir=tmp_path / name, name=name, transport=transport or TransportConfig()))
    return await ctl.pair(target(device), SETUP_CODE)


async def pair_many(device: Device, tmp_path: Path, count: int, prefix: str = "ctl") -> list[DeviceConnection]:
    """Pair ``count`` controllers one after the other (the first becomes the admin)."""
    return [await pair(device, tmp_path, f"{prefix}{i}") for i in range(count)]


async def next_within(items: AsyncIterator[T], seconds: float = 5.0) -> T:
    """The next item of ``items``, failing the test after ``seconds``."""
    return await asyncio.wait_for(items.__anext__(), seconds)


async def close_all(conns: list[DeviceConnection]) -> None:
    await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)


async def wait_for_session(device: Device, label: str, count: int = 1, seconds: float = 5.0) -> None:
    """Wait until the device has ``count`` open sessions on channel ``label``."""
    async with asyncio.timeout(seconds):
        while len([s for s in device.channels.sessions if s.label == label]) < count:
            await asyncio.sleep(0.002)
