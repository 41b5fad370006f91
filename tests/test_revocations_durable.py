"""Revocations are on disk before they are acknowledged: a device process killed with SIGKILL right
after it answered "leave" or "remove-peer", or right after a factory reset closed the connections, has
already written its trust store; so has a controller killed right after it unpaired (issue 13 item 5)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from device_sdk.controller import Controller, ControllerConfig, DeviceTarget
from device_sdk.pairing.trust import ControllerPinStore, DeviceTrustStore

pytestmark = pytest.mark.timeout(90)

CODE = "20202021"
SIM_TOML = Path(__file__).resolve().parents[1] / "device_sdk" / "hardware" / "board_profiles" / "sim.toml"


class DeviceRun:
    """``device-sdk run`` in a child process that the test kills with SIGKILL."""

    def __init__(self, tmp_path: Path) -> None:
        self.state_dir = tmp_path / "device"
        self.ready = tmp_path / "ready.json"
        self.board = tmp_path / "fast-reset.toml"
        text = SIM_TOML.read_text()
        assert "hold_s = 10.0" in text
        self.board.write_text(text.replace("hold_s = 10.0", "hold_s = 0.5"))
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> DeviceTarget:
        self.ready.unlink(missing_ok=True)
        self.proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "device_sdk", "run", "--board", str(self.board), "--no-advertise"),
            *("--setup-code", CODE, "--state-dir", str(self.state_dir), "--ready-file", str(self.ready)),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        async with asyncio.timeout(15):
            while not self.ready.exists():
                assert self.proc.returncode is None, "the device exited"
                await asyncio.sleep(0.02)
        return DeviceTarget.from_ready_file(self.ready)

    def target(self) -> DeviceTarget:
        """Where the device is, with its current ``at`` (it rotates when the window opens)."""
        return DeviceTarget.from_ready_file(self.ready)

    async def kill(self) -> None:
        """SIGKILL: nothing the process has not written yet survives."""
        assert self.proc is not None
        self.proc.kill()
        await self.proc.wait()

    def trusted(self) -> list[str]:
        """The names in the trust store on disk."""
        return [entry.name for entry in DeviceTrustStore(self.state_dir / "trust.json").list()]


@pytest.fixture
async def device(tmp_path: Path) -> AsyncIterator[DeviceRun]:
    run = DeviceRun(tmp_path)
    yield run
    if run.proc is not None and run.proc.returncode is None:
        run.proc.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(run.proc.wait(), 5)


async def on_disk(device: DeviceRun, names: list[str]) -> None:
    """Wait until the trust store on disk lists ``names`` (pairings are written in the background)."""
    async with asyncio.timeout(5):
        while sorted(device.trusted()) != sorted(names):
            await asyncio.sleep(0.02)


async def test_leave_remove_peer_and_factory_reset_survive_sigkill(tmp_path: Path, device: DeviceRun) -> None:
    ctls = {
        name: Controller(ControllerConfig(state_dir=tmp_path / name, name=name)) for name in ("Admin", "User", "Other")
    }
    where = await device.start()
    admin = await ctls["Admin"].pair(where, CODE)
    await admin.open_pairing_window(300)
    user = await ctls["User"].pair(device.target(), CODE)
    await admin.open_pairing_window(300)
    await (await ctls["Other"].pair(device.target(), CODE)).close()
    await on_disk(device, ["Admin", "User", "Other"])

    await user.leave()  # a user removes itself; the answer means: on disk
    await device.kill()
    assert sorted(device.trusted()) == ["Admin", "Other"]

    where = await device.start()
    admin = await ctls["Admin"].connect(where)
    await admin.remove_peer(ctls["Other"].identity.fingerprint_text)
    await device.kill()
    assert device.trusted() == ["Admin"]

    where = await device.start()
    admin = await ctls["Admin"].connect(where)
    press = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "device_sdk", "sim", "press", "--state-dir", str(device.state_dir)),
        *("--hold", "0.8", "--json"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    closed = await asyncio.wait_for(admin.agent.wait_closed(), 10)  # the reset is reported: 401
    assert closed.code == 401
    await device.kill()
    assert device.trusted() == []
    await asyncio.wait_for(press.wait(), 10)


UNPAIR_AND_WAIT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from device_sdk.controller import ControllerConfig
    from device_sdk.controller import Controller, DeviceTarget

    async def main():
        ctl = Controller(ControllerConfig(state_dir=Path(sys.argv[1]), name="Laptop"))
        await ctl.unpair(DeviceTarget.from_ready_file(Path(sys.argv[2])), local_only=True)
        print("unpaired", flush=True)
        await asyncio.sleep(60)  # killed before anything else runs

    asyncio.run(main())
    """
)


async def test_a_controller_killed_right_after_unpairing_has_forgotten_the_device(
    tmp_path: Path, device: DeviceRun
) -> None:
    ctl = Controller(ControllerConfig(state_dir=tmp_path / "laptop", name="Laptop"))
    await (await ctl.pair(await device.start(), CODE)).close()
    await ctl.close()  # the pin is on disk
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        UNPAIR_AND_WAIT,
        str(tmp_path / "laptop"),
        str(device.ready),
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        assert await asyncio.wait_for(proc.stdout.readline(), 20) == b"unpaired\n"
    finally:
        proc.kill()
        await proc.wait()
    assert ControllerPinStore(tmp_path / "laptop" / "devices.json").list() == []
