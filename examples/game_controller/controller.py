"""Game controller example, controller side: receive the pad's states and measure their latency.

    .venv/bin/python examples/game_controller/controller.py --state-dir /tmp/console \\
        --ready-file /tmp/pad/ready.json --code 20202021 --frames 2000

Latency is ``now - reading.t``: meaningful when both sides share a clock (the same machine, or NTP).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from device_sdk.controller import Controller, ControllerConfig, DeviceConnection, DeviceTarget
from device_sdk.discovery import DiscoveredDevice
from device_sdk.errors import DeviceSDKError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--state-dir", type=Path, required=True, help="the controller's identity and pins")
    p.add_argument("--ready-file", type=Path, help="the pad's ready file (else: mDNS)")
    p.add_argument("--code", required=True, help="the setup code (manual code, QR text or passcode)")
    p.add_argument("--frames", type=int, default=2000, help="states to receive before the report")
    p.add_argument("--timeout", type=float, default=30.0, help="give up after this many seconds")
    return p.parse_args(argv)


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of sorted values, nearest rank."""
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))
    return sorted_values[index]


async def measure(conn: DeviceConnection, frames: int) -> tuple[list[float], int, float]:
    """Latencies (seconds) of ``frames`` states, the sequence numbers skipped, and the elapsed time."""
    latencies: list[float] = []
    first_seq: int | None = None
    last_seq = 0
    start = time.monotonic()
    async for reading in conn.input("gamepad"):
        latencies.append(time.time() - reading.t)
        if first_seq is None:
            first_seq = reading.seq
            print(f"first state: {reading.value}", flush=True)
        last_seq = reading.seq
        if len(latencies) >= frames:
            break
    elapsed = time.monotonic() - start
    skipped = (last_seq - (first_seq or 0) + 1) - len(latencies)
    return latencies, skipped, elapsed


async def main(args: argparse.Namespace) -> int:
    async with Controller(ControllerConfig(state_dir=args.state_dir, name="Console")) as ctl:
        target: DeviceTarget | DiscoveredDevice
        if args.ready_file is not None:
            target = DeviceTarget.from_ready_file(args.ready_file)
        else:
            target = await ctl.find_for_code(args.code)
        conn = await ctl.pair(target, args.code)
        print(f"paired with {conn.name}", flush=True)
        try:
            async with asyncio.timeout(args.timeout):
                latencies, skipped, elapsed = await measure(conn, args.frames)
        finally:
            await conn.close()
    ms = sorted(x * 1000 for x in latencies)
    print(
        f"frames {len(ms)} in {elapsed:.2f} s ({len(ms) / elapsed:.0f}/s), skipped {skipped}; latency "
        f"p50 {percentile(ms, 0.5):.2f} ms p99 {percentile(ms, 0.99):.2f} ms "
        f"max {ms[-1]:.2f} ms mean {statistics.fmean(ms):.2f} ms",
        flush=True,
    )
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
