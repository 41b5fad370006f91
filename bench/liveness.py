"""Liveness benchmark on loopback (issue 16 item 5): how long until a controller notices a vanished device?

A device runs in a child process (``_channels_peer.py device``, as in bench/channels.py); a paired
controller in this process connects to it (the device's name known from its agent-info). Then the
device process is killed with SIGKILL (no close, no goodbye, as in a power cut) and the time from the
kill to the end of the controller's connection is measured; the connection must end with
ConnectionLost ("lost contact with ..."). Repeated --kills times (a new device process each time, same
state directory, so the controller stays paired), for the default ``liveness_timeout`` and for 2 s
(what a baby monitor may want), in two situations:

* watching: the controller is subscribed to a sensor the device publishes at 20 Hz (a monitor), killed
  after a second of readings. The device was last heard just before the kill: the time to notice is
  the timeout.
* idle: nothing flows; the kill comes 0.5 s after the last exchange. The controller gives up once it
  has heard nothing for the timeout, so it notices 0.5 s sooner (an idle peer is probed after half the
  timeout of silence, so it notices between half the timeout and the timeout after a kill).

Goal: the median at most the timeout, give or take SLACK (0.1 s) for the event loop's timers: the
controller gives up when it has heard nothing for exactly the timeout, and a device streaming at 20 Hz
was last heard up to 50 ms before it was killed.

Usage: .venv/bin/python bench/liveness.py [--quick] [--kills N]   (~2 min; --quick ~15 s)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _channels_parts import Peer
from _util import print_table, verdict

from device_sdk.controller import Controller, ControllerConfig, DeviceTarget
from device_sdk.errors import ConnectionLost
from device_sdk.transport import TransportConfig

HOST = "127.0.0.1"
SETUP_CODE = 20202021
DEFAULT_TIMEOUT: float = TransportConfig().liveness_timeout or 5.0
WATCH_HZ = 20
SLACK = 0.1


async def notice_once(base: Path, ctl: Controller, *, pair: bool, watching: bool) -> tuple[float, str]:
    """Start the device, connect (pairing the first time), watch a sensor or idle a little, SIGKILL the
    device; the seconds until the connection ended, and how it ended."""
    device = await Peer.start("device", base)
    publishing: asyncio.Task[Any] | None = None
    try:
        target = DeviceTarget.from_ready_file(Path(device.ready), HOST)
        conn = await (ctl.pair(target, SETUP_CODE) if pair else ctl.connect(target))
        await conn.agent.agent_info()  # the device's name, for the error message
        if watching:
            readings = conn.subscribe("level")
            await anext(readings)  # the current value: the channel is open
            publishing = asyncio.ensure_future(device.command(cmd="paced", seconds=60, rate=WATCH_HZ))
            for _ in range(WATCH_HZ):
                await anext(readings)
        else:
            await asyncio.sleep(0.5)
        killed = time.perf_counter()
        device.proc.kill()
        async with asyncio.timeout(60):
            error = await conn.agent.wait_closed()
        noticed = time.perf_counter() - killed
        await conn.close()
    finally:
        if publishing is not None:
            publishing.cancel()
        if device.proc.returncode is None:
            device.proc.kill()
        await device.proc.wait()
    kind = "ConnectionLost" if isinstance(error, ConnectionLost) else type(error).__name__
    return noticed, f"{kind}: {error}"


async def series(base: Path, timeout: float, kills: int, *, watching: bool) -> tuple[list[float], str]:
    """A device (its own state) and a controller with ``liveness_timeout=timeout``, ``kills`` times."""
    base = base / f"timeout-{timeout:g}-{'watching' if watching else 'idle'}"
    transport = TransportConfig(liveness_timeout=timeout)
    config = ControllerConfig(state_dir=base / "controller", transport=transport)
    ctl = Controller(config)
    times: list[float] = []
    message = ""
    for i in range(kills):
        noticed, message = await notice_once(base, ctl, pair=i == 0, watching=watching)
        if not message.startswith("ConnectionLost"):
            raise RuntimeError(f"the connection did not end with ConnectionLost: {message}")
        times.append(noticed)
    return times, message


async def run(kills: int) -> None:
    print(f"{os.cpu_count()} CPUs, 1-minute load average before the run {os.getloadavg()[0]:.2f}\n")
    rows: list[list[object]] = []
    goals: list[list[object]] = []
    last_message = ""
    with tempfile.TemporaryDirectory(prefix="bench-liveness-") as tmp:
        base = Path(tmp)
        for watching in (True, False):
            for timeout in (DEFAULT_TIMEOUT, 2.0):
                times, last_message = await series(base, timeout, kills, watching=watching)
                median = statistics.median(times)
                label = f"liveness_timeout {timeout:g} s" + (" (default)" if timeout == DEFAULT_TIMEOUT else "")
                label += f", {'watching a 20 Hz sensor' if watching else 'idle'}"
                rows.append([label, len(times), f"{median:.2f} s", f"{min(times):.2f} s", f"{max(times):.2f} s"])
                goals.append([f"median time to notice, {label}", f"{median:.2f} s", f"<= {timeout:g} s",
                              verdict(median <= timeout + SLACK)])  # fmt: skip
    print_table(("", "kills", "median", "min", "max"), rows, title="time from SIGKILL of the device to the error")
    print(f"the error, as the controller reports it:\n  {last_message}\n")
    print_table(("goal", "measured", "target", ""), goals, title="summary")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 kill per timeout (a smoke test)")
    parser.add_argument("--kills", type=int, default=None, help="kills per timeout (default 10)")
    args = parser.parse_args()
    asyncio.run(run(args.kills or (1 if args.quick else 10)))


if __name__ == "__main__":
    main()
