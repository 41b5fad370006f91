"""Game controller example, device side: buttons and a joystick as a 500 Hz input channel.

The simulated stick circles once a second and button ``a`` toggles every 250 ms. Each state is
published on the ``gamepad`` input channel; the newest state wins (over QUIC datagrams when both
sides can), so a slow link drops stale states instead of queueing them.

    .venv/bin/python examples/game_controller/device.py --state-dir /tmp/pad --ready-file /tmp/pad/ready.json \\
        --loopback --setup-code 20202021 --duration 60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import signal
import time
from pathlib import Path
from typing import Any

from device_sdk.device import Device, DeviceConfig, DeviceEvent, Paired, PairingWindowChanged
from device_sdk.device.sticker import format_manual_code

RATE_HZ = 500


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--state-dir", type=Path, required=True, help="identity, setup code and trust store")
    p.add_argument("--ready-file", type=Path, help="write the port and fingerprint here once serving")
    p.add_argument("--name", default="Game Pad")
    p.add_argument("--loopback", action="store_true", help="serve on 127.0.0.1 only, without mDNS")
    p.add_argument("--setup-code", type=int, help="use this passcode instead of the factory one")
    p.add_argument("--rate", type=float, default=RATE_HZ, help="states per second")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    return p.parse_args(argv)


def stick_state(t: float) -> dict[str, Any]:
    """The simulated pad at ``t`` seconds: the stick circles once a second, ``a`` toggles at 2 Hz."""
    angle = 2 * math.pi * t
    return {
        "x": round(math.cos(angle), 4),
        "y": round(math.sin(angle), 4),
        "a": int(t * 4) % 2 == 1,
        "b": False,
        "start": False,
    }


async def run_pad(device: Device, rate: float) -> None:
    """Publish the pad's state ``rate`` times a second, paced by deadlines (a late state is skipped)."""
    pad = device.input("gamepad", type="map", rate_hz=rate)
    period = 1.0 / rate
    start = time.monotonic()
    n = 0
    while True:
        now = time.monotonic()
        pad.publish(stick_state(now - start))
        n = max(n + 1, int((now - start) / period))  # behind schedule: skip to now
        delay = start + n * period - time.monotonic()
        await asyncio.sleep(max(0.0, delay))


def on_event(event: DeviceEvent) -> None:
    if isinstance(event, PairingWindowChanged):
        print(f"pairing window {'open' if event.open else 'closed'} ({event.reason})", flush=True)
    elif isinstance(event, Paired):
        print(f"paired with {event.name!r} as {event.role}", flush=True)


async def main(args: argparse.Namespace) -> None:
    device = Device(
        DeviceConfig(
            state_dir=args.state_dir,
            name=args.name,
            model="device_sdk game pad",
            advertise=not args.loopback,
            host="127.0.0.1" if args.loopback else "::",
            interfaces=("127.0.0.1",) if args.loopback else None,
            setup_code=args.setup_code,
            ready_file=args.ready_file,
        )
    )
    device.subscribe(on_event)
    print(f"manual code: {format_manual_code(device.factory.manual_code)}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    pad = asyncio.create_task(run_pad(device, args.rate))
    await device.start()
    try:
        print(f"serving on UDP port {device.port}", flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.duration)
    finally:
        pad.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pad
        await device.stop()
        print("stopped", flush=True)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
