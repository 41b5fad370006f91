"""The pairing button end to end with a real device process (issue 7).

``device-sdk run --board sim --pairing button`` runs as a subprocess; the test presses its pairing
button with the real CLI (``device-sdk sim press``, over the sim control socket), watches ``cm`` over
real mDNS on loopback, pairs a Controller in button mode (PSK 0) and reads the status LED back from
the mock pins. A second test holds the button past a short ``hold_s`` for a factory reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from device_sdk.controller import Controller, ControllerConfig, DeviceTarget
from device_sdk.discovery import Browser, DiscoveredDevice
from device_sdk.errors import ConnectionClosed
from device_sdk.hardware.sim_control import sim_request, sim_socket_path
from device_sdk.hardware.sim_protocol import Status
from device_sdk.pairing.trust import DeviceTrustStore

pytestmark = pytest.mark.timeout(60)

SIM_TOML = Path(__file__).resolve().parents[1] / "device_sdk" / "hardware" / "board_profiles" / "sim.toml"


def cli(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "device_sdk", *map(str, args)]


class DeviceProcess:
    """``device-sdk run --json`` in a subprocess; its JSON event lines are collected."""

    def __init__(self, proc: asyncio.subprocess.Process, state_dir: Path, ready: Path) -> None:
        self.proc = proc
        self.state_dir = state_dir
        self.ready = ready
        self.events: list[dict[str, Any]] = []
        self.stderr = b""
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            with contextlib.suppress(ValueError):
                event = json.loads(raw)
                async with self._changed:
                    self.events.append(event)
                    self._changed.notify_all()

    async def wait_event(self, match: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
        try:
            async with asyncio.timeout(timeout), self._changed:
                while True:
                    for event in self.events:
                        if match(event):
                            return event
                    if self._reader.done():
                        break
                    await self._changed.wait()
        except TimeoutError:
            pass
        raise AssertionError(f"no matching event; events so far: {self.events}")

    async def wait_ready(self, timeout: float = 15.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while not self.ready.exists():
                assert self.proc.returncode is None, await self._stderr()
                await asyncio.sleep(0.05)
        ready: dict[str, Any] = json.loads(self.ready.read_text())
        return ready

    async def _stderr(self) -> str:
        assert self.proc.stderr is not None
        return (await self.proc.stderr.read()).decode(errors="replace")

    async def status(self) -> dict[str, Any]:
        return await sim_request(self.state_dir, Status())

    async def stop(self) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            code = await self.proc.wait()
            await self._reader
        return code


@contextlib.asynccontextmanager
async def run_device(tmp_path: Path, *args: str | Path) -> AsyncIterator[DeviceProcess]:
    state_dir, ready = tmp_path / "device", tmp_path / "ready.json"
    proc = await asyncio.create_subprocess_exec(
        *cli("run", "--pairing", "button", "--state-dir", state_dir, "--ready-file", ready, "--json", *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    device = DeviceProcess(proc, state_dir, ready)
    try:
        yield device
    finally:
        if proc.returncode is None:
            proc.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(proc.wait(), 5)


async def press(state_dir: Path, *extra: str) -> dict[str, Any]:
    """The real CLI: ``device-sdk sim press --state-dir DIR --json``."""
    proc = await asyncio.create_subprocess_exec(
        *cli("sim", "press", "--state-dir", state_dir, "--json", *extra),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out)
    return result


async def advertised(browser: Browser, fp: str, cm: bool, timeout: float = 5.0) -> DiscoveredDevice:
    """The device as mDNS shows it once its TXT says ``cm`` (1 when True)."""
    return await browser.find(lambda d: d.txt.fp == fp and d.txt.cm is cm, timeout=timeout)


async def trusted_soon(state_dir: Path, fingerprints: list[str], timeout: float = 5.0) -> None:
    """Wait until the device's trust store on disk lists exactly ``fingerprints``."""
    async with asyncio.timeout(timeout):
        while True:
            trust = DeviceTrustStore(state_dir / "trust.json")
            if [p.fingerprint_text for p in trust.list()] == fingerprints:
                return
            await asyncio.sleep(0.02)


def window_event(open_: bool) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e.get("event") == "PairingWindowChanged" and e["open"] is open_


async def test_press_opens_the_window_and_a_controller_pairs(tmp_path: Path) -> None:
    name = f"Button {os.getpid()}-{secrets.token_hex(2)}"
    async with (
        run_device(tmp_path, "--board", "sim", "--interface", "lo", "--name", name) as dev,
        Browser(interfaces=["127.0.0.1"]) as browser,
    ):
        ready = await dev.wait_ready()
        fp = ready["fp"]

        # before the press: unpaired, yet the window stays closed in button mode
        assert ready["cm"] == 0
        seen = await advertised(browser, fp, cm=False)
        assert seen.instance_name == name and seen.port == ready["port"]
        before = await dev.status()
        assert before["pairing_window"]["open"] is False and before["paired"] == 0
        assert before["status_led"]["pattern"] == "off"

        assert await press(dev.state_dir) == {"pressed": "pairing_button", "hold_s": 0.2}

        opened = await dev.wait_event(window_event(True))
        assert opened["reason"] == "button"
        pairable = await advertised(browser, fp, cm=True)
        during = await dev.status()
        assert during["pairing_window"]["open"] is True and during["pairing_window"]["reason"] == "button"
        assert during["status_led"]["pattern"] == "window-open"
        assert json.loads(dev.ready.read_text())["cm"] == 1

        ctl = Controller(ControllerConfig(state_dir=tmp_path / "controller", name="Laptop"))
        conn = await ctl.pair(DeviceTarget.from_discovered(pairable), 0)
        try:
            info = await conn.agent_info()
            assert info.display_name == name
        finally:
            await conn.close()
        paired = await dev.wait_event(lambda e: e.get("event") == "Paired")
        assert paired["fingerprint"] == ctl.identity.fingerprint_text
        await dev.wait_event(window_event(False))

        after = await dev.status()
        assert after["status_led"] == {"pattern": "paired", "lit": True, "pin": 1}
        assert after["pairing_window"]["open"] is False and after["paired"] == 1
        await advertised(browser, fp, cm=False)

        assert await dev.stop() == 0
    assert not sim_socket_path(dev.state_dir).exists()


async def test_a_hold_past_hold_s_is_a_factory_reset(tmp_path: Path) -> None:
    board = tmp_path / "fast-reset.toml"
    text = SIM_TOML.read_text()
    assert "hold_s = 10.0" in text
    board.write_text(text.replace("hold_s = 10.0", "hold_s = 0.5"))
    async with run_device(tmp_path, "--board", board, "--no-advertise") as dev:
        await dev.wait_ready()
        await press(dev.state_dir)  # a short press still just opens the window
        await dev.wait_event(window_event(True))
        assert (await dev.status())["paired"] == 0

        ctl = Controller(ControllerConfig(state_dir=tmp_path / "controller", name="Laptop"))
        conn = await ctl.pair(DeviceTarget.from_ready_file(dev.ready), 0)
        # the device commits when the controller's own auth-status arrives, just after pair() returns
        await dev.wait_event(lambda e: e.get("event") == "Paired")
        # the device writes its trust store on a background thread, a moment after the event
        await trusted_soon(dev.state_dir, [ctl.identity.fingerprint_text])
        assert (await dev.status())["status_led"]["pattern"] == "paired"

        assert await press(dev.state_dir, "--hold", "0.8") == {"pressed": "pairing_button", "hold_s": 0.8}

        closed = await asyncio.wait_for(conn.agent.wait_closed(), 5)
        assert isinstance(closed, ConnectionClosed) and closed.code == 401
        await trusted_soon(dev.state_dir, [])
        status = await dev.status()
        assert status["paired"] == 0
        assert status["pairing_window"]["open"] is True and status["pairing_window"]["reason"] == "button"
        assert status["status_led"]["pattern"] == "window-open"
        assert await dev.stop() == 0
