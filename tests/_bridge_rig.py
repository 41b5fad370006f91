"""A broker, a paired simulated device and a `device-sdk bridge mqtt` process, for the bridge's tests."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from device_sdk.bridge import Topics, device_id
from device_sdk.identity import fingerprint_from_text
from tests._cli_helpers import DeviceProcess, Result, cli, unique_name
from tests._mosquitto import Mosquitto

__all__ = ["CLIENT_ID", "PASSCODE", "BridgeProcess", "Rig", "T", "make_rig"]

PASSCODE = "20202021"
CLIENT_ID = "test-bridge"
T = Topics(bridge_id=CLIENT_ID)


@dataclass
class BridgeProcess:
    """``device-sdk -vv bridge mqtt`` with its log in a file."""

    broker: Mosquitto
    state_dir: Path
    log_path: Path
    extra: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    argv_broker: tuple[str, ...] = ()
    """Replaces ``--broker <the broker's plain URL>`` (and the client id, if it names one)."""

    def start(self) -> None:
        broker = self.argv_broker or ("--broker", self.broker.url)
        argv = [sys.executable, "-m", "device_sdk", "-vv", "bridge", "mqtt", *broker]
        if "--client-id" not in broker:
            argv += ["--client-id", CLIENT_ID]
        argv += ["--state-dir", str(self.state_dir), "--interface", "lo", *self.extra]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        proc, self.proc = self.proc, None
        assert proc is not None
        proc.send_signal(sig)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"the bridge did not exit within {timeout} s of signal {sig}") from None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_log(self, text: str, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while text not in self.log():
                assert self.proc is None or self.proc.poll() is None, f"the bridge exited:\n{self.log()}"
                await asyncio.sleep(0.1)


@dataclass
class Rig:
    """A broker, a paired simulated device and a bridge (not started)."""

    tmp: Path
    broker: Mosquitto
    device: DeviceProcess
    ctl_dir: Path
    dev: str
    bridge: BridgeProcess

    def ctl(self, *args: str) -> Result:
        return cli(*args, "--state-dir", str(self.ctl_dir), "--interface", "lo", "--json")

    def sim_outputs(self) -> dict[str, object]:
        status = cli("sim", "status", "--state-dir", str(self.device.state_dir), "--json").json()
        outputs: dict[str, object] = status["outputs"]
        return outputs


@contextlib.asynccontextmanager
async def make_rig(tmp_path: Path, name: str = "Bridged") -> AsyncIterator[Rig]:
    """Start the broker and the device, pair the device; the bridge is the caller's to start."""
    broker = Mosquitto(tmp_path / "broker")
    device = DeviceProcess(
        name=unique_name(name),
        state_dir=tmp_path / "device",
        ready_file=tmp_path / "ready.json",
        extra=("--setup-code", PASSCODE),
    )
    ctl_dir = tmp_path / "ctl"
    bridge = BridgeProcess(broker, ctl_dir, tmp_path / "bridge.log")
    try:
        await asyncio.to_thread(broker.start)
        ready = await asyncio.to_thread(device.start, "--open-window")
        paired = await asyncio.to_thread(
            cli, "pair", device.name, PASSCODE, "--state-dir", str(ctl_dir), "--interface", "lo", "--json"
        )
        assert paired.json()["name"] == device.name
        dev = device_id(fingerprint_from_text(ready["fp"]))
        yield Rig(tmp_path, broker, device, ctl_dir, dev, bridge)
    finally:
        bridge.kill()
        device.kill()
        broker.stop()
