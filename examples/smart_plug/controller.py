"""Smart plug example, controller side: pair with the manual code, switch the relay, read the power.

    .venv/bin/python examples/smart_plug/controller.py --state-dir /tmp/laptop \\
        --ready-file /tmp/plug/ready.json --code 3497-011-2332

Without ``--ready-file`` the plug is found over mDNS by its setup code.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from device_sdk.channels.frames import Reading
from device_sdk.controller import Controller, ControllerConfig, DeviceConnection, DeviceTarget
from device_sdk.discovery import DiscoveredDevice
from device_sdk.errors import DeviceSDKError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--state-dir", type=Path, required=True, help="the controller's identity and pins")
    p.add_argument("--ready-file", type=Path, help="the plug's ready file (else: mDNS)")
    p.add_argument("--code", required=True, help="the sticker's manual code or QR text")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each power reading")
    return p.parse_args(argv)


async def wait_for_power(readings: AsyncIterator[Reading], accept: Callable[[float], bool], timeout: float) -> float:
    """The first power reading ``accept`` agrees with."""
    async with asyncio.timeout(timeout):
        async for reading in readings:
            if accept(float(reading.value)):
                return float(reading.value)
    raise RuntimeError("the power readings ended")


async def exercise(conn: DeviceConnection, timeout: float) -> None:
    """Relay on, read the power, relay off, read the power again."""
    power = conn.subscribe("power")
    try:
        watts = await wait_for_power(power, lambda w: True, timeout)
        print(f"power now: {watts:.1f} W", flush=True)
        state = await conn.set("relay", True)
        print(f"relay set: {state}", flush=True)
        watts = await wait_for_power(power, lambda w: w > 1.0, timeout)
        print(f"power with relay on: {watts:.1f} W", flush=True)
        state = await conn.set("relay", False)
        print(f"relay set: {state}", flush=True)
        watts = await wait_for_power(power, lambda w: w < 1.0, timeout)
        print(f"power with relay off: {watts:.1f} W", flush=True)
    finally:
        await power.aclose()


async def main(args: argparse.Namespace) -> int:
    async with Controller(ControllerConfig(state_dir=args.state_dir, name="Plug demo controller")) as ctl:
        target: DeviceTarget | DiscoveredDevice
        if args.ready_file is not None:
            target = DeviceTarget.from_ready_file(args.ready_file)
        else:
            target = await ctl.find_for_code(args.code)
        conn = await ctl.pair(target, args.code)
        print(f"paired with {conn.name}", flush=True)
        try:
            await exercise(conn, args.timeout)
        finally:
            await conn.close()
    print("done", flush=True)
    return 0


def run(argv: list[str] | None = None) -> int:
    """The script's entry point: 0 on success, 2 with a one-line error."""
    try:
        return asyncio.run(main(parse_args(argv)))
    except (DeviceSDKError, TimeoutError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(run())
